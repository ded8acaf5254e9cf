/**
 * The EC2 instance types Skiff offers by default, with what the provisioner chooses by: vCPUs
 * (as millicores), memory, the pods a node of the type runs (the ENI limit EKS publishes for the
 * AWS VPC CNI), and the on-demand Linux price in us-east-1. The GPU type is tainted
 * `nvidia.com/gpu=true:NoSchedule`, as GPU node groups usually are, so that only pods that
 * tolerate it get one. Override the list, and the zones, per cluster.
 */
import type { Ec2InstanceType } from './aws-ec2.js';
import type { Taint } from './types.js';

const GiB = 2 ** 30;

/** [name, vCPUs, GiB, pods, $ an hour] */
const TYPES: [string, number, number, number, number][] = [
  ['t3.medium', 2, 4, 17, 0.0416],
  ['t3.large', 2, 8, 35, 0.0832],
  ['t3.xlarge', 4, 16, 58, 0.1664],
  ['c5.large', 2, 4, 29, 0.085],
  ['c5.xlarge', 4, 8, 58, 0.17],
  ['m5.large', 2, 8, 29, 0.096],
  ['m5.xlarge', 4, 16, 58, 0.192],
  ['m5.2xlarge', 8, 32, 58, 0.384],
  ['r5.large', 2, 16, 29, 0.126],
  ['r5.xlarge', 4, 32, 58, 0.252],
  ['g4dn.xlarge', 4, 16, 29, 0.526],
];
const TAINTS: Record<string, Taint[]> = { 'g4dn.xlarge': [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }] };

export function ec2Catalogue(zones: string[]): Ec2InstanceType[] {
  return TYPES.map(([name, vcpus, gib, pods, pricePerHour]) => ({
    name,
    cpu: vcpus * 1000,
    memory: gib * GiB,
    pods,
    zones: [...zones],
    pricePerHour,
    ...(TAINTS[name] ? { taints: TAINTS[name] } : {}),
  }));
}

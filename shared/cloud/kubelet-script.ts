/**
 * The launch script that joins a worker to the cluster, the same on each cloud: the CA and the
 * bootstrap token in files only root reads, then the kubelet, named after the node, serving on
 * the worker's private address, with the providerID its metadata gives. An EC2 instance runs it
 * as user data (identity from the instance metadata service); the kubelet task of an `aws-ecs`
 * node runs it as its command (identity from the task metadata endpoint). The emulators pass the
 * same in the environment. It lists its pods every 10 s rather than hold a watch through the API
 * function, which would keep an invocation billed all the time.
 */
import type { NodeRequest } from './types.js';

export interface KubeletScript {
  /** The command that runs the kubelet on the worker (an installed binary in the cloud). */
  kubelet: string;
  server: string;
  caCert: string;
  bootstrapToken: string;
  node: NodeRequest;
  /** Where the worker learns who it is (default ec2). */
  identity?: 'ec2' | 'ecs';
  /** The pods' address range, where the kubelet chooses pod addresses (not on ECS). */
  podCidr?: string;
  runtime?: 'docker' | 'process' | 'ecs';
  dockerSocket?: string;
  /** What the node offers, where the machine does not say it (an ECS node is no machine). */
  capacity?: { cpu: number; memory: number; pods: number };
  /** The most pods the node runs (an EC2 type's ENI limit), where `capacity` is not given. */
  maxPods?: number;
  /** List the node's pods this often instead of watching them through the API (default 10 s; 0: watch). */
  podPollSeconds?: number;
  /** Environment for the kubelet (the ecs runtime's subnets, say). */
  env?: Record<string, string>;
}

/* biome-ignore-start lint/suspicious/noTemplateCurlyInString: shell parameter expansions, not templates */
const IDENTITY = {
  ec2: [
    'id=${EC2_INSTANCE_ID:-$(curl -s http://169.254.169.254/latest/meta-data/instance-id)}',
    'zone=${EC2_AVAILABILITY_ZONE:-$(curl -s http://169.254.169.254/latest/meta-data/placement/availability-zone)}',
    'address=${EC2_PRIVATE_IP:-$(curl -s http://169.254.169.254/latest/meta-data/local-ipv4)}',
  ],
  ecs: [
    String.raw`meta() { wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task" | tr ',' '\n' | sed -n "s/.*\"$1\": *\[\{0,1\}\"\([^\"]*\)\".*/\1/p" | head -n 1; }`,
    'id=${ECS_TASK_ID:-$(meta TaskARN | sed "s#.*/##")}',
    'zone=${ECS_AVAILABILITY_ZONE:-$(meta AvailabilityZone)}',
    'address=${ECS_PRIVATE_IP:-$(meta IPv4Addresses)}',
  ],
};
/* biome-ignore-end lint/suspicious/noTemplateCurlyInString: shell parameter expansions, not templates */

export function kubeletUserData(s: KubeletScript): string {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const labels = Object.entries(s.node.labels ?? {}).map(([k, v]) => `--label ${quote(`${k}=${v}`)}`);
  const identity = s.identity ?? 'ec2';
  return [
    '#!/bin/sh',
    'set -e',
    'umask 077',
    'dir=$(mktemp -d)',
    ...IDENTITY[identity],
    `cat > "$dir/ca.crt" <<'SKIFF_CA'`,
    s.caCert.trim(),
    'SKIFF_CA',
    `printf '%s' ${quote(s.bootstrapToken)} > "$dir/bootstrap"`,
    ...Object.entries(s.env ?? {}).map(([k, v]) => `export ${k}=${quote(v)}`),
    [
      `exec ${s.kubelet}`,
      `--name ${quote(s.node.name)}`,
      `--server ${quote(s.server)}`,
      '--ca-file "$dir/ca.crt"',
      '--bootstrap-token-file "$dir/bootstrap"',
      '--token-file "$dir/token"',
      '--data-dir "$dir/data"',
      `--runtime ${s.runtime ?? 'docker'}`,
      ...(s.dockerSocket ? [`--docker-socket ${quote(s.dockerSocket)}`] : []),
      ...(s.podCidr ? [`--pod-cidr ${quote(s.podCidr)}`] : []),
      ...(s.capacity ? [`--cpu ${s.capacity.cpu}`, `--memory ${s.capacity.memory}`, `--pods ${s.capacity.pods}`] : []),
      ...(!s.capacity && s.maxPods ? [`--pods ${s.maxPods}`] : []),
      `--provider-id "aws-${identity}://$zone/$id"`,
      '--address "$address"',
      ...((s.podPollSeconds ?? 10) > 0 ? [`--pod-poll-seconds ${s.podPollSeconds ?? 10}`] : []),
      `--label ${quote(`node.kubernetes.io/instance-type=${s.node.instanceType}`)}`,
      `--label ${quote(`topology.kubernetes.io/zone=${s.node.zone}`)}`,
      ...labels,
    ].join(' \\\n  '),
    '',
  ].join('\n');
}

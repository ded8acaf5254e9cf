/**
 * The network: a VPC with private subnets for the API function and the workers, NAT through a
 * small EC2 instance (workers pull images and reach the API's public endpoint), a gateway
 * endpoint so the API's DynamoDB traffic stays off the NAT, and two security groups: the API
 * reaches kubelets on their port, and nothing else reaches them.
 */
import { settings } from './settings';

export function network() {
  const vpc = new sst.aws.Vpc('Vpc', { az: 2, nat: 'ec2' });
  const region = aws.getRegionOutput().name;
  new aws.ec2.VpcEndpoint('DynamoEndpoint', {
    vpcId: vpc.id,
    serviceName: $interpolate`com.amazonaws.${region}.dynamodb`,
    vpcEndpointType: 'Gateway',
    routeTableIds: vpc.nodes.privateRouteTables.apply((tables) => tables.map((t) => t.id)),
  });
  const apiGroup = new aws.ec2.SecurityGroup('ApiSecurityGroup', {
    vpcId: vpc.id,
    description: 'Skiff API function: egress only',
    egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
  });
  const workerGroup = new aws.ec2.SecurityGroup('WorkerSecurityGroup', {
    vpcId: vpc.id,
    description: 'Skiff workers: the kubelet port from the API function only',
    ingress: [{ protocol: 'tcp', fromPort: settings.kubeletPort, toPort: settings.kubeletPort, securityGroups: [apiGroup.id] }],
    egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
  });
  return { vpc, apiGroup, workerGroup };
}

export type Network = ReturnType<typeof network>;

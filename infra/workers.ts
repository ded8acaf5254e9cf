/**
 * What the cloud adapters place pods on: an ECS cluster and the EC2 launch template of its
 * workers (the ECS-optimized AMI, IMDSv2 only, an encrypted root volume, in the private
 * subnets behind the worker security group). The adapters and the node provisioner come with
 * the cloud workers; this is the ground they stand on.
 */
import type { Network } from './network';
import { settings } from './settings';

export function workers(net: Network) {
  const cluster = new aws.ecs.Cluster('Workers', { settings: [{ name: 'containerInsights', value: 'enabled' }] });
  const role = new aws.iam.Role('WorkerRole', {
    assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: 'ec2.amazonaws.com' }),
    managedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role', 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'],
  });
  const profile = new aws.iam.InstanceProfile('WorkerProfile', { role: role.name });
  const ami = aws.ssm.getParameterOutput({ name: settings.workerAmiParameter }).value;
  const userData = $interpolate`#!/bin/bash
echo ECS_CLUSTER=${cluster.name} >> /etc/ecs/ecs.config
`.apply((script) => Buffer.from(script).toString('base64'));
  const launchTemplate = new aws.ec2.LaunchTemplate('WorkerTemplate', {
    imageId: ami,
    instanceType: settings.workerInstanceType,
    iamInstanceProfile: { arn: profile.arn },
    vpcSecurityGroupIds: [net.workerGroup.id],
    metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 2 },
    blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 30, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' } }],
    userData,
    tagSpecifications: [{ resourceType: 'instance', tags: { 'skiff:role': 'worker' } }],
  });
  return { cluster, launchTemplate, role, subnets: net.vpc.privateSubnets };
}

export type Workers = ReturnType<typeof workers>;

/**
 * What the cloud adapters place pods on: an ECS cluster and the EC2 launch template of its
 * workers (the ECS-optimized AMI, IMDSv2 only with the instance's tags readable, where a node
 * learns its name, an encrypted root volume, in the private
 * subnets behind the worker security group), and for nodes on Fargate the roles and log group of
 * their tasks.
 */
import type { Network } from './network';
import { ecsActionsOnAnyResource, ecsExecAgentActions, settings } from './settings';

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
    metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 2, instanceMetadataTags: 'enabled' },
    blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 30, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' } }],
    userData,
    tagSpecifications: [{ resourceType: 'instance', tags: { 'skiff:role': 'worker' } }],
  });
  return { cluster, launchTemplate, role, subnets: net.vpc.privateSubnets, ...fargate(cluster) };
}

/**
 * What aws-ecs nodes need: the tasks' log group, the execution role ECS pulls images and writes
 * logs with, the kubelet task's role, which runs and stops its pods' tasks in this cluster,
 * registers their definitions (and passes them the execution and pod roles) and opens ECS Exec
 * sessions into them, nothing more; and the pods' tasks' role, which lets ECS Exec's agent in a
 * pod open its Session Manager channels and nothing else.
 */
function fargate(cluster: aws.ecs.Cluster) {
  const logGroup = new aws.cloudwatch.LogGroup('WorkerLogs', { name: `/skiff/${$app.name}-${$app.stage}`, retentionInDays: settings.workerLogRetentionDays });
  const tasks = aws.iam.assumeRolePolicyForPrincipal({ Service: 'ecs-tasks.amazonaws.com' });
  const executionRole = new aws.iam.Role('TaskExecutionRole', {
    assumeRolePolicy: tasks,
    managedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy'],
  });
  const taskArns = $interpolate`arn:aws:ecs:*:*:task/${cluster.name}/*`;
  const podRole = new aws.iam.Role('PodTaskRole', {
    assumeRolePolicy: tasks,
    inlinePolicies: [
      {
        name: 'ecs-exec',
        policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ecsExecAgentActions, Resource: '*' }],
        }),
      },
    ],
  });
  const kubeletRole = new aws.iam.Role('KubeletTaskRole', {
    assumeRolePolicy: tasks,
    inlinePolicies: [
      {
        name: 'pods-as-tasks',
        policy: $util.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['ecs:RunTask'], Resource: '*', Condition: { ArnEquals: { 'ecs:cluster': cluster.arn } } },
            { Effect: 'Allow', Action: ['ecs:StopTask', 'ecs:DescribeTasks', 'ecs:TagResource'], Resource: [taskArns] },
            { Effect: 'Allow', Action: ['ecs:ListTasks'], Resource: '*', Condition: { ArnEquals: { 'ecs:cluster': cluster.arn } } },
            { Effect: 'Allow', Action: ecsActionsOnAnyResource, Resource: '*' },
            { Effect: 'Allow', Action: ['ecs:ExecuteCommand'], Resource: [cluster.arn, taskArns] },
            { Effect: 'Allow', Action: ['iam:PassRole'], Resource: [executionRole.arn, podRole.arn] },
            { Effect: 'Allow', Action: ['logs:GetLogEvents', 'logs:CreateLogGroup'], Resource: [$interpolate`${logGroup.arn}:*`] },
          ],
        }),
      },
    ],
  });
  return { logGroup, executionRole, kubeletRole, podRole };
}

export type Workers = ReturnType<typeof workers>;

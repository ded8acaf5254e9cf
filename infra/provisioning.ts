/**
 * What the controller functions need to provision workers (functions/provisioning.ts): where to
 * launch (the private subnets and their zones, the workers' launch template), what the launch
 * script runs, and the rights to launch and stop this cluster's instances and nothing else:
 * CreateFleet (and the RunInstances it makes) only with the cluster's tag, TerminateInstances and
 * the node's name tag only on instances that carry it, other tags only as part of a launch, a
 * launch version of the workers' template alone (the launch script of a fleet call), the worker
 * role passed to the instances, and DescribeInstances (which takes no resource). For nodes on Fargate (`settings.workerProvider`): the ECS cluster,
 * the kubelet's image and the roles its tasks take, and the rights to run, describe and stop
 * tasks in this cluster only, register their definitions, and pass those two roles. Both
 * providers are configured, so a Migration can move the nodes from one to the other.
 */
import type { Network } from './network';
import { ecsActionsOnAnyResource, settings } from './settings';
import type { Workers } from './workers';

export function provisioning(net: Network, pool: Workers, apiUrl: $util.Input<string>) {
  const cluster = `${$app.name}-${$app.stage}`;
  const partition = aws.getPartitionOutput().partition;
  const arn = (kind: string) => $interpolate`arn:${partition}:ec2:*:*:${kind}/*`;
  const subnets = net.vpc.nodes.privateSubnets.apply((list) =>
    $util.all(list.map((s) => $util.all([s.availabilityZone, s.id]).apply(([zone, id]) => `${zone}=${id}`))).apply((pairs) => pairs.join(',')),
  );
  const zones = net.vpc.nodes.privateSubnets.apply((list) => $util.all(list.map((s) => s.availabilityZone)).apply((z) => z.join(',')));
  const tasks = $interpolate`arn:${partition}:ecs:*:*:task/${pool.cluster.name}/*`;
  const inCluster = [{ test: 'ArnEquals', variable: 'ecs:cluster', values: [pool.cluster.arn] }];
  return {
    environment: {
      SKIFF_PROVIDER: settings.workerProvider,
      SKIFF_PROVIDERS: 'aws-ec2,aws-ecs',
      SKIFF_ECS_CLUSTER: pool.cluster.name,
      SKIFF_ECS_SUBNETS: subnets,
      SKIFF_ECS_SECURITY_GROUPS: net.workerGroup.id,
      SKIFF_ECS_KUBELET_IMAGE: settings.kubeletImage,
      SKIFF_ECS_EXECUTION_ROLE: pool.executionRole.arn,
      SKIFF_ECS_KUBELET_ROLE: pool.kubeletRole.arn,
      SKIFF_ECS_POD_ROLE: pool.podRole.arn,
      SKIFF_ECS_LOG_GROUP: pool.logGroup.name,
      SKIFF_API_URL: apiUrl,
      SKIFF_CLUSTER: cluster,
      SKIFF_EC2_ZONES: zones,
      SKIFF_EC2_SUBNETS: subnets,
      SKIFF_LAUNCH_TEMPLATE_ID: pool.launchTemplate.id,
    },
    grants: [
      {
        actions: ['ec2:CreateFleet', 'ec2:RunInstances'],
        resources: [arn('instance'), arn('volume'), arn('network-interface'), arn('fleet')],
        conditions: [{ test: 'StringEquals', variable: 'aws:RequestTag/skiff:cluster', values: [cluster] }],
      },
      {
        actions: ['ec2:CreateFleet', 'ec2:RunInstances'],
        resources: [arn('subnet'), arn('security-group'), arn('launch-template'), $interpolate`arn:${partition}:ec2:*::image/*`],
      },
      {
        actions: ['ec2:CreateTags'],
        resources: [arn('instance'), arn('volume'), arn('network-interface'), arn('fleet')],
        conditions: [{ test: 'StringEquals', variable: 'ec2:CreateAction', values: ['CreateFleet', 'RunInstances'] }],
      },
      {
        actions: ['ec2:TerminateInstances', 'ec2:CreateTags'],
        resources: [arn('instance')],
        conditions: [{ test: 'StringEquals', variable: 'ec2:ResourceTag/skiff:cluster', values: [cluster] }],
      },
      { actions: ['ec2:CreateLaunchTemplateVersion', 'ec2:DeleteLaunchTemplateVersions'], resources: [pool.launchTemplate.arn] },
      { actions: ['ec2:DescribeInstances'], resources: ['*'] },
      { actions: ['iam:PassRole'], resources: [pool.role.arn, pool.executionRole.arn, pool.kubeletRole.arn] },
      { actions: ['ecs:RunTask'], resources: [$interpolate`arn:${partition}:ecs:*:*:task-definition/*`], conditions: inCluster },
      { actions: ['ecs:StopTask', 'ecs:DescribeTasks', 'ecs:TagResource'], resources: [tasks] },
      { actions: ['ecs:ListTasks'], resources: ['*'], conditions: inCluster },
      { actions: ecsActionsOnAnyResource, resources: ['*'] },
    ],
  };
}

/**
 * The stream relay (functions/api/relay.ts): the API as one long-lived server, a Fargate task
 * in the private subnets, for what a function cannot hold: exec, attach and port-forward (the
 * front sends them here), and the `kubernetes` Service pods call (TLS with a certificate the
 * cluster CA signs). Its code is its one-file build in a private bucket: the task's first
 * container (the AWS CLI image) copies it to a task volume and the second (Node.js) runs it, so
 * no image is built or published. An internal ALB takes the front's VPC origin to its plain port;
 * pods reach its TLS port directly. It reaches kubelets as the API function does (its security
 * group), and the table and the key with the same rights.
 */
import type { Network } from './network';
import { type Identity, identityEnvironment, settings, tableActions } from './settings';
import type { Storage } from './storage';
import type { Workers } from './workers';

export function relay(net: Network, state: Storage, pool: Workers, identity: Identity = {}) {
  const bucket = new aws.s3.BucketV2('RelayCode', { forceDestroy: true });
  new aws.s3.BucketPublicAccessBlock('RelayCodePrivate', {
    bucket: bucket.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  const code = new aws.s3.BucketObjectv2('RelayBundle', { bucket: bucket.id, key: 'skiff-relay.mjs', source: new $util.asset.FileAsset(settings.relayBundle) });
  const vpcCidr = net.vpc.nodes.vpc.cidrBlock;
  const balancerGroup = new aws.ec2.SecurityGroup('RelayBalancerSecurityGroup', {
    vpcId: net.vpc.id,
    description: 'Skiff relay balancer: HTTP from the front (CloudFront VPC origin) inside the VPC',
    ingress: [{ protocol: 'tcp', fromPort: 80, toPort: 80, cidrBlocks: [vpcCidr] }],
    egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
  });
  const taskGroup = new aws.ec2.SecurityGroup('RelaySecurityGroup', {
    vpcId: net.vpc.id,
    description: 'Skiff relay: its plain port from its balancer, its TLS port from the VPC (pods)',
    ingress: [
      { protocol: 'tcp', fromPort: settings.relayHttpPort, toPort: settings.relayHttpPort, securityGroups: [balancerGroup.id] },
      { protocol: 'tcp', fromPort: settings.relayPort, toPort: settings.relayPort, cidrBlocks: [vpcCidr] },
    ],
    egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
  });
  const taskRole = new aws.iam.Role('RelayTaskRole', {
    assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: 'ecs-tasks.amazonaws.com' }),
    inlinePolicies: [
      {
        name: 'relay',
        policy: $util.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: tableActions, Resource: [state.table.arn] },
            { Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: [state.secretsKey.arn] },
            { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [$interpolate`${bucket.arn}/${code.key}`] },
          ],
        }),
      },
    ],
  });
  const region = aws.getRegionOutput().name;
  const logs = (prefix: string) => ({
    logDriver: 'awslogs',
    options: { 'awslogs-group': pool.logGroup.name, 'awslogs-region': region, 'awslogs-stream-prefix': prefix },
  });
  const task = new aws.ecs.TaskDefinition('RelayTask', {
    family: `${$app.name}-${$app.stage}-relay`,
    cpu: '256',
    memory: '512',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    executionRoleArn: pool.executionRole.arn,
    taskRoleArn: taskRole.arn,
    volumes: [{ name: 'code' }],
    containerDefinitions: $util.jsonStringify([
      {
        name: 'code',
        image: settings.relayCodeImage,
        essential: false,
        entryPoint: ['aws', 's3', 'cp'],
        command: [$interpolate`s3://${bucket.bucket}/${code.key}`, '/relay/skiff-relay.mjs'],
        mountPoints: [{ sourceVolume: 'code', containerPath: '/relay' }],
        logConfiguration: logs('relay-code'),
      },
      {
        name: 'relay',
        image: settings.relayImage,
        essential: true,
        command: ['node', '/relay/skiff-relay.mjs'],
        dependsOn: [{ containerName: 'code', condition: 'SUCCESS' }],
        portMappings: [{ containerPort: settings.relayPort }, { containerPort: settings.relayHttpPort }],
        environment: Object.entries({
          SKIFF_STORE_URL: $interpolate`dynamodb://${state.table.name}`,
          SKIFF_KMS_KEY_ID: state.secretsKey.arn,
          SKIFF_RELAY_PORT: String(settings.relayPort),
          SKIFF_RELAY_HTTP_PORT: String(settings.relayHttpPort),
          SKIFF_WATCH_KEEPALIVE_SECONDS: String(settings.watchKeepAliveSeconds),
          ...identityEnvironment(identity),
        }).map(([name, value]) => ({ name, value })),
        mountPoints: [{ sourceVolume: 'code', containerPath: '/relay', readOnly: true }],
        stopTimeout: 30,
        logConfiguration: logs('relay'),
      },
    ]),
  });
  const subnets = net.vpc.privateSubnets;
  const balancer = new aws.lb.LoadBalancer('RelayBalancer', {
    internal: true,
    loadBalancerType: 'application',
    subnets,
    securityGroups: [balancerGroup.id],
    // A WebSocket (exec, attach, port-forward) may idle as long as CloudFront lets it: 10 minutes.
    idleTimeout: 600,
  });
  const targets = new aws.lb.TargetGroup('RelayTargets', {
    port: settings.relayHttpPort,
    protocol: 'HTTP',
    targetType: 'ip',
    vpcId: net.vpc.id,
    healthCheck: { path: '/readyz', matcher: '200' },
    deregistrationDelay: 30,
  });
  const listener = new aws.lb.Listener('RelayListener', {
    loadBalancerArn: balancer.arn,
    port: 80,
    protocol: 'HTTP',
    defaultActions: [{ type: 'forward', targetGroupArn: targets.arn }],
  });
  const service = new aws.ecs.Service(
    'Relay',
    {
      cluster: pool.cluster.arn,
      taskDefinition: task.arn,
      // One at a time: the relay keeps the `kubernetes` Service's endpoint, and a second would take it over.
      desiredCount: 1,
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
      launchType: 'FARGATE',
      networkConfiguration: { subnets, securityGroups: [taskGroup.id, net.apiGroup.id] },
      loadBalancers: [{ targetGroupArn: targets.arn, containerName: 'relay', containerPort: settings.relayHttpPort }],
    },
    { dependsOn: [listener] },
  );
  return { balancer, service, task, bucket };
}

export type Relay = ReturnType<typeof relay>;

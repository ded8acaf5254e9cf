/**
 * The AWS shape's infrastructure (infra/, through sst.config.ts's program), built by SST's own
 * components under Pulumi's runtime mocks: nothing is deployed, and every setting the design
 * depends on is asserted on the resources SST would create. The handlers are bundled for real.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cloudFrontPolicies,
  ecsActionsOnAnyResource,
  ecsExecAgentActions,
  handlers,
  settings,
  streamPathPatterns,
  tableActions,
} from '../../infra/settings.js';
import { writeDashboard } from '../../dashboard/build.js';
import { buildRelayBundle } from '../../functions/api/relay-bundle.js';
import { buildKubeletBundle } from '../../kubelet/bundle.js';
import { type MadeResource, mockStack, type Stack } from '../support/pulumi-mocks.js';

let stack: Stack;
/** OIDC issuers given at deploy time: both hosts of the API read them. */
const AUTHENTICATION = 'kind: AuthenticationConfiguration\njwt:\n  - issuer: { url: "https://login.example.com", audiences: [skiff-dashboard] }\n';
beforeAll(async () => {
  stack = await mockStack(async () => {
    // As sst.config.ts does before the program: the kubelet's build, which the API function carries.
    await buildKubeletBundle(join(process.cwd(), settings.kubeletBundle));
    await buildRelayBundle(join(process.cwd(), settings.relayBundle));
    await writeDashboard(join(process.cwd(), settings.dashboardBuild));
    // By path, not by name: infra/ is typed by SST's globals (infra/tsconfig.json), not this project's.
    const { skiff } = await import(join(process.cwd(), 'infra/index.ts'));
    return skiff({ authenticationConfig: AUTHENTICATION, dashboardClientId: 'skiff-dashboard' });
  });
}, 180_000);
afterAll(() => stack?.close());

const lambda = (name: string) => stack.one('aws:lambda/function:Function', name);
const role = (fn: MadeResource) => stack.all('aws:iam/role:Role').find((r) => r.state.arn === fn.inputs.role) as MadeResource;
function grants(fn: MadeResource): Map<string, string[]> {
  const inline = role(fn).inputs.inlinePolicies ?? [];
  const statements = inline.flatMap((p: { policy: string }) => JSON.parse(p.policy).Statement) as { actions: string[]; resources: string[]; effect: string }[];
  const byAction = new Map<string, string[]>();
  for (const s of statements) {
    expect(s.effect).toBe('Allow');
    for (const a of s.actions) byAction.set(a, [...(byAction.get(a) ?? []), ...s.resources]);
  }
  return byAction;
}
const arnOf = (type: string, name: string) => stack.one(type, name).state.arn as string;

describe('the table', () => {
  it('has the store’s keys, a stream of both images, TTL and on-demand capacity', () => {
    const table = stack.one('aws:dynamodb/table:Table', 'Store');
    expect(table.inputs).toMatchObject({
      hashKey: 'pk',
      rangeKey: 'sk',
      streamEnabled: true,
      streamViewType: 'NEW_AND_OLD_IMAGES',
      billingMode: 'PAY_PER_REQUEST',
    });
    expect(table.inputs.ttl).toEqual({ attributeName: 'ttl', enabled: true });
    expect(table.inputs.pointInTimeRecovery).toEqual({ enabled: true });
  });
});

describe('the functions', () => {
  it('bundles the four handlers: the API under 2.5 MB, the controllers (with the EC2 client) under 3 MB', () => {
    expect(stack.builds.map((b) => b.handler).sort()).toEqual(Object.values(handlers).sort());
    for (const b of stack.builds) expect(b.bytes).toBeLessThan((b.handler === handlers.api ? 2.5 : 3) * 1024 * 1024);
  });

  it('runs the API streaming, in the VPC, with watches bounded under API Gateway’s idle timeout, and the OIDC issuers it was deployed with', () => {
    const api = lambda('Api');
    expect(api.inputs.timeout).toBe(settings.apiTimeoutSeconds);
    expect(api.inputs.runtime).toBe('nodejs22.x');
    expect(api.inputs.vpcConfig.subnetIds).toEqual(['VpcPrivateSubnet1-id', 'VpcPrivateSubnet2-id']);
    expect(api.inputs.vpcConfig.securityGroupIds).toEqual(['ApiSecurityGroup-id']);
    const env = api.inputs.environment.variables;
    expect(Number(env.SKIFF_MAX_WATCH_SECONDS)).toBeLessThan(300);
    expect(env).toMatchObject({ SKIFF_AUTHENTICATION_CONFIG: AUTHENTICATION, SKIFF_DASHBOARD_CLIENT_ID: 'skiff-dashboard' });
    expect(env.SKIFF_STORE_URL).toBe(`dynamodb://${stack.one('aws:dynamodb/table:Table', 'Store').state.name}`);
    expect(env.SKIFF_KMS_KEY_ID).toBe(arnOf('aws:kms/key:Key', 'SecretsKey'));
    expect(env.SKIFF_QUEUE_URL).toBeUndefined();
  });

  it('gives the controllers’ functions the store, the key, the requeue queue (with its dead-letter queue) and what provisioning needs', () => {
    const requeue = stack.one('aws:sqs/queue:Queue', 'RequeueQueue').state.url;
    const deadLetters = stack.one('aws:sqs/queue:Queue', 'RequeueDeadLettersQueue').state.url;
    for (const name of ['StoreSubscriberStream', 'QueueFunction', 'TickFunction']) {
      const fn = lambda(name);
      expect(fn.inputs.timeout).toBe(settings.controllerTimeoutSeconds);
      expect(fn.inputs.vpcConfig).toBeUndefined();
      const env = fn.inputs.environment.variables;
      expect(env.SKIFF_QUEUE_URL).toBe(`sqs://${requeue}?deadLetter=${deadLetters}&maxReceives=${settings.queueMaxReceives}`);
      // They provision the workers: into the private subnets, from the launch template, joining through the API.
      expect(env).toMatchObject({
        SKIFF_PROVIDER: 'aws-ec2',
        SKIFF_CLUSTER: 'skiff-test',
        SKIFF_API_URL: 'https://KubeApi-id.execute-api.us-east-1.amazonaws.com/k8s',
        SKIFF_LAUNCH_TEMPLATE_ID: 'WorkerTemplate-id',
      });
      // No kubelet command: a worker fetches the kubelet from the API.
      expect(env.SKIFF_KUBELET_COMMAND).toBeUndefined();
      expect(env.SKIFF_EC2_SUBNETS.split(',').map((pair: string) => pair.split('=')[1])).toEqual(['VpcPrivateSubnet1-id', 'VpcPrivateSubnet2-id']);
      // And on Fargate: the workers' cluster, the kubelet's image, its tasks' roles and logs; both providers, for migrations.
      expect(env).toMatchObject({
        SKIFF_PROVIDERS: 'aws-ec2,aws-ecs',
        SKIFF_ECS_CLUSTER: stack.one('aws:ecs/cluster:Cluster', 'Workers').state.name,
        SKIFF_ECS_SECURITY_GROUPS: 'WorkerSecurityGroup-id',
        SKIFF_ECS_KUBELET_IMAGE: settings.kubeletImage,
        SKIFF_ECS_EXECUTION_ROLE: arnOf('aws:iam/role:Role', 'TaskExecutionRole'),
        SKIFF_ECS_KUBELET_ROLE: arnOf('aws:iam/role:Role', 'KubeletTaskRole'),
        SKIFF_ECS_POD_ROLE: arnOf('aws:iam/role:Role', 'PodTaskRole'),
        SKIFF_ECS_LOG_GROUP: '/skiff/skiff-test',
      });
      expect(env.SKIFF_ECS_SUBNETS).toBe(env.SKIFF_EC2_SUBNETS);
    }
  });
});

describe('least privilege', () => {
  const table = () => arnOf('aws:dynamodb/table:Table', 'Store');
  const queue = (name: string) => arnOf('aws:sqs/queue:Queue', name);

  it('lets the API touch the table and the key, and nothing else', () => {
    const g = grants(lambda('Api'));
    expect([...g.keys()].sort()).toEqual([...tableActions, 'kms:Decrypt', 'kms:Encrypt'].sort());
    for (const a of tableActions) expect(g.get(a)).toEqual([table()]);
    expect(g.get('kms:Decrypt')).toEqual([arnOf('aws:kms/key:Key', 'SecretsKey')]);
    expect(role(lambda('Api')).inputs.managedPolicyArns).toContain('arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole');
  });

  it('lets the stream function read its stream and send only to the requeue and failure queues', () => {
    const g = grants(lambda('StoreSubscriberStream'));
    expect(g.get('dynamodb:GetRecords')).toEqual([stack.one('aws:dynamodb/table:Table', 'Store').state.streamArn]);
    expect(g.get('sqs:SendMessage')?.sort()).toEqual([queue('RequeueQueue'), queue('StreamFailuresQueue')].sort());
    expect(g.has('sqs:ReceiveMessage')).toBe(false);
  });

  it('lets the queue function receive from the requeue queue alone, and the tick only send to it', () => {
    const q = grants(lambda('QueueFunction'));
    for (const a of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) expect(q.get(a)).toEqual([queue('RequeueQueue')]);
    const t = grants(lambda('TickFunction'));
    expect(t.get('sqs:SendMessage')).toEqual([queue('RequeueQueue')]);
    expect(t.has('sqs:ReceiveMessage')).toBe(false);
  });

  it('grants no action on every resource, but those that take none (and ListTasks, kept to the cluster by a condition)', () => {
    const anyResource = new Set(['ec2:DescribeInstances', 'ecs:ListTasks', ...ecsActionsOnAnyResource]);
    for (const fn of stack.all('aws:lambda/function:Function'))
      for (const [action, resources] of grants(fn)) if (!anyResource.has(action)) expect(resources, action).not.toContain('*');
  });

  it('lets the controllers run and stop tasks in the workers’ cluster only, and pass just the tasks’ two roles', () => {
    const fn = lambda('StoreSubscriberStream');
    const statements = (role(fn).inputs.inlinePolicies as { policy: string }[]).flatMap((p) => JSON.parse(p.policy).Statement) as {
      actions: string[];
      resources: string[];
      conditions?: { test: string; variable: string; values: string[] }[];
    }[];
    const cluster = arnOf('aws:ecs/cluster:Cluster', 'Workers');
    for (const action of ['ecs:RunTask', 'ecs:ListTasks']) {
      const s = statements.find((x) => x.actions.includes(action));
      expect(s?.conditions, action).toEqual([{ test: 'ArnEquals', variable: 'ecs:cluster', values: [cluster] }]);
    }
    const stop = statements.find((x) => x.actions.includes('ecs:StopTask'));
    expect(stop?.resources).toEqual([`arn:aws:ecs:*:*:task/${stack.one('aws:ecs/cluster:Cluster', 'Workers').state.name}/*`]);
    expect(grants(fn).get('iam:PassRole')?.sort()).toEqual(
      [arnOf('aws:iam/role:Role', 'WorkerRole'), arnOf('aws:iam/role:Role', 'TaskExecutionRole'), arnOf('aws:iam/role:Role', 'KubeletTaskRole')].sort(),
    );
    expect(grants(lambda('Api')).has('ecs:RunTask')).toBe(false);
  });

  it('lets the controllers launch and stop this cluster’s instances only, and pass them the worker role', () => {
    const fn = lambda('StoreSubscriberStream');
    const inline = role(fn).inputs.inlinePolicies as { policy: string }[];
    const statements = inline.flatMap((p) => JSON.parse(p.policy).Statement) as {
      actions: string[];
      resources: string[];
      conditions?: { test: string; variable: string; values: string[] }[];
    }[];
    const tagged = statements.find((s) => s.actions.includes('ec2:CreateFleet') && s.resources.some((r) => r.endsWith(':instance/*')));
    expect(tagged?.actions).toContain('ec2:RunInstances');
    expect(tagged?.conditions).toEqual([{ test: 'StringEquals', variable: 'aws:RequestTag/skiff:cluster', values: ['skiff-test'] }]);
    const terminate = statements.find((s) => s.actions.includes('ec2:TerminateInstances'));
    expect(terminate?.conditions).toEqual([{ test: 'StringEquals', variable: 'ec2:ResourceTag/skiff:cluster', values: ['skiff-test'] }]);
    // Tags: at launch, or on the cluster's own instances (a node's name, once the fleet answered).
    for (const s of statements.filter((x) => x.actions.includes('ec2:CreateTags')))
      expect(s.conditions?.[0]).toSatisfy((c: { variable: string; values: string[] }) =>
        c.variable === 'ec2:CreateAction' ? c.values.includes('CreateFleet') : c.variable === 'ec2:ResourceTag/skiff:cluster' && c.values[0] === 'skiff-test',
      );
    // The launch script goes into versions of the workers' template, and no other.
    expect(grants(fn).get('ec2:CreateLaunchTemplateVersion')).toEqual([arnOf('aws:ec2/launchTemplate:LaunchTemplate', 'WorkerTemplate')]);
    expect(grants(fn).get('iam:PassRole')).toContain(stack.one('aws:iam/role:Role', 'WorkerRole').state.arn);
    // The API function launches nothing.
    expect(grants(lambda('Api')).has('ec2:RunInstances')).toBe(false);
  });
});

describe('the stream subscription', () => {
  it('reports partial failures, bisects, retries a bounded number of times, and sends what is left to the failure queue', () => {
    const esm = stack.all('aws:lambda/eventSourceMapping:EventSourceMapping').find((m) => String(m.inputs.eventSourceArn).includes('/stream/')) as MadeResource;
    expect(esm.inputs).toMatchObject({
      functionName: lambda('StoreSubscriberStream').state.arn,
      startingPosition: 'TRIM_HORIZON',
      batchSize: settings.streamBatchSize,
      maximumBatchingWindowInSeconds: settings.streamBatchWindowSeconds,
      functionResponseTypes: ['ReportBatchItemFailures'],
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: settings.streamRetries,
      maximumRecordAgeInSeconds: settings.streamMaxRecordAgeSeconds,
    });
    expect(esm.inputs.destinationConfig.onFailure.destinationArn).toBe(arnOf('aws:sqs/queue:Queue', 'StreamFailuresQueue'));
  });
});

describe('the queue', () => {
  it('redrives to the dead-letter queue, outlasts its consumer’s timeout, and reports partial failures', () => {
    const requeue = stack.one('aws:sqs/queue:Queue', 'RequeueQueue');
    expect(JSON.parse(requeue.inputs.redrivePolicy)).toEqual({
      deadLetterTargetArn: arnOf('aws:sqs/queue:Queue', 'RequeueDeadLettersQueue'),
      maxReceiveCount: settings.queueMaxReceives,
    });
    expect(requeue.inputs.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * settings.controllerTimeoutSeconds);
    const esm = stack.all('aws:lambda/eventSourceMapping:EventSourceMapping').find((m) => m.inputs.eventSourceArn === requeue.state.arn) as MadeResource;
    expect(esm.inputs).toMatchObject({
      functionName: lambda('QueueFunction').state.arn,
      batchSize: settings.queueBatchSize,
      functionResponseTypes: ['ReportBatchItemFailures'],
    });
  });
});

describe('the schedule', () => {
  it('runs the tick function every minute, and its re-encryption pass daily', () => {
    expect(stack.one('aws:cloudwatch/eventRule:EventRule', 'TickSchedule').inputs.scheduleExpression).toBe(settings.tickSchedule);
    expect(stack.one('aws:cloudwatch/eventTarget:EventTarget', 'TickSchedule').inputs.arn).toBe(lambda('TickFunction').state.arn);
    expect(stack.one('aws:cloudwatch/eventRule:EventRule', 'ReencryptSchedule').inputs.scheduleExpression).toBe(settings.reencryptSchedule);
    const reencrypt = stack.one('aws:cloudwatch/eventTarget:EventTarget', 'ReencryptSchedule').inputs;
    expect(reencrypt.arn).toBe(lambda('TickFunction').state.arn);
    expect(JSON.parse(reencrypt.input)).toEqual({ reencrypt: true });
  });
});

describe('the API front', () => {
  it('streams every path to the API function through API Gateway REST for up to 15 minutes', () => {
    const integrations = stack.all('aws:apigateway/integration:Integration');
    expect(integrations.map((i) => i.inputs.resourceId).sort()).toEqual(['KubeApi-root', 'KubeApiProxy-id']);
    for (const i of integrations) {
      expect(i.inputs).toMatchObject({ type: 'AWS_PROXY', responseTransferMode: 'STREAM', timeoutMilliseconds: 900_000, httpMethod: 'ANY' });
      expect(i.inputs.uri).toBe(`arn:aws:apigateway:us-east-1:lambda:path/2021-11-15/functions/${lambda('Api').state.arn}/response-streaming-invocations`);
    }
    expect(stack.one('aws:apigateway/resource:Resource', 'KubeApiProxy').inputs.pathPart).toBe('{proxy+}');
    expect(stack.one('aws:lambda/permission:Permission', 'KubeApiInvoke').inputs).toMatchObject({
      principal: 'apigateway.amazonaws.com',
      function: lambda('Api').state.name,
    });
    expect(stack.outputs.apiGateway).toBe('https://KubeApi-id.execute-api.us-east-1.amazonaws.com/k8s');
  });

  it('is fronted by CloudFront: a pod’s streams to the relay, the rest to API Gateway, nothing cached, quiet watches kept alive', () => {
    const front = stack.one('aws:cloudfront/distribution:Distribution', 'Front');
    const origins = Object.fromEntries((front.inputs.origins as { originId: string }[]).map((o) => [o.originId, o])) as Record<string, any>;
    expect(origins.api).toMatchObject({ domainName: 'KubeApi-id.execute-api.us-east-1.amazonaws.com', originPath: '/k8s' });
    expect(origins.api.customOriginConfig).toMatchObject({ originProtocolPolicy: 'https-only', originReadTimeout: settings.originResponseTimeoutSeconds });
    const vpcOrigin = stack.one('aws:cloudfront/vpcOrigin:VpcOrigin', 'RelayOrigin');
    expect(vpcOrigin.inputs.vpcOriginEndpointConfig.arn).toBe(stack.one('aws:lb/loadBalancer:LoadBalancer', 'RelayBalancer').state.arn);
    expect(origins.relay.vpcOriginConfig).toMatchObject({ vpcOriginId: 'RelayOrigin-id', originReadTimeout: settings.originResponseTimeoutSeconds });
    expect(front.inputs.defaultCacheBehavior.targetOriginId).toBe('api');
    expect(front.inputs.orderedCacheBehaviors.map((b: { pathPattern: string; targetOriginId: string }) => [b.pathPattern, b.targetOriginId])).toEqual(
      streamPathPatterns.map((p) => [p, 'relay']),
    );
    for (const b of [front.inputs.defaultCacheBehavior, ...front.inputs.orderedCacheBehaviors]) {
      expect(b).toMatchObject({ cachePolicyId: cloudFrontPolicies.cachingDisabled, originRequestPolicyId: cloudFrontPolicies.allViewerExceptHostHeader });
      expect(b.allowedMethods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']));
    }
    // A browser's watches (WebSocket handshakes on a collection's path) go to the relay: the
    // default behaviour's viewer-request function selects it, by the origin ID the distribution has.
    const router = stack.one('aws:cloudfront/function:Function', 'FrontRouter');
    expect(router.inputs).toMatchObject({ runtime: 'cloudfront-js-2.0', publish: true });
    expect(router.inputs.code).toBe(readFileSync('infra/front-router.js', 'utf8'));
    expect(router.inputs.code).toMatch(/^import cf from 'cloudfront';/);
    expect(router.inputs.code).toContain("cf.selectRequestOriginById('relay')");
    expect(front.inputs.defaultCacheBehavior.functionAssociations).toEqual([{ eventType: 'viewer-request', functionArn: router.state.arn }]);
    for (const b of front.inputs.orderedCacheBehaviors) expect(b.functionAssociations).toBeUndefined();
    // A quiet watch sends a newline well within the front's timeout; the users' URL is the front's.
    expect(Number(lambda('Api').inputs.environment.variables.SKIFF_WATCH_KEEPALIVE_SECONDS)).toBeLessThan(settings.originResponseTimeoutSeconds);
    expect(stack.outputs.api).toBe(`https://${front.state.domainName}`);
  });
});

describe('the stream relay', () => {
  it('runs one Fargate task in the private subnets, reaching kubelets as the API does, behind an internal balancer', () => {
    const service = stack.one('aws:ecs/service:Service', 'Relay');
    expect(service.inputs).toMatchObject({ desiredCount: 1, launchType: 'FARGATE', deploymentMaximumPercent: 100 });
    expect(service.inputs.networkConfiguration.subnets).toEqual(['VpcPrivateSubnet1-id', 'VpcPrivateSubnet2-id']);
    expect(service.inputs.networkConfiguration.securityGroups).toEqual(['RelaySecurityGroup-id', 'ApiSecurityGroup-id']);
    expect(service.inputs.loadBalancers).toEqual([
      { targetGroupArn: stack.one('aws:lb/targetGroup:TargetGroup', 'RelayTargets').state.arn, containerName: 'relay', containerPort: settings.relayHttpPort },
    ]);
    expect(stack.one('aws:lb/loadBalancer:LoadBalancer', 'RelayBalancer').inputs).toMatchObject({
      internal: true,
      loadBalancerType: 'application',
      idleTimeout: 600,
    });
    const group = stack.one('aws:ec2/securityGroup:SecurityGroup', 'RelaySecurityGroup');
    expect(group.inputs.ingress).toEqual([
      { protocol: 'tcp', fromPort: settings.relayHttpPort, toPort: settings.relayHttpPort, securityGroups: ['RelayBalancerSecurityGroup-id'] },
      { protocol: 'tcp', fromPort: settings.relayPort, toPort: settings.relayPort, cidrBlocks: [expect.any(String)] },
    ]);
  });

  it('copies its build from a private bucket, then runs it with the table, the key and its ports; its role reads that object alone', () => {
    const task = stack.one('aws:ecs/taskDefinition:TaskDefinition', 'RelayTask');
    expect(task.inputs).toMatchObject({ cpu: '256', memory: '512', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'] });
    const [code, relay] = JSON.parse(task.inputs.containerDefinitions);
    const bucket = stack.one('aws:s3/bucketV2:BucketV2', 'RelayCode').state.bucket;
    expect(code).toMatchObject({ name: 'code', essential: false, image: settings.relayCodeImage, entryPoint: ['aws', 's3', 'cp'] });
    expect(code.command).toEqual([`s3://${bucket}/skiff-relay.mjs`, '/relay/skiff-relay.mjs']);
    expect(relay).toMatchObject({ name: 'relay', essential: true, image: settings.relayImage, command: ['node', '/relay/skiff-relay.mjs'] });
    expect(relay.dependsOn).toEqual([{ containerName: 'code', condition: 'SUCCESS' }]);
    const env = Object.fromEntries(relay.environment.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({
      SKIFF_STORE_URL: `dynamodb://${stack.one('aws:dynamodb/table:Table', 'Store').state.name}`,
      SKIFF_KMS_KEY_ID: arnOf('aws:kms/key:Key', 'SecretsKey'),
      SKIFF_RELAY_PORT: String(settings.relayPort),
      SKIFF_RELAY_HTTP_PORT: String(settings.relayHttpPort),
      SKIFF_AUTHENTICATION_CONFIG: AUTHENTICATION,
      SKIFF_DASHBOARD_CLIENT_ID: 'skiff-dashboard',
    });
    expect(stack.one('aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', 'RelayCodePrivate').inputs).toMatchObject({
      blockPublicAcls: true,
      restrictPublicBuckets: true,
    });
    const role = stack.one('aws:iam/role:Role', 'RelayTaskRole');
    const statements = JSON.parse(role.inputs.inlinePolicies[0].policy).Statement as { Action: string[]; Resource: string[] }[];
    expect(statements.find((st) => st.Action.includes('s3:GetObject'))?.Resource).toEqual([
      `${stack.one('aws:s3/bucketV2:BucketV2', 'RelayCode').state.arn}/skiff-relay.mjs`,
    ]);
    expect(statements.flatMap((st) => st.Resource)).not.toContain('*');
  });
});

describe('the workers’ ground', () => {
  it('lets a kubelet open ECS Exec sessions into its cluster’s tasks, and a pod’s agent open its channels alone', () => {
    const statements = (name: string) =>
      JSON.parse(stack.one('aws:iam/role:Role', name).inputs.inlinePolicies[0].policy).Statement as { Action: string[]; Resource: string[] }[];
    const kubelet = statements('KubeletTaskRole');
    const cluster = stack.one('aws:ecs/cluster:Cluster', 'Workers');
    expect(kubelet.find((st) => st.Action.includes('ecs:ExecuteCommand'))?.Resource).toEqual([
      cluster.state.arn,
      `arn:aws:ecs:*:*:task/${cluster.state.name}/*`,
    ]);
    expect(kubelet.find((st) => st.Action.includes('iam:PassRole'))?.Resource).toEqual([
      arnOf('aws:iam/role:Role', 'TaskExecutionRole'),
      arnOf('aws:iam/role:Role', 'PodTaskRole'),
    ]);
    expect(statements('PodTaskRole')).toEqual([{ Effect: 'Allow', Action: ecsExecAgentActions, Resource: '*' }]);
  });

  it('opens the kubelet port to the API function alone', () => {
    const workers = stack.one('aws:ec2/securityGroup:SecurityGroup', 'WorkerSecurityGroup');
    expect(workers.inputs.ingress).toEqual([
      { protocol: 'tcp', fromPort: settings.kubeletPort, toPort: settings.kubeletPort, securityGroups: ['ApiSecurityGroup-id'] },
    ]);
  });

  it('launches ECS-optimized workers into the cluster with IMDSv2 only and an encrypted disk', () => {
    const cluster = stack.one('aws:ecs/cluster:Cluster', 'Workers');
    const template = stack.one('aws:ec2/launchTemplate:LaunchTemplate', 'WorkerTemplate');
    expect(template.inputs.metadataOptions.httpTokens).toBe('required');
    expect(template.inputs.metadataOptions.instanceMetadataTags).toBe('enabled');
    expect(template.inputs.blockDeviceMappings[0].ebs.encrypted).toBe('true');
    expect(template.inputs.vpcSecurityGroupIds).toEqual(['WorkerSecurityGroup-id']);
    expect(Buffer.from(template.inputs.userData, 'base64').toString()).toContain(`ECS_CLUSTER=${cluster.state.name}`);
    expect(stack.one('aws:iam/role:Role', 'WorkerRole').inputs.managedPolicyArns).toContain(
      'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role',
    );
  });

  it('keeps the API’s DynamoDB traffic on a gateway endpoint in the private route tables', () => {
    const endpoint = stack.one('aws:ec2/vpcEndpoint:VpcEndpoint', 'DynamoEndpoint');
    expect(endpoint.inputs).toMatchObject({ vpcEndpointType: 'Gateway', serviceName: 'com.amazonaws.us-east-1.dynamodb' });
    expect(endpoint.inputs.routeTableIds).toEqual(['VpcPrivateRouteTable1-id', 'VpcPrivateRouteTable2-id']);
  });
});

describe('the alarms', () => {
  it('fire on a non-empty dead-letter or failure queue and on a lagging stream, to one topic', () => {
    const topic = arnOf('aws:sns/topic:Topic', 'Alarms');
    const dlq = stack.one('aws:cloudwatch/metricAlarm:MetricAlarm', 'DeadLettersAlarm').inputs;
    expect(dlq).toMatchObject({
      metricName: 'ApproximateNumberOfMessagesVisible',
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      alarmActions: [topic],
    });
    expect(dlq.dimensions.QueueName).toBe(stack.one('aws:sqs/queue:Queue', 'RequeueDeadLettersQueue').state.name);
    expect(stack.one('aws:cloudwatch/metricAlarm:MetricAlarm', 'StreamFailuresAlarm').inputs.dimensions.QueueName).toBe(
      stack.one('aws:sqs/queue:Queue', 'StreamFailuresQueue').state.name,
    );
    const lag = stack.one('aws:cloudwatch/metricAlarm:MetricAlarm', 'IteratorAge').inputs;
    expect(lag).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'IteratorAge', threshold: settings.iteratorAgeAlarmMs, alarmActions: [topic] });
    expect(lag.dimensions.FunctionName).toBe(lambda('StoreSubscriberStream').state.name);
  });
});

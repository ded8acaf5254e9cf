/**
 * The AWS shape's control loop with nothing but its functions: DynamoDB Local's real stream
 * through the stream event-source mapping into the stream function, delayed work through SQS
 * (the emulator) and its mapping into the queue function, and the tick on a schedule, each
 * function with its own store and controllers as separate Lambdas have. Simulated kubelets
 * run the pods. A Deployment comes up; a node that goes silent is made NotReady and its pods
 * move to the other nodes. And a stream function killed at its timeout in the middle of a batch
 * (in the Lambda runner) converges once the batch is delivered again.
 */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LambdaFunction } from '../../emulators/lambda-runner.js';
import { SqsMapping } from '../../emulators/sqs-mapping.js';
import { type FakeSqs, startFakeSqs } from '../../emulators/sqs.js';
import { StreamMapping } from '../../emulators/stream-mapping.js';
import { FUNCTION_CONTROLLERS } from '../../functions/environment.js';
import { handleQueue } from '../../functions/queue/handler.js';
import { handleStream } from '../../functions/stream/handler.js';
import { handleTick } from '../../functions/tick/handler.js';
import { findResource } from '../../shared/api/resources.js';
import { Registry } from '../../shared/api/registry.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { controllersFor } from '../../shared/control-plane.js';
import { UNREACHABLE } from '../../shared/controllers/node-lifecycle.js';
import type { Controller } from '../../shared/controllers/types.js';
import { SqsQueue } from '../../shared/queue/sqs.js';
import { openDynamoStore } from '../../shared/store/dynamodb.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../emulators/dynamodb-local.js';
import { until } from '../support/until.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const TABLE = 'skiff-functions';
let local: DynamoDbLocal;
let sqs: FakeSqs;
let sqsClient: SQSClient;
let streams: DynamoDBStreamsClient;
let api: Store;
let cloud: SimCloudProvider;
const stores: Store[] = [];
const stops: (() => Promise<void>)[] = [];

/** A function's own store and controllers, as each Lambda makes them on its cold start. */
async function functionControllers(): Promise<Controller[]> {
  const store = await openDynamoStore({ tableName: TABLE, endpoint: local.endpoint, region: 'us-east-1', createTable: false, pollIntervalMs: 100 });
  stores.push(store);
  return controllersFor(store, {
    ...FUNCTION_CONTROLLERS,
    nodeLifecycle: { ...FUNCTION_CONTROLLERS.nodeLifecycle, gracePeriodMs: 2000, defaultTolerationSeconds: 1 },
  });
}

beforeAll(async () => {
  [local, sqs] = await Promise.all([startDynamoDbLocal(), startFakeSqs()]);
  api = await openDynamoStore({ tableName: TABLE, endpoint: local.endpoint, region: 'us-east-1', createTable: true, pollIntervalMs: 50 });
  await new Registry(api).ensureSystemNamespaces();
  sqsClient = new SQSClient({ region: 'us-east-1', endpoint: sqs.endpoint, credentials, maxAttempts: 1 });
  const queueUrl = sqs.createQueue('skiff-work');
  const queue = new SqsQueue({ client: sqsClient, queueUrl, deadLetterQueueUrl: sqs.createQueue('skiff-dead'), waitTimeSeconds: 0 });
  const [streamFn, queueFn, tickFn] = await Promise.all([functionControllers(), functionControllers(), functionControllers()]);

  const streamArn = await local.streamArn(TABLE);
  streams = new DynamoDBStreamsClient({ endpoint: local.endpoint, region: 'us-east-1', credentials });
  const streamMapping = new StreamMapping({
    streams,
    streamArn,
    fn: (event) => handleStream(event, streamFn, queue),
    pollIntervalMs: 50,
    retryDelayMs: 50,
  }).start();
  const queueMapping = new SqsMapping({
    client: sqsClient,
    queueUrl,
    fn: (event) => handleQueue(event, queueFn, queue),
    visibilityTimeoutSeconds: 1,
    waitTimeSeconds: 1,
  }).start();
  const tick = setInterval(() => void handleTick(tickFn, queue).catch(() => undefined), 1000);
  stops.push(
    async () => clearInterval(tick),
    () => streamMapping.stop(),
    () => queueMapping.stop(),
  );

  cloud = new SimCloudProvider(api, { leaseIntervalMs: 300 });
  for (let i = 0; i < 3; i++) await cloud.create({ name: `sim-${i}`, instanceType: 'sim.large', zone: ['sim-a', 'sim-b', 'sim-c'][i] });
}, 120_000);

afterAll(async () => {
  await cloud?.close();
  for (const stop of stops) await stop();
  for (const s of stores) await s.close();
  await api?.close();
  sqsClient?.destroy();
  streams?.destroy();
  await sqs?.close();
  await local?.stop();
});

const nodeOf = (p: KubeObject) => (p.spec as { nodeName?: string }).nodeName;
const running = async () =>
  (await api.list('pods', { namespace: 'default', labelSelector: 'app=web' })).items.filter(
    (p) => !p.metadata.deletionTimestamp && (p.status as { phase?: string }).phase === 'Running',
  );

describe('the AWS shape, functions alone', () => {
  it('a Deployment comes up; a silent node goes NotReady and its pods move, through stream, queue and tick', async () => {
    await new Registry(api).create(findResource('apps', 'v1', 'deployments')!, 'default', {
      metadata: { name: 'web' },
      spec: {
        replicas: 6,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
      },
    });
    await until('6 pods running', async () => (await running()).length === 6, 60_000, 200);
    const onSilent = (await running()).filter((p) => nodeOf(p) === 'sim-0').length;
    expect(onSilent).toBeGreaterThan(0);

    await cloud.kubelet('sim-0')!.stopRenewing();
    const node = await until(
      'sim-0 unreachable',
      async () => {
        const n = await api.get('nodes', '', 'sim-0');
        return ((n.spec as { taints?: { key: string }[] }).taints ?? []).some((t) => t.key === UNREACHABLE) && n;
      },
      60_000,
      200,
    );
    const ready = (node.status as { conditions: { type: string; status: string }[] }).conditions.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('Unknown');
    const moved = await until(
      '6 pods running on the other nodes',
      async () => {
        const pods = await running();
        return pods.length === 6 && pods.every((p) => nodeOf(p) !== 'sim-0') && pods;
      },
      60_000,
      200,
    );
    expect(new Set(moved.map(nodeOf))).toEqual(new Set(['sim-1', 'sim-2']));
    expect(sqs.requests.some((r) => r.action === 'SendMessage')).toBe(true);
  }, 180_000);
});

describe('a stream function killed at its timeout', () => {
  it('converges once the batch is delivered again', async () => {
    const table = 'skiff-fault';
    const store = await openDynamoStore({ tableName: table, endpoint: local.endpoint, region: 'us-east-1', createTable: true, pollIntervalMs: 50 });
    stores.push(store);
    await new Registry(store).ensureSystemNamespaces();
    const queueUrl = sqs.createQueue('fault-work');
    const dir = mkdtempSync(join(tmpdir(), 'skiff-fault-'));
    const fn = new LambdaFunction({
      name: 'stream',
      module: resolve('test/fixtures/lambda/slow-once-stream.ts'),
      timeoutMs: 4000,
      env: {
        SKIFF_STORE_URL: local.storeUrl(table),
        SKIFF_QUEUE_URL: sqs.driverUrl(queueUrl, sqs.createQueue('fault-dead')),
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        SLOW_ONCE_MARKER: join(dir, 'slept'),
      },
    });
    const streamArn = await local.streamArn(table);
    const mapping = new StreamMapping({
      streams,
      streamArn,
      fn: (event) => fn.invoke(event) as ReturnType<ConstructorParameters<typeof StreamMapping>[0]['fn']>,
      startingPosition: 'LATEST',
      pollIntervalMs: 50,
      retryDelayMs: 50,
    }).start();
    try {
      await new Promise((r) => setTimeout(r, 500));
      await new Registry(store).create(findResource('apps', 'v1', 'replicasets')!, 'default', {
        metadata: { name: 'fault' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'fault' } },
          template: { metadata: { labels: { app: 'fault' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
        },
      });
      await until(
        'the two pods made after the redelivery',
        async () => (await store.list('pods', { labelSelector: 'app=fault' })).items.length === 2,
        60_000,
        200,
      );
      expect(fn.stats.timeouts).toBe(1);
      expect(fn.stats.coldStarts).toBeGreaterThanOrEqual(2);
      expect(mapping.stats.functionErrors).toBeGreaterThanOrEqual(1);
    } finally {
      await mapping.stop();
      await fn.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

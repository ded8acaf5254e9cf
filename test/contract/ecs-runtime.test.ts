/**
 * The ecs runtime through the Runtime contract: each container an ECS task, through the real
 * ECS and CloudWatch Logs SDK clients, on the emulators (tasks as containers on a private
 * Docker engine), plus what is its own: pods of one template share a task definition, which is
 * deregistered when no task uses it; a task's address is the container's; a missing image is a
 * pull error.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from '../../emulators/docker-engine.js';
import type { EcsEmulator } from '../../emulators/ecs.js';
import type { LogsEmulator } from '../../emulators/logs.js';
import { type EcsCloud, EXECUTION_ROLE, startEcsCloud } from '../support/ecs-cloud.js';
import { EcsRuntime } from '../../kubelet/runtime/ecs.js';
import type { ContainerSpec } from '../../kubelet/runtime/types.js';
import { runtimeContract } from './runtime.contract.js';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let cloud: EcsCloud;
let logs: LogsEmulator;
let ecs: EcsEmulator;

beforeAll(async () => {
  cloud = await startEcsCloud({ clusters: ['skiff'], subnets: { 'subnet-a': 'us-east-1a' } });
  ({ logs, ecs } = cloud);
}, 120_000);

afterAll(async () => {
  await cloud?.close();
});

const runtime = (node = 'node-a') =>
  new EcsRuntime({
    ecs: new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials }),
    logs: new CloudWatchLogsClient({ endpoint: logs.endpoint, region: 'us-east-1', credentials }),
    cluster: 'skiff',
    node,
    subnets: ['subnet-a'],
    filesImage: BUSYBOX_IMAGE,
    executionRoleArn: EXECUTION_ROLE,
  });

runtimeContract('ecs', async () => ({ runtime: runtime(), image: BUSYBOX_IMAGE, reopen: () => runtime(), cleanup: async () => undefined }));

const pod = (uid: string, podName: string, script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  podUid: uid,
  podNamespace: 'default',
  podName,
  name: 'main',
  attempt: 0,
  image: BUSYBOX_IMAGE,
  command: ['sh', '-c', script],
  args: [],
  env: {},
  ...extra,
});

it('pods of one template share a Fargate-sized task definition, deregistered when no task uses it', async () => {
  const rt = runtime('node-t');
  const spec = (uid: string, name: string) => pod(uid, name, 'sleep 30', { cpuRequest: 300, memoryRequest: 600 * 2 ** 20, ports: [{ containerPort: 8080 }] });
  const a = await rt.start(spec('uid-a', 'web-5d8f7c-abcde'));
  const b = await rt.start(spec('uid-b', 'web-5d8f7c-fghij'));
  const defs = ecs.taskDefinitions.get('skiff-default-web-5d8f7c-main') ?? [];
  expect(defs.filter((d) => d.status === 'ACTIVE')).toHaveLength(1);
  const client = new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials });
  const described = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'skiff-default-web-5d8f7c-main' }));
  // 300m and 600 MiB round up to 512 CPU units and 1 GiB, Fargate's smallest size that holds them.
  expect(described.taskDefinition).toMatchObject({ cpu: '512', memory: '1024' });
  expect(described.taskDefinition?.containerDefinitions?.[0].portMappings).toEqual([{ containerPort: 8080, protocol: 'tcp' }]);
  expect(a.address).toMatch(/^10\.2\d\d\./);
  expect(b.address).not.toBe(a.address);
  for (const c of [a, b]) await rt.stop(c.id, 1000);
  await rt.remove(a.id);
  expect(defs.filter((d) => d.status === 'ACTIVE')).toHaveLength(1);
  await rt.remove(b.id);
  expect(defs.filter((d) => d.status === 'ACTIVE')).toHaveLength(0);
}, 60_000);

it('a missing image is a pull error, and what Fargate cannot give is refused', async () => {
  const rt = runtime('node-e');
  await expect(rt.start(pod('uid-m', 'missing', 'true', { image: 'skiff-test/absent:1' }))).rejects.toThrow(/CannotPullContainerError/);
  await expect(rt.start(pod('uid-p', 'priv', 'true', { security: { privileged: true } }))).rejects.toThrow(/privileged/);
  await expect(rt.start(pod('uid-c', 'caps', 'true', { security: { capabilities: { add: ['NET_ADMIN'] } } }))).rejects.toThrow(/SYS_PTRACE/);
  expect(await rt.list()).toEqual([]);
}, 60_000);

it('answers an exec readiness probe from the task health check ECS runs, and no other exec', async () => {
  const rt = runtime('node-h');
  const healthCheck = { command: ['test', '-f', '/tmp/ready'], periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 1, initialDelaySeconds: 0 };
  const c = await rt.start(pod('uid-h', 'health', 'sleep 2; touch /tmp/ready; exec sleep 30', { healthCheck }));
  const definition = (ecs.taskDefinitions.get('skiff-default-health-main') ?? []).at(-1);
  // Within ECS's ranges: an interval of 5 s at least, a timeout of 2 s at least.
  expect(definition?.containerDefinitions[0].healthCheck).toEqual({
    command: ['CMD', 'test', '-f', '/tmp/ready'],
    interval: 5,
    timeout: 2,
    retries: 1,
    startPeriod: 0,
  });
  expect((await rt.exec(c.id, healthCheck.command, 1000)).exitCode).toBe(1);
  const deadline = Date.now() + 20_000;
  while ((await rt.exec(c.id, healthCheck.command, 1000)).exitCode !== 0) {
    if (Date.now() > deadline) throw new Error('the health check never passed');
    await new Promise((r) => setTimeout(r, 250));
  }
  await expect(rt.exec(c.id, ['true'], 1000)).rejects.toThrow(/exec is not offered/);
  await rt.stop(c.id, 1000);
  await rt.remove(c.id);
}, 60_000);

/**
 * The ecs runtime through the Runtime contract (a container started alone is a pod of its own,
 * one ECS task), through the real ECS and CloudWatch Logs SDK clients, on the emulators (tasks
 * as containers on a private Docker engine), plus what is its own: pods of one template share a
 * task definition, which is deregistered when no task uses it; a pod's containers are one task,
 * sharing its address, its volumes and localhost, init containers first; a missing image is a
 * pull error.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from '../../emulators/docker-engine.js';
import type { EcsEmulator } from '../../emulators/ecs.js';
import type { LogsEmulator } from '../../emulators/logs.js';
import { type EcsCloud, EXECUTION_ROLE, startEcsCloud } from '../support/ecs-cloud.js';
import { EcsRuntime } from '../../kubelet/runtime/ecs.js';
import type { ContainerSpec, StreamSession } from '../../kubelet/runtime/types.js';
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

const runtime = (node = 'node-a', taskRoleArn?: string) =>
  new EcsRuntime({
    ecs: new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials }),
    logs: new CloudWatchLogsClient({ endpoint: logs.endpoint, region: 'us-east-1', credentials }),
    cluster: 'skiff',
    node,
    subnets: ['subnet-a'],
    filesImage: BUSYBOX_IMAGE,
    executionRoleArn: EXECUTION_ROLE,
    taskRoleArn,
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
  const defs = ecs.taskDefinitions.get('skiff-default-web-5d8f7c') ?? [];
  expect(defs.filter((d) => d.status === 'ACTIVE')).toHaveLength(1);
  const client = new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials });
  const described = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'skiff-default-web-5d8f7c' }));
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
  const definition = (ecs.taskDefinitions.get('skiff-default-health') ?? []).at(-1);
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

it('runs a pod as one task: init containers first, then containers that share its address, its volumes and localhost', async () => {
  const rt = runtime('node-p');
  // An emptyDir: the kubelet's empty folder, a task volume the pod's containers share.
  const mount = { hostPath: mkdtempSync(join(tmpdir(), 'skiff-ecs-pod-')), containerPath: '/shared', readOnly: false };
  const container = (name: string, script: string) => pod('uid-pod', 'web-5d8f7c-pqrst', script, { name, mounts: [mount] });
  const started = await rt.startPod({
    init: [container('setup', 'sleep 3; echo made by init > /shared/msg')],
    containers: [
      container('server', 'exec httpd -f -p 8080 -h /shared'),
      container('client', 'until wget -qO- http://127.0.0.1:8080/msg; do sleep 0.2; done; exec sleep 60'),
    ],
  });
  expect(started.map((c) => [c.spec.name, c.state])).toEqual([
    ['setup', 'running'],
    ['server', 'waiting'],
    ['client', 'waiting'],
  ]);
  const tasks = [...ecs.tasks.values()].filter((t) => t.startedBy === 'uid-pod');
  expect(tasks).toHaveLength(1);
  expect(tasks[0].def.containerDefinitions.map((c) => [c.name, c.essential, c.dependsOn?.[0]?.containerName])).toEqual([
    ['skiff-files', false, undefined],
    ['setup', false, 'skiff-files'],
    ['server', true, 'setup'],
    ['client', true, 'setup'],
  ]);
  const client = started[2].id;
  const deadline = Date.now() + 30_000;
  while (!(await rt.logs(client)).includes('made by init')) {
    if (Date.now() > deadline) throw new Error(`the client never read the server: ${await rt.logs(client)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const now = await Promise.all(started.map((c) => rt.inspect(c.id, true)));
  expect(now.map((c) => [c.spec.name, c.state, c.exitCode])).toEqual([
    ['setup', 'exited', 0],
    ['server', 'running', undefined],
    ['client', 'running', undefined],
  ]);
  expect(new Set(now.map((c) => c.address)).size).toBe(1);
  expect(now[1].address).toMatch(/^10\.2\d\d\./);
  // ECS stops a task, not one container: stopping one ends the pod's run.
  const stopped = await rt.stop(now[1].id, 1000);
  expect(stopped.state).toBe('exited');
  expect((await rt.inspect(client, true)).state).toBe('exited');
  expect(await rt.list()).toHaveLength(3);
  for (const c of now) await rt.remove(c.id);
  expect(await rt.list()).toEqual([]);
  expect((ecs.taskDefinitions.get('skiff-default-web-5d8f7c') ?? []).filter((d) => d.status === 'ACTIVE')).toHaveLength(0);
}, 90_000);

it('an init container that fails ends the pod run with its exit code: the containers after it never start', async () => {
  const rt = runtime('node-i');
  const started = await rt.startPod({
    init: [pod('uid-init', 'job-abcde', 'exit 3', { name: 'check' })],
    containers: [pod('uid-init', 'job-abcde', 'echo never', { name: 'main' })],
  });
  const deadline = Date.now() + 30_000;
  let statuses = started;
  while (statuses.some((c) => c.state !== 'exited')) {
    if (Date.now() > deadline) throw new Error(`the run never ended: ${JSON.stringify(statuses.map((c) => c.state))}`);
    await new Promise((r) => setTimeout(r, 250));
    statuses = await Promise.all(started.map((c) => rt.inspect(c.id, true)));
  }
  expect(statuses[0].exitCode).toBe(3);
  expect(statuses[1].exitCode).not.toBe(0);
  expect(await rt.logs(statuses[1].id)).toBe('');
  for (const c of statuses) await rt.remove(c.id);
}, 60_000);

it('kubectl exec is ECS Exec: stdin in, output out and the exit code back, with or without a terminal', async () => {
  const rt = runtime('node-x', 'arn:aws:iam::123456789012:role/skiff-pod-task');
  const c = await rt.start(pod('uid-x', 'exec', 'exec sleep 60'));
  const read = async (session: StreamSession) => {
    let text = '';
    session.stdout.on('data', (b: Buffer) => (text += b.toString()));
    const code = await session.exited;
    return { text, code };
  };
  const piped = await rt.execStream!(c.id, ['sh', '-c', 'read line; echo "got $line"; cat; exit 3'], { stdin: true, tty: false });
  piped.stdin!.write('first\n');
  piped.stdin!.end('rest of it\n');
  // No echo of the input and no carriage returns: the terminal is quiet where no TTY was asked for.
  expect(await read(piped)).toEqual({ text: 'got first\nrest of it\n', code: 3 });
  const terminal = await rt.execStream!(c.id, ['sh', '-c', '[ -t 0 ] && echo "on a terminal"'], { stdin: false, tty: true, size: { width: 100, height: 30 } });
  expect(await read(terminal)).toEqual({ text: 'on a terminal\r\n', code: 0 });
  const sessions = ecs.requests.filter((r) => r.action === 'ExecuteCommand');
  expect(sessions.at(-1)?.params).toMatchObject({ container: 'main', interactive: true });
  // Without a task role, tasks run without ECS Exec, and exec says so.
  const plain = runtime('node-y');
  const d = await plain.start(pod('uid-y', 'noexec', 'exec sleep 60'));
  await expect(plain.execStream!(d.id, ['true'], { stdin: false, tty: false })).rejects.toThrow(/task role/);
  for (const [r, x] of [
    [rt, c],
    [plain, d],
  ] as const) {
    await r.stop(x.id, 1000);
    await r.remove(x.id);
  }
}, 90_000);

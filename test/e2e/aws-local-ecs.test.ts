/**
 * `skiff up --shape aws-local --provider aws-ecs --provision --nodes 0`: a Deployment of 20
 * replicas with no node at start runs on ECS nodes the provisioner adds (each a kubelet task
 * whose pods are Fargate tasks on the emulator's private Docker engine), with the task's address
 * as each pod's and its log through kubectl; scaled to zero, its nodes are removed after the
 * consolidation delay and nothing is left in ECS: no task running, no task definition active.
 * A pod of three containers is one task: its init container runs first, then its two containers
 * share the task's address and an emptyDir, one reading the other on localhost. A pod whose
 * container ends is restarted as a new task, or (restartPolicy Never) ends with its exit code.
 * `kubectl exec` reaches a pod's container through ECS Exec.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, ListTaskDefinitionsCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { eventually, startSkiffUp } from '../support/skiff-up.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-aws-local-ecs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sidecarPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'paired' },
  spec: {
    volumes: [{ name: 'shared', emptyDir: {} }],
    initContainers: [
      {
        name: 'setup',
        image: 'busybox',
        command: ['sh', '-c', 'echo setting up; echo made by init > /shared/msg'],
        volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
      },
    ],
    containers: [
      { name: 'server', image: 'busybox', command: ['httpd', '-f', '-p', '8080', '-h', '/shared'], volumeMounts: [{ name: 'shared', mountPath: '/shared' }] },
      { name: 'client', image: 'busybox', command: ['sh', '-c', 'until wget -qO- http://127.0.0.1:8080/msg; do sleep 0.5; done; exec sleep 3600'] },
    ],
  },
};

const endingPods = [
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'crash' },
    spec: { containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'sleep 1; exit 1'] }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'once' },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', 'exit 2'] }] },
  },
];

describe('skiff up --shape aws-local --provider aws-ecs --provision', () => {
  it('runs 20 replicas on provisioned ECS nodes, and leaves nothing in ECS once scaled to zero', async () => {
    const skiff = await startSkiffUp(join(dir, 'data'), [
      '--shape',
      'aws-local',
      '--provider',
      'aws-ecs',
      '--provision',
      '--consolidate-seconds',
      '2',
      '--nodes',
      '0',
      '--lease-interval-ms',
      '2000',
    ]);
    const endpoint = /ecs\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(skiff.output())?.[1];
    expect(endpoint, skiff.output()).toBeDefined();
    const ecs = new ECSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      expect((await skiff.kubectl(['get', 'nodes', '-o', 'name'])).stdout.trim()).toBe('');
      expect(
        (await skiff.kubectl(['create', 'deployment', 'web', '--image=busybox', '--replicas=20', '--', 'sh', '-c', 'echo "up on $HOSTNAME"; exec sleep 3600']))
          .code,
      ).toBe(0);
      // Twenty Fargate tasks on a machine running other clusters at once: minutes, not seconds.
      const rollout = await skiff.kubectl(['rollout', 'status', 'deployment/web', '--timeout=400s'], { timeoutMs: 410_000 });
      expect(rollout.code, `${rollout.stderr}\n${skiff.output()}`).toBe(0);
      const nodes = await skiff.kubectl(['get', 'nodes', '-L', 'skiff.dev/capacity-type,node.kubernetes.io/instance-type', '--no-headers']);
      expect(nodes.stdout).toMatch(/^skiff-\S+\s+Ready\s.*\bfargate\s+fargate\.\d+x\d+$/m);
      // Each pod is a task of its own, with the task's address.
      const ips = (await skiff.kubectl(['get', 'pods', '-o', 'jsonpath={.items[*].status.podIP}'])).stdout.trim().split(/\s+/);
      expect(ips).toHaveLength(20);
      expect(new Set(ips).size).toBe(20);
      for (const ip of ips) expect(ip).toMatch(/^10\.2\d\d\./);
      const running = await ecs.send(new ListTasksCommand({ cluster: 'aws-local', desiredStatus: 'RUNNING' }));
      expect(running.taskArns?.length).toBeGreaterThanOrEqual(21);
      const pod = (await skiff.kubectl(['get', 'pods', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout.trim();
      await eventually('the log through kubectl', async () => (await skiff.kubectl(['logs', pod])).stdout === `up on ${pod}\n`, 30_000);

      const applied = await skiff.kubectl(['apply', '-f', '-'], { input: [sidecarPod, ...endingPods].map((o) => stringify(o)).join('---\n') });
      expect(applied.code, applied.stderr).toBe(0);
      const ready = await skiff.kubectl(['wait', '--for=condition=Ready', 'pod/paired', '--timeout=240s'], { timeoutMs: 250_000 });
      expect(ready.code, ready.stderr).toBe(0);
      await eventually(
        'the sidecar reading the server on localhost',
        async () => (await skiff.kubectl(['logs', 'paired', '-c', 'client'])).stdout.includes('made by init'),
        60_000,
      );
      const paired = JSON.parse((await skiff.kubectl(['get', 'pod', 'paired', '-o', 'json'])).stdout);
      expect(paired.status.phase).toBe('Running');
      expect(paired.status.podIP).toMatch(/^10\.2\d\d\./);
      expect(paired.status.initContainerStatuses[0].state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
      expect(paired.status.containerStatuses.map((c: { name: string; ready: boolean }) => [c.name, c.ready])).toEqual([
        ['server', true],
        ['client', true],
      ]);
      expect((await skiff.kubectl(['logs', 'paired', '-c', 'setup'])).stdout).toBe('setting up\n');
      const tasks = await ecs.send(new ListTasksCommand({ cluster: 'aws-local', startedBy: paired.metadata.uid }));
      expect(tasks.taskArns).toHaveLength(1);
      // kubectl exec is ECS Exec: into the container asked for, stdin in, the exit code back.
      const read = await skiff.kubectl(['exec', 'paired', '-c', 'server', '--', 'cat', '/shared/msg']);
      expect(read, skiff.output()).toMatchObject({ code: 0, stdout: 'made by init\n' });
      const piped = await skiff.kubectl(['exec', '-i', 'paired', '-c', 'client', '--', 'sh', '-c', 'cat; exit 3'], { input: 'piped in\n' });
      expect(piped).toMatchObject({ code: 3, stdout: 'piped in\n' });
      // A pod's run ends with its task: restarted as a whole (Always), or the pod ends (Never) with the exit code.
      await eventually(
        'the crashing pod restarted',
        async () => {
          const crash = JSON.parse((await skiff.kubectl(['get', 'pod', 'crash', '-o', 'json'])).stdout);
          return crash.status.containerStatuses?.[0]?.restartCount >= 1;
        },
        120_000,
      );
      await eventually(
        'the pod that ran once Failed',
        async () => {
          const once = JSON.parse((await skiff.kubectl(['get', 'pod', 'once', '-o', 'json'])).stdout);
          return once.status.phase === 'Failed' && once.status.containerStatuses[0].state.terminated?.exitCode === 2;
        },
        120_000,
      );
      expect((await skiff.kubectl(['delete', 'pod', 'paired', 'crash', 'once', '--grace-period=1'], { timeoutMs: 90_000 })).code).toBe(0);

      expect((await skiff.kubectl(['scale', 'deployment/web', '--replicas=0'])).code).toBe(0);
      await eventually('the nodes removed', async () => (await skiff.kubectl(['get', 'nodes', '-o', 'name'])).stdout.trim() === '', 120_000);
      await eventually(
        'no task left running',
        async () => (await ecs.send(new ListTasksCommand({ cluster: 'aws-local', desiredStatus: 'RUNNING' }))).taskArns?.length === 0,
        60_000,
      );
      await eventually(
        'no task definition left',
        async () => (await ecs.send(new ListTaskDefinitionsCommand({ status: 'ACTIVE' }))).taskDefinitionArns?.length === 0,
        60_000,
      );
    } finally {
      ecs.destroy();
      expect(await skiff.stop()).toBe(0);
    }
  }, 780_000);
});

/**
 * The CloudProvider contract on `aws-ecs`, against the ECS and CloudWatch Logs emulators over the
 * real SDK: each node a kubelet task (a real kubelet process, as the emulator runs the kubelet's
 * image) that joins a real API with a bootstrap token and runs its pods as Fargate tasks on a
 * private Docker engine. Then what ECS adds: a pod of the node really runs as a task with its
 * own address and exit code, and deleting the node leaves no task and no task definition.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE } from '../../emulators/docker-engine.js';
import type { EcsEmulator } from '../../emulators/ecs.js';
import type { LogsEmulator } from '../../emulators/logs.js';
import { type EcsCloud, EXECUTION_ROLE, startEcsCloud } from '../support/ecs-cloud.js';
import { createBootstrapToken } from '../../shared/auth/bootstrap-tokens.js';
import { AwsEcsCloudProvider, fargateCatalogue } from '../../shared/cloud/aws-ecs.js';
import { kubeletUserData } from '../../shared/cloud/kubelet-script.js';
import { InsufficientCapacityError, type NodeRequest } from '../../shared/cloud/types.js';
import { joining, startTestCluster, type TestCluster } from '../support/api-server.js';
import { until } from '../support/until.js';
import { cloudContract } from './cloud.contract.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const ZONES = ['us-east-1a', 'us-east-1b'];
const SUBNETS = { 'us-east-1a': 'subnet-a', 'us-east-1b': 'subnet-b' };
const KUBELET_IMAGE = 'skiff/kubelet:test';

let cloud: EcsCloud;
let logs: LogsEmulator;
let ecs: EcsEmulator;
let cluster: TestCluster;
let bootstrapToken: string;

beforeAll(async () => {
  cloud = await startEcsCloud({
    clusters: ['contract'],
    subnets: Object.fromEntries(Object.entries(SUBNETS).map(([zone, subnet]) => [subnet, zone])),
    hostImages: [KUBELET_IMAGE],
  });
  ({ logs, ecs } = cloud);
  cluster = await startTestCluster();
  bootstrapToken = await createBootstrapToken(cluster.store, { ttlSeconds: 3600, description: 'aws-ecs contract' });
}, 120_000);

afterAll(async () => {
  await cloud?.close();
  await cluster?.stop();
});

/** The kubelet task's command: a kubelet from this checkout, with the ecs runtime, joining with the bootstrap token. */
const kubeletScript = (node: NodeRequest) =>
  kubeletUserData({
    ...joining(cluster, bootstrapToken),
    node,
    identity: 'ecs',
    runtime: 'ecs',
    capacity: { cpu: 4000, memory: 8 * 2 ** 30, pods: 20 },
    podPollSeconds: 1,
    env: { SKIFF_ECS_SUBNETS: SUBNETS[node.zone as keyof typeof SUBNETS] },
  });

function openProvider() {
  const client = new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  const provider = new AwsEcsCloudProvider({
    client,
    cluster: 'contract',
    catalogue: fargateCatalogue(ZONES),
    subnets: SUBNETS,
    kubeletImage: KUBELET_IMAGE,
    executionRoleArn: EXECUTION_ROLE,
    kubeletEnvironment: {
      SKIFF_ECS_CLUSTER: 'contract',
      SKIFF_ECS_EXECUTION_ROLE: EXECUTION_ROLE,
      SKIFF_ECS_FILES_IMAGE: BUSYBOX_IMAGE,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_ECS: ecs.endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.endpoint,
    },
    kubeletScript,
  });
  return { client, provider };
}

/** Deletes every Node object (what the node lifecycle controller does for a node that is gone). */
async function forgetNodes(): Promise<void> {
  for (const node of (await cluster.api('/api/v1/nodes')).json().items) await cluster.api(`/api/v1/nodes/${node.metadata.name}`, { method: 'DELETE' });
}

const running = () => [...ecs.tasks.values()].filter((t) => t.lastStatus !== 'STOPPED');
const activeDefinitions = () => [...ecs.taskDefinitions.values()].flat().filter((d) => d.status === 'ACTIVE');

cloudContract('aws-ecs', async () => {
  const { client, provider } = openProvider();
  return {
    provider,
    instanceType: 'fargate.4x8',
    zone: 'us-east-1a',
    unservedZone: 'us-east-1c',
    registered: async (name) => (await cluster.api(`/api/v1/nodes/${name}`)).status === 200,
    cleanup: async () => {
      for (const node of await provider.list()) await provider.delete(node.name);
      client.destroy();
      await forgetNodes();
    },
  };
});

describe('aws-ecs: pods as Fargate tasks', () => {
  it('runs a pod of the node as a task with its own address and exit code, and a deleted node leaves nothing in ECS', async () => {
    const { client, provider } = openProvider();
    try {
      const node = await provider.create({ name: 'ecs-pods', instanceType: 'fargate.4x8', zone: 'us-east-1b' });
      expect(node.providerID).toMatch(/^aws-ecs:\/\/us-east-1b\/[0-9a-f]{32}$/);
      // Registered: the Node made, and then its status (capacity) written.
      const nodeObject = await until(
        'the node to register',
        async () => {
          const r = await cluster.api('/api/v1/nodes/ecs-pods');
          return r.status === 200 && r.json().status?.capacity && r.json();
        },
        60_000,
        200,
      );
      expect(nodeObject.status.capacity).toMatchObject({ cpu: '4000m', pods: '20' });
      expect(nodeObject.metadata.labels['node.kubernetes.io/instance-type']).toBe('fargate.4x8');
      const pod = (name: string, script: string) =>
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name },
          spec: {
            nodeName: 'ecs-pods',
            restartPolicy: 'Never',
            containers: [{ name: 'main', image: BUSYBOX_IMAGE, command: ['sh', '-c', script], resources: { requests: { cpu: '250m', memory: '256Mi' } } }],
          },
        });
      // The pods' token volume (a task volume filled before the container starts) needs their account.
      const account = JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
      expect([201, 409]).toContain((await cluster.api('/api/v1/namespaces/default/serviceaccounts', { method: 'POST', body: account })).status);
      for (const [name, script] of [
        ['ok', 'echo done; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace'],
        ['fails', 'exit 3'],
        ['serves', 'mkdir -p /w && echo hi > /w/index.html && exec httpd -f -p 8080 -h /w'],
      ])
        expect((await cluster.api('/api/v1/namespaces/default/pods', { method: 'POST', body: pod(name, script) })).status).toBe(201);
      const phase = async (name: string) => (await cluster.api(`/api/v1/namespaces/default/pods/${name}`)).json().status?.phase;
      await until('the pods to finish', async () => (await phase('ok')) === 'Succeeded' && (await phase('fails')) === 'Failed', 60_000, 200);
      const failed = (await cluster.api('/api/v1/namespaces/default/pods/fails')).json();
      expect(failed.status.containerStatuses[0].state.terminated.exitCode).toBe(3);
      const serving = await until(
        'the server pod to run',
        async () => {
          const p = (await cluster.api('/api/v1/namespaces/default/pods/serves')).json();
          return p.status?.phase === 'Running' && p.status.podIP?.startsWith('10.') && p;
        },
        60_000,
        200,
      );
      // Running is started, not yet listening: asked until it answers.
      const page = await until('the page', async () => (await fetch(`http://${serving.status.podIP}:8080/`).catch(() => undefined))?.text(), 30_000, 200);
      expect(page).toBe('hi\n');
      // Its output is in CloudWatch Logs, as the awslogs driver ships it; it read its token volume.
      const shipped = () =>
        [...(logs.groups.get('/skiff/contract') ?? new Map()).entries()]
          .filter(([name]) => name.startsWith('skiff/main/'))
          .map(([, events]) => events.map((e: { message: string }) => e.message).join('\n'));
      await until('the log shipped', async () => shipped().includes('done\ndefault'), 30_000, 200).catch((err: Error) => {
        throw new Error(`${err.message}; the streams hold ${JSON.stringify(shipped())}`);
      });
      expect(running().length).toBeGreaterThanOrEqual(2);
      await provider.delete('ecs-pods');
      await until('every task to stop', async () => running().length === 0, 60_000, 200);
      expect(activeDefinitions()).toEqual([]);
    } finally {
      for (const n of await provider.list()) await provider.delete(n.name);
      client.destroy();
      await forgetNodes();
      for (const name of ['ok', 'fails', 'serves']) await cluster.api(`/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=0`, { method: 'DELETE' });
    }
  }, 120_000);

  it('remembers a zone without Fargate capacity, so the next try goes elsewhere', async () => {
    const { client, provider } = openProvider();
    ecs.insufficientCapacity('us-east-1a');
    try {
      await expect(provider.create({ name: 'ice', instanceType: 'fargate.4x8', zone: 'us-east-1a' })).rejects.toBeInstanceOf(InsufficientCapacityError);
      const calls = ecs.requests.filter((r) => r.action === 'RunTask').length;
      await expect(provider.create({ name: 'ice', instanceType: 'fargate.4x8', zone: 'us-east-1a' })).rejects.toBeInstanceOf(InsufficientCapacityError);
      expect(ecs.requests.filter((r) => r.action === 'RunTask')).toHaveLength(calls);
      expect((await provider.instanceTypes()).find((t) => t.name === 'fargate.4x8')?.zones).toEqual(['us-east-1b']);
    } finally {
      ecs.insufficientCapacity('us-east-1a', false);
      client.destroy();
    }
  });
});

/**
 * Migration by swapping adapters, end to end: a 10-replica Deployment with a readiness probe runs
 * on two `aws-ec2` nodes (EC2 emulator instances whose kubelets run the pods as processes); a
 * Migration to `aws-ecs` moves it onto ECS nodes the provisioner launches (each pod a Fargate task
 * on a private Docker engine). Sampled every 100 ms, the ready replicas never drop below 9; no pod
 * is lost; the EC2 nodes and instances are gone. The control plane is killed midway and a new one
 * (fresh memory, as after a crash) finishes the migration.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalCloudProvider } from '../../kubelet/local-provider.js';
import { type Ec2Emulator, startEc2Emulator } from '../../emulators/ec2.js';
import { typedList } from '../../shared/api/objects.js';
import { createBootstrapToken } from '../../shared/auth/bootstrap-tokens.js';
import { AwsEc2CloudProvider } from '../../shared/cloud/aws-ec2.js';
import { AwsEcsCloudProvider, fargateCatalogue } from '../../shared/cloud/aws-ecs.js';
import { ec2Catalogue } from '../../shared/cloud/ec2-catalogue.js';
import { kubeletUserData } from '../../shared/cloud/kubelet-script.js';
import type { CloudProvider, LaunchRequest, NodeRequest } from '../../shared/cloud/types.js';
import { type ControlPlane, startControlPlane } from '../../shared/control-plane.js';
import { MIGRATIONS_RESOURCE } from '../../shared/controllers/migration.js';
import { isPodReady } from '../../shared/controllers/replicaset.js';
import { createWorkerLaunchTemplate } from '../../cli/aws-local-workers.js';
import { joining, startTestCluster, type TestCluster } from '../support/api-server.js';
import { type EcsCloud, EXECUTION_ROLE, startEcsCloud } from '../support/ecs-cloud.js';
import { claimLoopbackSlot } from '../support/loopback-slots.js';
import { until } from '../support/until.js';
import { DEFAULT_CLUSTER_CIDR } from '../../shared/net/cidr.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const ZONE = 'us-east-1a';
const KUBELET_IMAGE = 'skiff/kubelet:migration';
let cluster: TestCluster;
let ec2: Ec2Emulator;
let cloud: EcsCloud;
let bootstrapToken: string;
const clients: { destroy(): void }[] = [];
let plane: ControlPlane | undefined;
let ec2Provider: AwsEc2CloudProvider;
let launchTemplateId: string;

beforeAll(async () => {
  cluster = await startTestCluster();
  bootstrapToken = await createBootstrapToken(cluster.store, { ttlSeconds: 3600, description: 'migration test' });
  ec2 = await startEc2Emulator({ offerings: ec2Catalogue([ZONE]).map((t) => ({ instanceType: t.name, zones: t.zones })) });
  cloud = await startEcsCloud({ clusters: ['migration'], subnets: { 'subnet-a': ZONE }, hostImages: [KUBELET_IMAGE] });
  const client = new EC2Client({ endpoint: ec2.endpoint, region: 'us-east-1', credentials });
  launchTemplateId = await createWorkerLaunchTemplate(client);
  client.destroy();
  ec2Provider = providers().ec2;
}, 120_000);

afterAll(async () => {
  await plane?.stop();
  for (const c of clients) c.destroy();
  await ec2?.close();
  await cloud?.close();
  await cluster?.stop();
});

const joins = (node: NodeRequest | LaunchRequest) => ({ ...joining(cluster, bootstrapToken), node, podPollSeconds: 1 });

/** The two providers, as a control plane that starts afresh makes them (nothing remembered). */
function providers(): { ec2: AwsEc2CloudProvider; ecs: AwsEcsCloudProvider } {
  const ec2Client = new EC2Client({ endpoint: ec2.endpoint, region: 'us-east-1', credentials });
  const ecsClient = new ECSClient({ endpoint: cloud.ecs.endpoint, region: 'us-east-1', credentials });
  clients.push(ec2Client, ecsClient);
  return {
    ec2: new AwsEc2CloudProvider({
      client: ec2Client,
      cluster: 'migration',
      catalogue: ec2Catalogue([ZONE]),
      launchTemplateId,
      // Each node's pods get a loopback range of their own, chosen by its (emulated) address.
      userData: (node) => kubeletUserData({ ...joins(node), loopbackPodCidr: DEFAULT_CLUSTER_CIDR, runtime: 'process' }),
    }),
    ecs: new AwsEcsCloudProvider({
      client: ecsClient,
      cluster: 'migration',
      catalogue: fargateCatalogue([ZONE]),
      subnets: { [ZONE]: 'subnet-a' },
      kubeletImage: KUBELET_IMAGE,
      executionRoleArn: EXECUTION_ROLE,
      kubeletEnvironment: {
        SKIFF_ECS_CLUSTER: 'migration',
        SKIFF_ECS_EXECUTION_ROLE: EXECUTION_ROLE,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_ECS: cloud.ecs.endpoint,
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: cloud.logs.endpoint,
      },
      kubeletScript: (node) =>
        kubeletUserData({
          ...joins(node),
          identity: 'ecs',
          runtime: 'ecs',
          capacity: { cpu: 4000, memory: 8 * 2 ** 30, pods: 20 },
          env: { SKIFF_ECS_SUBNETS: 'subnet-a' },
        }),
    }),
  };
}

/** A control plane whose provisioner launches on `target`, and that migrates between `all`. */
async function startPlane(target: CloudProvider, all: CloudProvider[]): Promise<ControlPlane> {
  return startControlPlane({ store: cluster.store, provisioner: { provider: target, batchIdleMs: 200 }, migration: { providers: all } });
}

const podsOf = async (app: string) => typedList('pods', (await cluster.store.list('pods', { namespace: 'default', labelSelector: `app=${app}` })).items);
const nodes = async () => typedList('nodes', (await cluster.store.list('nodes')).items);
const migration = async (name: string) =>
  (await cluster.store.get(MIGRATIONS_RESOURCE, '', name)) as { status?: { phase?: string; podsMoved?: number } } | undefined;
const readyCount = async (app: string) => (await podsOf(app)).filter((p) => !p.metadata.deletionTimestamp && isPodReady(p)).length;

/** The skiff CLI as a user runs it, against this cluster's kubeconfig. */
function skiff(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/skiff.ts', ...args, '--kubeconfig', cluster.server.kubeconfigPath], (err, stdout, stderr) =>
      done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A Deployment of 10 web servers with a readiness probe, each listening on its pod's address. */
async function deploy(app: string): Promise<void> {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app },
    spec: {
      replicas: 10,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app } },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'web',
              image: 'busybox',
              // On a process node the pod listens on its own loopback address; a task has an address of its own.
              // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
              command: ['sh', '-c', 'www=$(mktemp -d) && echo ok > "$www/index.html" && exec busybox httpd -f -h "$www" -p "${POD_IP:-0.0.0.0}:8080"'],
              env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
              resources: { requests: { cpu: '100m', memory: '64Mi' } },
            },
          ],
        },
      },
    },
  };
  expect((await cluster.api('/apis/apps/v1/namespaces/default/deployments', { method: 'POST', body: JSON.stringify(deployment) })).status).toBe(201);
  await until(`10 ready replicas of ${app}`, async () => (await readyCount(app)) === 10, 90_000, 200);
}

/**
 * `skiff migrate --to <to>` while the app's ready replicas are sampled every 100 ms; `midway`
 * runs once a few pods have moved. Returns the migration's name and the fewest ready seen.
 */
async function migrateWatching(app: string, to: string, midway?: () => Promise<void>): Promise<{ name: string; lowest: number }> {
  let lowest = 10;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      lowest = Math.min(lowest, await readyCount(app));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const started = await skiff(['migrate', '--to', to, '--no-wait']);
    expect(started.code, started.stderr).toBe(0);
    const name = new RegExp(`started (to-${to}-\\S+):`).exec(started.stdout)?.[1] ?? '';
    expect(name).not.toBe('');
    if (midway) {
      await until('a few pods moved', async () => ((await migration(name))?.status?.podsMoved ?? 0) >= 3, 120_000, 100);
      await midway();
    }
    await until('the migration to complete', async () => (await migration(name))?.status?.phase === 'Complete', 240_000, 200).catch(async (err) => {
      // What stood when it did not complete, for whoever reads the failure.
      const state = {
        migration: (await migration(name))?.status,
        nodes: (await nodes()).map((n) => [n.metadata.name, n.spec?.providerID, n.spec?.unschedulable, n.metadata.annotations]),
        pods: (await podsOf(app)).map((p) => [p.metadata.name, p.spec.nodeName, p.status?.phase, isPodReady(p), !!p.metadata.deletionTimestamp]),
      };
      throw new Error(`${(err as Error).message}: ${JSON.stringify(state)}`);
    });
    // The last pod moved may still be starting when the last old node goes.
    await until('10 ready replicas', async () => (await readyCount(app)) === 10, 60_000, 200);
    return { name, lowest };
  } finally {
    sampling = false;
    await sampler;
  }
}

/** Every replica of the app is ready, on a node of `provider`, and every node is of it. */
async function allOn(app: string, provider: string): Promise<void> {
  const after = (await podsOf(app)).filter((p) => !p.metadata.deletionTimestamp);
  expect(after).toHaveLength(10);
  const byName = new Map((await nodes()).map((n) => [n.metadata.name, n]));
  for (const p of after) {
    expect(isPodReady(p)).toBe(true);
    expect(byName.get(p.spec.nodeName)?.spec?.providerID?.startsWith(`${provider}://`)).toBe(true);
  }
  expect([...byName.values()].every((n) => n.spec?.providerID?.startsWith(`${provider}://`))).toBe(true);
}

async function liveInstances(): Promise<number> {
  const client = new EC2Client({ endpoint: ec2.endpoint, region: 'us-east-1', credentials });
  clients.push(client);
  const live = await client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }] }));
  return (live.Reservations ?? []).flatMap((r) => r.Instances ?? []).length;
}

/** Deletes the app and removes every node at its provider (for the next case). */
async function clearAway(app: string, all: CloudProvider[]): Promise<void> {
  await cluster.api(`/apis/apps/v1/namespaces/default/deployments/${app}`, { method: 'DELETE' });
  await until(`the pods of ${app} gone`, async () => (await podsOf(app)).length === 0, 60_000, 200);
  await plane?.stop();
  plane = undefined;
  for (const n of await nodes()) {
    for (const provider of all) await provider.delete(n.metadata.name as string);
    await cluster.store.delete('nodes', '', n.metadata.name as string);
  }
}

it('moves a Deployment from aws-ec2 to aws-ecs with 9 of 10 replicas ready throughout, resuming after a crash', async () => {
  for (const name of ['ec2-a', 'ec2-b']) await ec2Provider.create({ name, instanceType: 'm5.large', zone: ZONE });
  const fresh = () => {
    const { ec2: old, ecs } = providers();
    return startPlane(ecs, [old, ecs]);
  };
  plane = await fresh();
  await until('the EC2 nodes to be ready', async () => (await nodes()).length === 2, 60_000, 200);
  await deploy('web');
  const { name, lowest } = await migrateWatching('web', 'aws-ecs', async () => {
    // A crash: the control plane is gone, and a new one knows nothing but what is stored.
    await plane?.stop();
    await new Promise((r) => setTimeout(r, 1000));
    plane = await fresh();
  });
  // Never below 9, and 9 at times: pods really moved one by one.
  expect(lowest).toBe(9);
  await allOn('web', 'aws-ecs');
  expect(await liveInstances()).toBe(0);

  const status = await skiff(['migrate', '--status']);
  expect(status.stdout).toContain(`${name}  [########################] 100%  2/2 nodes moved`);
  expect(status.stdout).toMatch(/\(to aws-ecs: Complete\)/);
  // Asked again for the same provider once done: a new migration, with nothing to move.
  const again = await skiff(['migrate', '--to', 'aws-ecs']);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout).toMatch(/0\/0 nodes moved, 0 pods moved {2}\(to aws-ecs: Complete\)/);
  await clearAway('web', Object.values(providers()));
}, 420_000);

it('moves a Deployment from local kubelets to aws-ec2 the same way', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'skiff-migration-local-'));
  const slot = claimLoopbackSlot();
  const local = new LocalCloudProvider({
    server: cluster.server.url,
    caFile: join(cluster.dir, 'data', 'pki', 'ca.crt'),
    dataDir,
    runtime: 'process',
    issueToken: cluster.server.issueToken,
    clusterCidr: slot.clusterCidr,
  });
  try {
    for (const name of ['local-0', 'local-1']) await local.create({ name, instanceType: 'local', zone: 'local' });
    const { ec2: target } = providers();
    plane = await startPlane(target, [local, target]);
    await until('the local nodes to be ready', async () => (await nodes()).length === 2, 60_000, 200);
    await deploy('api');
    const { lowest } = await migrateWatching('api', 'aws-ec2');
    expect(lowest).toBe(9);
    await allOn('api', 'aws-ec2');
    expect(await local.list()).toEqual([]);
    expect(await liveInstances()).toBeGreaterThan(0);
    await clearAway('api', [local, target]);
    expect(await liveInstances()).toBe(0);
  } finally {
    await local.close();
    slot.release();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 420_000);

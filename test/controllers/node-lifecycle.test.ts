/**
 * A node that stops renewing its Lease goes Unknown, is tainted unreachable, and loses its pods
 * (after their toleration) to the other nodes; when it renews again, the taints go.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane, type ControlPlane } from '../../shared/control-plane.js';
import { UNREACHABLE } from '../../shared/controllers/node-lifecycle.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject, Store } from '../../shared/store/types.js';

let store: Store;
let plane: ControlPlane;
let cloud: SimCloudProvider;

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const nodeOf = (p: KubeObject) => (p.spec as { nodeName?: string }).nodeName;
const runningPods = async () => (await store.list('pods', { namespace: 'default', labelSelector: 'app=web' })).items.filter((p) => !p.metadata.deletionTimestamp && (p.status as { phase?: string }).phase === 'Running');

beforeEach(async () => {
  store = openSqliteStore({ path: ':memory:' });
  const registry = new Registry(store);
  await registry.ensureSystemNamespaces();
  cloud = new SimCloudProvider(store, { leaseIntervalMs: 100 });
  for (let i = 0; i < 3; i++) await cloud.create({ name: `sim-${i}`, instanceType: 'sim.large', zone: ['sim-a', 'sim-b', 'sim-c'][i] });
  plane = await startControlPlane({ store, nodeLifecycle: { gracePeriodMs: 600, defaultTolerationSeconds: 0.5 } });
  await registry.create(findResource('apps', 'v1', 'deployments')!, 'default', {
    metadata: { name: 'web' },
    spec: { replicas: 6, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } } },
  });
  await until('6 running', async () => (await runningPods()).length === 6);
});
afterEach(async () => {
  await plane.stop();
  await cloud.close();
  await store.close();
});

describe('node lifecycle', () => {
  it('a node that stops renewing loses its pods to the other nodes, and is trusted again once it renews', async () => {
    expect((await runningPods()).filter((p) => nodeOf(p) === 'sim-0').length).toBeGreaterThan(0);
    cloud.kubelet('sim-0')!.stopRenewing();
    const node = await until('sim-0 tainted', async () => {
      const n = await store.get('nodes', '', 'sim-0');
      return ((n.spec as { taints?: { key: string }[] }).taints ?? []).some((t) => t.key === UNREACHABLE) && n;
    });
    const ready = ((node.status as { conditions: { type: string; status: string; reason: string }[] }).conditions).find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
    const moved = await until('6 running elsewhere', async () => {
      const pods = await runningPods();
      return pods.length === 6 && pods.every((p) => nodeOf(p) !== 'sim-0') && pods;
    });
    expect(new Set(moved.map(nodeOf))).toEqual(new Set(['sim-1', 'sim-2']));

    cloud.kubelet('sim-0')!.resumeRenewing();
    await until('sim-0 untainted', async () => {
      const n = await store.get('nodes', '', 'sim-0');
      return !((n.spec as { taints?: unknown[] }).taints ?? []).length;
    });
  }, 30_000);
});

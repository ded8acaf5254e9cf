/**
 * The provisioner on simulated nodes: a Deployment with no node to run on gets the cheapest
 * nodes that hold it (bin-packed, no more than the lower bound), runs on them, and when scaled to
 * zero its nodes are removed after the consolidation delay. A pod no offering can hold gets no
 * node; a pod pinned to a zone by nodeSelector gets a node in that zone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import { typedList } from '../../shared/api/objects.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane, type ControlPlane } from '../../shared/control-plane.js';
import { NODECLAIMS_RESOURCE, PROVISIONED_LABEL, ProvisionerController } from '../../shared/controllers/provisioner.js';
import { FakeCloudProvider } from '../../shared/cloud/fake.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { until } from '../support/until.js';

const DEPLOYMENTS = findResource('apps', 'v1', 'deployments')!;
const PODS = findResource('', 'v1', 'pods')!;
let store: Store;
let cloud: SimCloudProvider;
let plane: ControlPlane;
const launched: string[] = [];

beforeAll(async () => {
  store = openSqliteStore({ path: ':memory:' });
  await new Registry(store).ensureSystemNamespaces();
  cloud = new SimCloudProvider(store, { leaseIntervalMs: 60_000 });
  // sim.small: 2 cores for $0.10 an hour; sim.large: 8 cores for $0.32, cheaper by the core.
  plane = await startControlPlane({
    store,
    provisioner: { provider: cloud, prices: { 'sim.small': 0.1, 'sim.large': 0.32 }, consolidateAfterMs: 1000, log: (l) => launched.push(l) },
  });
});
afterAll(async () => {
  await plane?.stop();
  await cloud?.close();
  await store?.close();
});

const nodes = async () => typedList('nodes', (await store.list('nodes')).items);
const podsOf = async (app: string) => typedList('pods', (await store.list('pods', { namespace: 'default', labelSelector: `app=${app}` })).items);
const ready = (p: { status?: { conditions?: { type: string; status: string }[] } }) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

function deployment(name: string, replicas: number, cpu: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'app:v1', resources: { requests: { cpu } } }], ...extra } },
    },
  } as unknown as KubeObject;
}

describe('provisioner', () => {
  it('runs a Deployment with no node at start on the cheapest nodes that hold it, then removes them when it scales to zero', async () => {
    expect(await nodes()).toHaveLength(0);
    // 20 x 500m = 10 cores: one sim.large (16 pods' worth of cpu) and one sim.small for the other 4.
    await new Registry(store).create(DEPLOYMENTS, 'default', deployment('web', 20, '500m'));
    await until('20 pods ready', async () => (await podsOf('web')).filter(ready).length === 20, 30_000);
    const made = await nodes();
    expect(made.map((n) => n.metadata.labels?.['node.kubernetes.io/instance-type']).sort()).toEqual(['sim.large', 'sim.small']);
    for (const n of made) expect(n.metadata.labels?.[PROVISIONED_LABEL]).toBe('true');
    await until('claims settled', async () => (await store.list(NODECLAIMS_RESOURCE)).items.length === 0, 10_000);

    await guaranteedUpdate(store, 'deployments.apps', 'default', 'web', (d) => ({ ...d, spec: { ...(d.spec as object), replicas: 0 } }));
    await until('nodes removed', async () => (await nodes()).length === 0, 20_000);
    expect((await cloud.list()).length).toBe(0);
  }, 60_000);

  it('packs a Deployment scaled down onto fewer nodes: an under-used node is drained and removed', async () => {
    await new Registry(store).create(DEPLOYMENTS, 'default', deployment('pack', 20, '500m'));
    await until('20 pods ready', async () => (await podsOf('pack')).filter(ready).length === 20, 30_000);
    expect(await nodes()).toHaveLength(2);
    await until('claims settled', async () => (await store.list(NODECLAIMS_RESOURCE)).items.length === 0, 10_000);
    // 4 pods (2 cores) are left, on one node or both: either way one node holds them all.
    await guaranteedUpdate(store, 'deployments.apps', 'default', 'pack', (d) => ({ ...d, spec: { ...(d.spec as object), replicas: 4 } }));
    await until('one node left', async () => (await nodes()).length === 1, 30_000);
    await until(
      '4 pods ready on it',
      async () => {
        const [only] = await nodes();
        const left = (await podsOf('pack')).filter((p) => !p.metadata.deletionTimestamp);
        return left.length === 4 && left.every(ready) && left.every((p) => p.spec.nodeName === only?.metadata.name);
      },
      30_000,
    );
    await guaranteedUpdate(store, 'deployments.apps', 'default', 'pack', (d) => ({ ...d, spec: { ...(d.spec as object), replicas: 0 } }));
    await until('nodes removed', async () => (await nodes()).length === 0, 20_000);
  }, 90_000);

  it('gives a pod pinned to a zone a node there, and a pod no offering can hold none', async () => {
    const registry = new Registry(store);
    await registry.create(PODS, 'default', {
      metadata: { name: 'giant' },
      spec: { containers: [{ name: 'c', image: 'app:v1', resources: { requests: { cpu: '64' } } }] },
    } as unknown as KubeObject);
    await registry.create(DEPLOYMENTS, 'default', deployment('pinned', 1, '100m', { nodeSelector: { 'topology.kubernetes.io/zone': 'sim-c' } }));
    await until('the pinned pod ready', async () => (await podsOf('pinned')).filter(ready).length === 1, 30_000);
    const made = await nodes();
    expect(made).toHaveLength(1);
    expect(made[0].metadata.labels?.['topology.kubernetes.io/zone']).toBe('sim-c');
    // One 100m pod: the small type is the cheaper node for it.
    expect(made[0].metadata.labels?.['node.kubernetes.io/instance-type']).toBe('sim.small');
    const giant = typedList('pods', [await store.get('pods', 'default', 'giant')])[0];
    expect(giant.spec.nodeName).toBeUndefined();
    expect(launched.some((l) => l.includes('fit no offering'))).toBe(true);
  }, 60_000);
});

describe('provisioner, nodes that take time to start', () => {
  it('launches each node once while nodes boot, however often the pods change meanwhile', async () => {
    const slowStore = openSqliteStore({ path: ':memory:' });
    await new Registry(slowStore).ensureSystemNamespaces();
    const slow = new SimCloudProvider(slowStore, { leaseIntervalMs: 60_000, launchDelayMs: () => 1500 });
    const slowPlane = await startControlPlane({ store: slowStore, provisioner: { provider: slow, prices: { 'sim.small': 0.1, 'sim.large': 0.32 } } });
    try {
      // 30 x 500m: two sim.large hold 32; pods keep changing while the nodes boot (they are created in waves).
      await new Registry(slowStore).create(DEPLOYMENTS, 'default', deployment('waves', 10, '500m'));
      await new Promise((r) => setTimeout(r, 300));
      await guaranteedUpdate(slowStore, 'deployments.apps', 'default', 'waves', (d) => ({ ...d, spec: { ...(d.spec as object), replicas: 30 } }));
      await until(
        '30 pods ready',
        async () => typedList('pods', (await slowStore.list('pods', { namespace: 'default' })).items).filter(ready).length === 30,
        30_000,
      );
      // No node launched twice for the same pods: what was launched holds the 15 cores asked with
      // less than one node's worth to spare (the pods came in waves, each planned as it came).
      const cores = { 'sim.small': 2000, 'sim.large': 8000 } as Record<string, number>;
      const launchedCpu = (await slow.list()).reduce((a, n) => a + cores[n.instanceType], 0);
      expect(launchedCpu).toBeGreaterThanOrEqual(15_000);
      expect(launchedCpu - 15_000).toBeLessThan(8000);
    } finally {
      await slowPlane.stop();
      await slow.close();
      await slowStore.close();
    }
  }, 60_000);
});

describe('provisioner, an empty node and a pod still waiting', () => {
  it('keeps an empty node while a pod waits that the scheduler may yet bind there, and removes it once none waits', async () => {
    // The controller alone, on a clock of its own, with no scheduler: what a loaded control plane
    // looks like in the moment between a node coming up and the scheduler binding its pods.
    const own = openSqliteStore({ path: ':memory:' });
    const provider = new FakeCloudProvider();
    let now = 1_000_000;
    const provisioner = new ProvisionerController(own, { provider, consolidateAfterMs: 2000, now: () => now });
    try {
      await own.create('nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'made-1', labels: { [PROVISIONED_LABEL]: 'true' } },
        status: { allocatable: { cpu: '2', memory: '4Gi', pods: '17' }, conditions: [{ type: 'Ready', status: 'True' }] },
      });
      await own.create('pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'late', namespace: 'default' },
        spec: { containers: [{ name: 'c', image: 'app:v1' }] },
      });
      const exists = async () => (await own.get('nodes', '', 'made-1').catch(() => undefined)) !== undefined;
      await provisioner.reconcile(); // the empty clock starts
      now += 10_000;
      await provisioner.reconcile();
      expect(await exists()).toBe(true);
      expect(provider.calls.filter((c) => c.method === 'delete')).toHaveLength(0);
      // The pod goes (it could have been bound there): the node has been empty long enough.
      await own.delete('pods', 'default', 'late');
      await provisioner.reconcile();
      expect(await exists()).toBe(false);
      expect(provider.calls.filter((c) => c.method === 'delete').map((c) => c.argument)).toEqual(['made-1']);
    } finally {
      await own.close();
    }
  });
});

/**
 * Two scheduler passes racing for the same node's capacity, as two stream Lambdas would: with
 * per-node claims one pass wins the node and the other runs again on fresh state, so the node
 * is never overcommitted. Without claims (the embedded control plane's single scheduler) the
 * same race does overcommit, which shows the test can fail.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { CLAIMS_RESOURCE, SchedulerController, type SchedulerOptions } from '../../shared/controllers/scheduler.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject, Store } from '../../shared/store/types.js';

let store: Store;
let cloud: SimCloudProvider;

beforeEach(async () => {
  store = openSqliteStore({ path: ':memory:' });
  await store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  cloud = new SimCloudProvider(store, { leaseIntervalMs: 60_000 });
  // One node of 2 cpu: room for four 500m pods.
  await cloud.create({ name: 'only', instanceType: 'sim.small', zone: 'sim-a' });
});
afterEach(async () => {
  await cloud.close();
  await store.close();
});

const pod = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '500m', memory: '64Mi' } } }] },
});

/**
 * The race: pass A lists the pods b0..b3 and is held before it reads the nodes; meanwhile
 * a0..a3 are created and pass B places them (they sort first) on the node. Then A goes on
 * with its stale view and places b0..b3 on the same node. Both passes then run again until
 * neither has work left. Returns the pods bound to the node.
 */
async function race(options: SchedulerOptions): Promise<KubeObject[]> {
  for (let i = 0; i < 4; i++) await store.create('pods', pod(`b${i}`));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const slowStore = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'list') return Reflect.get(target, prop, receiver);
      return async (resource: string, listOptions?: object) => {
        if (resource === 'nodes') await held;
        return target.list(resource, listOptions);
      };
    },
  });
  const a = new SchedulerController(slowStore, options);
  const b = new SchedulerController(store, options);
  const first = a.reconcile();
  await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < 4; i++) await store.create('pods', pod(`a${i}`));
  const results = [await b.reconcile()];
  release();
  results.push(await first);
  for (let round = 0; round < 10 && results.some((r) => r?.requeueAfterMs === 0); round++) {
    results.splice(0, 2, ...(await Promise.all([a.reconcile(), b.reconcile()])));
  }
  return (await store.list('pods')).items.filter((p) => (p.spec as { nodeName?: string }).nodeName === 'only');
}

describe('concurrent schedulers', () => {
  it('with claims, two passes never place more than the node holds; the rest are Unschedulable', async () => {
    const bound = await race({ coordination: 'claims' });
    expect(bound.map((p) => p.metadata.name).sort()).toEqual(['a0', 'a1', 'a2', 'a3']);
    const pending = (await store.list('pods')).items.filter((p) => !(p.spec as { nodeName?: string }).nodeName);
    expect(pending).toHaveLength(4);
    for (const p of pending) {
      const scheduled = ((p.status as { conditions?: { type: string; reason?: string; message?: string }[] }).conditions ?? []).find(
        (c) => c.type === 'PodScheduled',
      );
      expect(scheduled?.reason).toBe('Unschedulable');
      expect(scheduled?.message).toContain('Insufficient cpu');
    }
    const claim = await store.get(CLAIMS_RESOURCE, '', 'only');
    expect((claim.spec as { pods: unknown[] }).pods.length).toBeGreaterThan(0);
  });

  it('a claim whose pod was never bound expires and frees the capacity', async () => {
    await store.create(CLAIMS_RESOURCE, {
      apiVersion: 'skiff.dev/v1',
      kind: 'SchedulingClaim',
      metadata: { name: 'only' },
      spec: { pods: [{ uid: 'gone-binder', at: Date.now() - 60_000 }] },
    });
    const bound = await race({ coordination: 'claims' });
    expect(bound).toHaveLength(4);
  });

  it('without claims the same race overcommits the node (what claims prevent)', async () => {
    const bound = await race({ coordination: 'exclusive' });
    expect(bound.length).toBeGreaterThan(4);
  });
});

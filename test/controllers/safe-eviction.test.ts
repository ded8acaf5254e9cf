/**
 * The drains of consolidation and migration honour PodDisruptionBudgets: SafeEviction evicts
 * through the Eviction subresource's rules, so a budget the disruption controller says allows
 * nothing keeps every pod, and one that allows a disruption lets one go, spent in its status.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PDBS } from '../../shared/api/disruption.js';
import { typedList } from '../../shared/api/objects.js';
import { Registry } from '../../shared/api/registry.js';
import { DisruptionController } from '../../shared/controllers/disruption.js';
import { SafeEviction } from '../../shared/controllers/eviction.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject, Store } from '../../shared/store/types.js';

let store: Store;
beforeAll(async () => {
  store = openSqliteStore({ path: ':memory:' });
  await new Registry(store).ensureSystemNamespaces();
});
afterAll(async () => {
  await store?.close();
});

const budgetOf = async () => (await store.get(PDBS.storeKey, 'default', 'web')) as KubeObject & { status: Record<string, unknown> };

it('keeps every pod while the budget allows nothing, and evicts one when it allows one', async () => {
  const rs = await store.create('replicasets.apps', {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web', namespace: 'default' },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [] } } },
  } as unknown as KubeObject);
  const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid as string, controller: true };
  for (const [n, node] of ['old', 'old', 'other'].entries())
    await store.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `web-${n}`, namespace: 'default', labels: { app: 'web' }, ownerReferences: [owner] },
      spec: { nodeName: node, containers: [{ name: 'c', image: 'app:v1' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    } as unknown as KubeObject);
  await store.create(PDBS.storeKey, {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'web', namespace: 'default' },
    spec: { minAvailable: 3, selector: { matchLabels: { app: 'web' } } },
  } as unknown as KubeObject);
  const disruption = new DisruptionController(store);
  await disruption.reconcile('default');
  expect((await budgetOf()).status).toMatchObject({ currentHealthy: 3, desiredHealthy: 3, expectedPods: 3, disruptionsAllowed: 0 });

  const eviction = new SafeEviction(store);
  const world = async () => {
    const pods = typedList('pods', (await store.list('pods', { namespace: 'default' })).items);
    const replicaSets = typedList('replicasets.apps', (await store.list('replicasets.apps', { namespace: 'default' })).items);
    return { pods, candidates: pods.filter((p) => p.spec.nodeName === 'old'), replicaSets };
  };
  let w = await world();
  expect(await eviction.evict(w.candidates, w.pods, w.replicaSets)).toBe(0);
  expect((await world()).pods.filter((p) => p.metadata.deletionTimestamp)).toHaveLength(0);

  await guaranteedUpdate(store, PDBS.storeKey, 'default', 'web', (b) => ({ ...b, spec: { ...(b.spec as object), minAvailable: 2 } }));
  await disruption.reconcile('default');
  expect((await budgetOf()).status.disruptionsAllowed).toBe(1);
  w = await world();
  expect(await eviction.evict(w.candidates, w.pods, w.replicaSets)).toBe(1);
  const going = (await world()).pods.filter((p) => p.metadata.deletionTimestamp);
  expect(going).toHaveLength(1);
  expect(going[0].spec.nodeName).toBe('old');
  // Spent in the budget's status until the controller sees the pod go.
  const spent = (await budgetOf()).status;
  expect(spent.disruptionsAllowed).toBe(0);
  expect(Object.keys(spent.disruptedPods as object)).toEqual([going[0].metadata.name]);
  await disruption.reconcile('default');
  expect((await budgetOf()).status).toMatchObject({ currentHealthy: 2, disruptionsAllowed: 0 });
  expect((await budgetOf()).status.disruptedPods).toBeUndefined();
});

/**
 * The endpoints controller on a store, without a cluster: a Service's EndpointSlices carry every
 * pod with an address that has not finished, with its conditions (a pod not ready is neither
 * ready nor serving; a terminating pod is serving but not ready, so a proxy drains it), the
 * Endpoints only the live ones; slices hold at most 100 endpoints; and a Service without a
 * selector keeps the Endpoints its owner wrote.
 */
import { beforeEach, expect, it } from 'vitest';
import { Registry } from '../../shared/api/registry.js';
import { EndpointsController } from '../../shared/controllers/endpoints.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject, Store } from '../../shared/store/types.js';

let store: Store;
let controller: EndpointsController;
beforeEach(async () => {
  store = openSqliteStore({ path: ':memory:' });
  await new Registry(store).ensureSystemNamespaces();
  controller = new EndpointsController(store);
  await store.create('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
  } as unknown as KubeObject);
});

async function pod(name: string, ip: string, opts: { ready?: boolean; phase?: string; terminating?: boolean } = {}) {
  const made = await store.create('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'web' }, ...(opts.terminating ? { finalizers: ['example.com/hold'] } : {}) },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'app:v1' }] },
    status: { phase: opts.phase ?? 'Running', podIP: ip, conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  } as unknown as KubeObject);
  // Held by its finalizer: deleting it only marks it, as a pod stopping within its grace period.
  if (opts.terminating) await store.delete('pods', 'default', made.metadata.name as string);
}

const slices = async () =>
  (await store.list('endpointslices.discovery.k8s.io', { namespace: 'default' })).items as unknown as {
    endpoints: { addresses: string[]; conditions: Record<string, boolean> }[];
  }[];

it('gives each pod its conditions in the slice, and the Endpoints only the live ones', async () => {
  await pod('a', '10.0.0.1');
  await pod('b', '10.0.0.2', { ready: false });
  await pod('c', '10.0.0.3', { terminating: true });
  await pod('done', '10.0.0.4', { phase: 'Succeeded' });
  await controller.reconcile('default/web');
  const [slice] = await slices();
  const byIp = Object.fromEntries(slice.endpoints.map((e) => [e.addresses[0], e.conditions]));
  expect(byIp).toEqual({
    '10.0.0.1': { ready: true, serving: true, terminating: false },
    '10.0.0.2': { ready: false, serving: false, terminating: false },
    '10.0.0.3': { ready: false, serving: true, terminating: true },
  });
  const endpoints = await store.get('endpoints', 'default', 'web');
  expect(endpoints.subsets).toEqual([
    {
      addresses: [{ ip: '10.0.0.1', nodeName: 'n1', targetRef: expect.objectContaining({ kind: 'Pod', name: 'a' }) }],
      notReadyAddresses: [{ ip: '10.0.0.2', nodeName: 'n1', targetRef: expect.objectContaining({ kind: 'Pod', name: 'b' }) }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    },
  ]);
  // Nothing changed: nothing is written again.
  const before = (await store.get('endpoints', 'default', 'web')).metadata.resourceVersion;
  await controller.reconcile('default/*');
  expect((await store.get('endpoints', 'default', 'web')).metadata.resourceVersion).toBe(before);
});

it('puts at most 100 endpoints in a slice', async () => {
  for (let i = 0; i < 230; i++) await pod(`p${i}`, `10.1.${i >> 8}.${i & 255}`);
  await controller.reconcile('default/web');
  const sizes = (await slices()).map((s) => s.endpoints.length).sort((a, b) => b - a);
  expect(sizes).toEqual([100, 100, 30]);
});

it('leaves the Endpoints of a Service without a selector to whoever writes them', async () => {
  await store.create('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'external', namespace: 'default' },
    spec: { ports: [{ port: 5432 }] },
  } as unknown as KubeObject);
  const mine = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'external', namespace: 'default' },
    subsets: [{ addresses: [{ ip: '192.0.2.7' }], ports: [{ port: 5432 }] }],
  };
  await store.create('endpoints', mine as unknown as KubeObject);
  await controller.reconcile('default/external');
  expect((await store.get('endpoints', 'default', 'external')).subsets).toEqual(mine.subsets);
  // Deleted, its slices and Endpoints go.
  await controller.reconcile('default/web');
  await store.delete('services', 'default', 'web');
  await controller.reconcile('default/web');
  expect(await slices()).toEqual([]);
  await expect(store.get('endpoints', 'default', 'web')).rejects.toThrow();
});

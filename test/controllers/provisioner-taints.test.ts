/**
 * Offerings with taints: the provisioner opens a tainted node only for pods that tolerate its
 * taints, however cheap it is (a toleration permits, it does not attract: those pods also go
 * where else they fit), and the node registers with them, so the scheduler keeps other pods off.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { typedList } from '../../shared/api/objects.js';
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane, type ControlPlane } from '../../shared/control-plane.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { until } from '../support/until.js';

const DEPLOYMENTS = findResource('apps', 'v1', 'deployments')!;
const GPU_TAINT = { key: 'example.com/gpu', value: 'true', effect: 'NoSchedule' as const };
let store: Store;
let cloud: SimCloudProvider;
let plane: ControlPlane;
const said: string[] = [];

beforeAll(async () => {
  store = openSqliteStore({ path: ':memory:' });
  await new Registry(store).ensureSystemNamespaces();
  cloud = new SimCloudProvider(store, {
    leaseIntervalMs: 60_000,
    instanceTypes: [
      { name: 'sim.small', cpu: 2000, memory: 4 * 2 ** 30, pods: 110, zones: ['sim-a'], pricePerHour: 0.1 },
      // The cheapest by far, but tainted.
      { name: 'sim.gpu', cpu: 8000, memory: 32 * 2 ** 30, pods: 110, zones: ['sim-a'], pricePerHour: 0.01, taints: [GPU_TAINT] },
    ],
  });
  plane = await startControlPlane({ store, provisioner: { provider: cloud, consolidateAfterMs: 60_000, batchIdleMs: 100, log: (l) => said.push(l) } });
});
afterAll(async () => {
  await plane?.stop();
  await cloud?.close();
  await store?.close();
});

const deployment = (name: string, tolerations: unknown[] = [], nodeSelector: Record<string, string> = {}) =>
  ({
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { tolerations, nodeSelector, containers: [{ name: 'c', image: 'app:v1', resources: { requests: { cpu: '100m' } } }] },
      },
    },
  }) as unknown as KubeObject;

const nodeOf = async (app: string) => {
  const pods = typedList('pods', (await store.list('pods', { namespace: 'default', labelSelector: `app=${app}` })).items);
  const names = new Set(pods.map((p) => p.spec.nodeName));
  if (pods.length !== 2 || names.has(undefined) || names.size !== 1) return undefined;
  return typedList('nodes', [await store.get('nodes', '', [...names][0] as string)])[0];
};

it('opens a tainted node only for pods that tolerate it, and it registers with the taint', async () => {
  const registry = new Registry(store);
  await registry.create(DEPLOYMENTS, 'default', deployment('plain'));
  const plain = await until('the plain pods placed', () => nodeOf('plain'), 30_000, 100);
  expect(plain.metadata.labels?.['node.kubernetes.io/instance-type']).toBe('sim.small');
  expect(plain.spec?.taints ?? []).toEqual([]);

  // Asking for the type without tolerating its taint: no node is opened for it.
  const onGpu = { 'node.kubernetes.io/instance-type': 'sim.gpu' };
  await registry.create(DEPLOYMENTS, 'default', deployment('intolerant', [], onGpu));
  await until('the intolerant pods found no offering', async () => said.some((l) => /2 pods fit no offering/.test(l)), 30_000, 100);
  expect((await store.list('nodes')).items).toHaveLength(1);
  await registry.delete(DEPLOYMENTS, 'default', 'intolerant');

  await registry.create(DEPLOYMENTS, 'default', deployment('ml', [{ key: 'example.com/gpu', operator: 'Exists', effect: 'NoSchedule' }], onGpu));
  const gpu = await until('the tolerating pods placed', () => nodeOf('ml'), 30_000, 100);
  expect(gpu.metadata.labels?.['node.kubernetes.io/instance-type']).toBe('sim.gpu');
  expect(gpu.spec?.taints).toEqual([GPU_TAINT]);
  // More plain pods still go to untainted nodes, never onto the tainted one with room to spare.
  await registry.create(DEPLOYMENTS, 'default', deployment('more'));
  const more = await until('more plain pods placed', () => nodeOf('more'), 30_000, 100);
  expect(more.metadata.labels?.['node.kubernetes.io/instance-type']).toBe('sim.small');
}, 60_000);

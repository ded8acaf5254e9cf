/**
 * Deleting a Deployment with each propagation policy leaves what that policy promises:
 * background removes its ReplicaSets and pods after it; foreground keeps it until they are
 * gone; orphan leaves them running without it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import type { ChangeEvent, KubeObject, Store } from '../../shared/store/types.js';
import { startSimCluster, until, type SimCluster } from '../support/sim-cluster.js';

let sim: SimCluster;
let store: Store;
let registry: Registry;
const DEPLOYMENTS = findResource('apps', 'v1', 'deployments')!;

const deployment = (name: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
  },
});

const count = async (resource: string, app: string) => (await store.list(resource, { namespace: 'default', labelSelector: `app=${app}` })).items.length;

async function running(name: string) {
  await registry.create(DEPLOYMENTS, 'default', deployment(name));
  await until(
    `${name} running`,
    async () =>
      (await store.list('pods', { namespace: 'default', labelSelector: `app=${name}` })).items.filter(
        (p) => (p.status as { phase?: string }).phase === 'Running',
      ).length === 3,
  );
}

beforeEach(async () => {
  sim = await startSimCluster({ nodes: 1 });
  ({ store, registry } = sim);
});
afterEach(() => sim.stop());

describe('garbage collection', () => {
  it('background: the Deployment goes at once, its ReplicaSet and pods after it', async () => {
    await running('bg');
    await registry.delete(DEPLOYMENTS, 'default', 'bg', { propagationPolicy: 'Background' });
    expect(await store.get('deployments.apps', 'default', 'bg').catch(() => undefined)).toBeUndefined();
    await until('dependents gone', async () => (await count('replicasets.apps', 'bg')) === 0 && (await count('pods', 'bg')) === 0);
  });

  it('foreground: the Deployment stays until its ReplicaSet and pods are gone', async () => {
    await running('fg');
    const order: string[] = [];
    const sub = store.subscribe((events: ChangeEvent[]) => {
      for (const e of events) if (e.type === 'DELETED' && ['deployments.apps', 'replicasets.apps', 'pods'].includes(e.resource)) order.push(e.resource);
    });
    try {
      await registry.delete(DEPLOYMENTS, 'default', 'fg', { propagationPolicy: 'Foreground' });
      const marked = await store.get('deployments.apps', 'default', 'fg');
      expect(marked.metadata.finalizers).toContain('foregroundDeletion');
      await until('the deployment gone', async () => !(await store.get('deployments.apps', 'default', 'fg').catch(() => undefined)));
      await until('all deletions seen', async () => order.length === 5);
    } finally {
      sub.close();
    }
    expect(await count('pods', 'fg')).toBe(0);
    expect(order.indexOf('deployments.apps')).toBe(order.length - 1);
    expect(order.lastIndexOf('pods')).toBeLessThan(order.indexOf('replicasets.apps'));
  });

  it('orphan: the Deployment goes, its ReplicaSet and pods stay, released', async () => {
    await running('orph');
    await registry.delete(DEPLOYMENTS, 'default', 'orph', { propagationPolicy: 'Orphan' });
    await until('the deployment gone', async () => !(await store.get('deployments.apps', 'default', 'orph').catch(() => undefined)));
    const [rs] = (await store.list('replicasets.apps', { namespace: 'default', labelSelector: 'app=orph' })).items;
    expect(rs.metadata.ownerReferences).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect(await count('pods', 'orph')).toBe(3);
  });
});

describe('namespace deletion', () => {
  it('deletes everything in the namespace, then the namespace', async () => {
    const namespaces = findResource('', 'v1', 'namespaces')!;
    await registry.create(namespaces, '', { metadata: { name: 'shop' } });
    await registry.create(DEPLOYMENTS, 'shop', deployment('cart'));
    await registry.create(findResource('', 'v1', 'configmaps')!, 'shop', { metadata: { name: 'settings' }, data: { a: 'b' } });
    await until('pods in shop', async () => (await store.list('pods', { namespace: 'shop' })).items.length === 3);
    await registry.delete(namespaces, '', 'shop');
    expect(((await store.get('namespaces', '', 'shop')).status as { phase: string }).phase).toBe('Terminating');
    await until('the namespace gone', async () => !(await store.get('namespaces', '', 'shop').catch(() => undefined)));
    for (const resource of ['pods', 'replicasets.apps', 'deployments.apps', 'configmaps']) {
      expect((await store.list(resource, { namespace: 'shop' })).items, resource).toEqual([]);
    }
  });
});

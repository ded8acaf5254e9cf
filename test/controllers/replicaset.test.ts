/**
 * The control loop on the embedded store with simulated nodes: a ReplicaSet's pods are created,
 * scheduled across the nodes and running; scaling down removes the surplus; pods deleted from
 * outside come back; orphans are adopted; a pod that fits nowhere says why.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimCloudProvider } from '../../shared/cloud/sim.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { startSimCluster, until, type SimCluster } from '../support/sim-cluster.js';

let sim: SimCluster;
let store: Store;
let cloud: SimCloudProvider;

const replicaSet = (name: string, replicas: number, cpu = '100m'): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name, namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'c', image: 'busybox:1.36', resources: { requests: { cpu, memory: '64Mi' } } }] },
    },
  },
});

const podsOf = async (app: string) =>
  (await store.list('pods', { namespace: 'default', labelSelector: `app=${app}` })).items.filter((p) => !p.metadata.deletionTimestamp);
const running = (pods: KubeObject[]) => pods.filter((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running');

beforeEach(async () => {
  sim = await startSimCluster({ nodes: 3, instanceType: 'sim.small' });
  ({ store, cloud } = sim);
});
afterEach(() => sim.stop());

describe('ReplicaSet on simulated nodes', () => {
  it('creates the replicas, which get scheduled across the nodes and run', async () => {
    await store.create('replicasets.apps', replicaSet('web', 9));
    const pods = await until('9 running pods', async () => {
      const p = running(await podsOf('web'));
      return p.length === 9 && p;
    });
    const perNode = new Map<string, number>();
    for (const p of pods) perNode.set((p.spec as { nodeName: string }).nodeName, (perNode.get((p.spec as { nodeName: string }).nodeName) ?? 0) + 1);
    expect([...perNode.values()]).toEqual([3, 3, 3]);
    expect(pods.every((p) => p.metadata.ownerReferences?.[0]?.kind === 'ReplicaSet')).toBe(true);
    const rs = await until('status', async () => {
      const r = await store.get('replicasets.apps', 'default', 'web');
      return (r.status as { readyReplicas?: number } | undefined)?.readyReplicas === 9 && r;
    });
    expect(rs.status).toMatchObject({ replicas: 9, readyReplicas: 9, availableReplicas: 9, observedGeneration: 1 });
    const events = (await store.list('events', { namespace: 'default' })).items.map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(['SuccessfulCreate', 'Scheduled']));
  });

  it('scales down by removing the surplus, and replaces pods deleted from outside', async () => {
    await store.create('replicasets.apps', replicaSet('api', 5));
    await until('5 running', async () => running(await podsOf('api')).length === 5);
    // The controller writes the ReplicaSet's status meanwhile: the change is made again on a conflict, as clients do.
    await guaranteedUpdate(store, 'replicasets.apps', 'default', 'api', (rs) => ({ ...rs, spec: { ...(rs.spec as object), replicas: 2 } }));
    await until('2 pods left', async () => (await podsOf('api')).length === 2);
    const [victim] = await podsOf('api');
    await store.delete('pods', 'default', victim.metadata.name!);
    const after = await until('a replacement', async () => {
      const p = running(await podsOf('api'));
      return p.length === 2 && !p.some((x) => x.metadata.uid === victim.metadata.uid) && p;
    });
    expect(after).toHaveLength(2);
  });

  it('adopts a matching orphan instead of creating another pod', async () => {
    await store.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'stray', namespace: 'default', labels: { app: 'adopt' } },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
      status: { phase: 'Pending' },
    });
    await store.create('replicasets.apps', replicaSet('adopt', 2));
    const pods = await until('2 pods', async () => {
      const p = await podsOf('adopt');
      return p.length === 2 && p.every((x) => x.metadata.ownerReferences?.length) && p;
    });
    expect(pods.map((p) => p.metadata.name)).toContain('stray');
  });

  it('releases a pod whose labels stop matching, and replaces it', async () => {
    await store.create('replicasets.apps', replicaSet('rel', 2));
    const [pod] = await until('2 running', async () => {
      const p = running(await podsOf('rel'));
      return p.length === 2 && p;
    });
    await guaranteedUpdate(store, 'pods', 'default', pod.metadata.name!, (p) => ({ ...p, metadata: { ...p.metadata, labels: { app: 'debugging' } } }));
    const released = await until('the pod released', async () => {
      const p = await store.get('pods', 'default', pod.metadata.name!);
      return !p.metadata.ownerReferences?.length && p;
    });
    expect(released.metadata.labels).toEqual({ app: 'debugging' });
    await until('a replacement', async () => running(await podsOf('rel')).length === 2);
  });

  it('a pod that fits nowhere stays Pending with the reason, and is placed once a node can take it', async () => {
    await store.create('replicasets.apps', replicaSet('huge', 1, '3')); // sim.small has 2 cpu
    const pod = await until('an unschedulable condition', async () => {
      const [p] = await podsOf('huge');
      const cond = ((p?.status as { conditions?: { type: string; status: string; reason?: string; message?: string }[] })?.conditions ?? []).find(
        (c) => c.type === 'PodScheduled',
      );
      return cond?.status === 'False' && { p, cond };
    });
    expect(pod.cond).toMatchObject({ reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' });
    await cloud.create({ name: 'sim-large', instanceType: 'sim.large', zone: 'sim-a' });
    const placed = await until('placement on the large node', async () => {
      const [p] = running(await podsOf('huge'));
      return p;
    });
    expect((placed.spec as { nodeName: string }).nodeName).toBe('sim-large');
  });
});

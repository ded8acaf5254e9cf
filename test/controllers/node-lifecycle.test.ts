/**
 * A node that stops renewing its Lease goes Unknown, is tainted unreachable, and loses its pods
 * (after their toleration) to the other nodes; when it renews again, the taints go.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findResource } from '../../shared/api/resources.js';
import type { SimCloudProvider } from '../../shared/cloud/sim.js';
import { NOT_READY, UNREACHABLE } from '../../shared/controllers/node-lifecycle.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { startSimCluster, until, type SimCluster } from '../support/sim-cluster.js';

let sim: SimCluster;
let store: Store;
let cloud: SimCloudProvider;

const nodeOf = (p: KubeObject) => (p.spec as { nodeName?: string }).nodeName;
const runningPods = async () =>
  (await store.list('pods', { namespace: 'default', labelSelector: 'app=web' })).items.filter(
    (p) => !p.metadata.deletionTimestamp && (p.status as { phase?: string }).phase === 'Running',
  );

beforeEach(async () => {
  sim = await startSimCluster({ nodes: 3, leaseIntervalMs: 100, nodeLifecycle: { gracePeriodMs: 600, defaultTolerationSeconds: 0.5 } });
  ({ store, cloud } = sim);
  await sim.registry.create(findResource('apps', 'v1', 'deployments')!, 'default', {
    metadata: { name: 'web' },
    spec: {
      replicas: 6,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
    },
  });
  await until('6 running', async () => (await runningPods()).length === 6);
});
afterEach(() => sim.stop());

describe('node lifecycle', () => {
  it('a node that stops renewing loses its pods to the other nodes, and is trusted again once it renews', async () => {
    expect((await runningPods()).filter((p) => nodeOf(p) === 'sim-0').length).toBeGreaterThan(0);
    await cloud.kubelet('sim-0')!.stopRenewing();
    const node = await until('sim-0 tainted', async () => {
      const n = await store.get('nodes', '', 'sim-0');
      return ((n.spec as { taints?: { key: string }[] }).taints ?? []).some((t) => t.key === UNREACHABLE) && n;
    });
    const ready = (node.status as { conditions: { type: string; status: string; reason: string }[] }).conditions.find((c) => c.type === 'Ready');
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

  it('a node reporting Ready=False is tainted not-ready and loses its pods; Ready again clears it', async () => {
    const setReady = (status: string) =>
      guaranteedUpdate(store, 'nodes', '', 'sim-1', (n) => {
        const st = n.status as { conditions: { type: string; status: string }[] };
        return {
          ...n,
          status: {
            ...st,
            conditions: st.conditions.map((c) => (c.type === 'Ready' ? { ...c, status, reason: status === 'True' ? 'KubeletReady' : 'KubeletNotReady' } : c)),
          },
        };
      });
    expect((await runningPods()).filter((p) => nodeOf(p) === 'sim-1').length).toBeGreaterThan(0);
    await setReady('False');
    const node = await until('sim-1 tainted not-ready', async () => {
      const n = await store.get('nodes', '', 'sim-1');
      const taints = (n.spec as { taints?: { key: string; effect: string }[] }).taints ?? [];
      return taints.some((t) => t.key === NOT_READY && t.effect === 'NoExecute') && n;
    });
    expect((node.spec as { taints: { key: string }[] }).taints.some((t) => t.key === UNREACHABLE)).toBe(false);
    await until('6 running off sim-1', async () => {
      const pods = await runningPods();
      return pods.length === 6 && pods.every((p) => nodeOf(p) !== 'sim-1');
    });
    await setReady('True');
    await until('sim-1 untainted', async () => !((await store.get('nodes', '', 'sim-1')).spec as { taints?: unknown[] }).taints?.length);
  }, 30_000);
});

/**
 * The DaemonSet controller on simulated nodes: a pod on every node, and on a node added later;
 * a nodeSelector and an untolerated taint keep it off nodes; a cordoned node keeps its pod and
 * gets a new DaemonSet's; a changed template replaces every pod and is kept as a ControllerRevision; status counts as kubectl reads them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResource } from '../../shared/api/resources.js';
import type { DaemonSet, Pod } from '../../shared/api/schemas/index.js';
import { REVISION } from '../../shared/controllers/daemonset.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { startSimCluster, type SimCluster, until } from '../support/sim-cluster.js';

const DAEMONSETS = findResource('apps', 'v1', 'daemonsets')!;
let sim: SimCluster;

beforeAll(async () => {
  sim = await startSimCluster({ nodes: 3 });
});
afterAll(() => sim?.stop());

const create = (name: string, spec: Record<string, unknown> = {}, image = 'agent:1') =>
  sim.registry.create(DAEMONSETS, 'default', {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name },
    spec: {
      selector: { matchLabels: { ds: name } },
      template: { metadata: { labels: { ds: name } }, spec: { containers: [{ name: 'agent', image, resources: { requests: { cpu: '10m' } } }], ...spec } },
    },
  });
const pods = async (name: string) =>
  ((await sim.store.list('pods', { namespace: 'default', labelSelector: `ds=${name}` })).items as unknown as Pod[]).filter(
    (p) => !p.metadata.deletionTimestamp,
  );
const running = async (name: string) => (await pods(name)).filter((p) => p.status?.phase === 'Running');
const nodesOf = (list: Pod[]) => list.map((p) => p.spec.nodeName).sort();
const status = async (name: string) => ((await sim.store.get('daemonsets.apps', 'default', name)) as unknown as DaemonSet).status;

describe('DaemonSets', () => {
  it('runs one pod on every node, and on a node added later, with the status counts', async () => {
    await create('agent');
    await until('a pod per node', async () => (await running('agent')).length === 3);
    expect(nodesOf(await running('agent'))).toEqual(['sim-0', 'sim-1', 'sim-2']);
    await sim.cloud.create({ name: 'sim-3', instanceType: 'sim.large', zone: 'sim-a' });
    await until('the new node’s pod', async () => nodesOf(await running('agent')).includes('sim-3'));
    const s = await until('the status', async () => {
      const got = await status('agent');
      return got?.numberAvailable === 4 && got;
    });
    expect(s).toMatchObject({ desiredNumberScheduled: 4, currentNumberScheduled: 4, numberReady: 4, updatedNumberScheduled: 4, numberMisscheduled: 0 });
    const one = (await running('agent'))[0];
    expect(one.spec.tolerations).toContainEqual({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' });
  });

  it('keeps off nodes its nodeSelector does not match or whose taints it does not tolerate', async () => {
    await create('zoned', { nodeSelector: { 'topology.kubernetes.io/zone': 'sim-a' } });
    await until('pods in sim-a', async () => (await running('zoned')).length === 2);
    expect(nodesOf(await running('zoned'))).toEqual(['sim-0', 'sim-3']);
    await guaranteedUpdate(sim.store, 'nodes', '', 'sim-1', (n) => ({
      ...n,
      spec: { ...(n.spec as object), taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] },
    }));
    await create('picky');
    await until('pods but on sim-1', async () => (await running('picky')).length === 3);
    expect(nodesOf(await running('picky'))).toEqual(['sim-0', 'sim-2', 'sim-3']);
    // The pod already on the tainted node stays: NoSchedule keeps new pods off, not old ones.
    expect(nodesOf(await running('agent'))).toContain('sim-1');
  });

  it('a cordoned node keeps its daemon and gets a new DaemonSet’s', async () => {
    await guaranteedUpdate(sim.store, 'nodes', '', 'sim-2', (n) => ({ ...n, spec: { ...(n.spec as object), unschedulable: true } }));
    await create('late');
    await until('a pod on every untainted node', async () => (await running('late')).length === 3);
    expect(nodesOf(await running('late'))).toContain('sim-2');
    expect(nodesOf(await running('agent'))).toContain('sim-2');
  });

  it('replaces every pod when the template changes', async () => {
    // (Without the taint of before: an old pod may stay on a node it could not start on now, a new one may not.)
    await guaranteedUpdate(sim.store, 'nodes', '', 'sim-1', (n) => ({ ...n, spec: { ...(n.spec as object), taints: [] } }));
    const before = await running('agent');
    await guaranteedUpdate(sim.store, 'daemonsets.apps', 'default', 'agent', (d) => {
      const spec = structuredClone(d.spec) as DaemonSet['spec'];
      spec.template.spec.containers[0].image = 'agent:2';
      return { ...d, spec, metadata: { ...d.metadata } };
    });
    const after = await until(
      'all on the new template',
      async () => {
        const now = await running('agent');
        return now.length === 4 && now.every((p) => p.spec.containers[0].image === 'agent:2') && now;
      },
      30_000,
    );
    expect(new Set(after.map((p) => p.metadata.labels?.[REVISION])).size).toBe(1);
    expect(after.some((p) => before.some((b) => b.metadata.uid === p.metadata.uid))).toBe(false);
    expect(nodesOf(after)).toEqual(['sim-0', 'sim-1', 'sim-2', 'sim-3']);
    // Each template is kept as a ControllerRevision `<name>-<hash>`, numbered in order.
    const revisions = (await sim.store.list('controllerrevisions.apps', { namespace: 'default', labelSelector: 'ds=agent' })).items as unknown as {
      metadata: { name: string };
      revision: number;
    }[];
    expect(revisions.map((r) => [r.metadata.name, r.revision]).sort((a, b) => Number(a[1]) - Number(b[1]))).toEqual([
      [expect.stringMatching(/^agent-/), 1],
      [`agent-${after[0].metadata.labels?.[REVISION]}`, 2],
    ]);
  });
});

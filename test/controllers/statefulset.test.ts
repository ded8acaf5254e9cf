/**
 * The StatefulSet controller on simulated nodes, for what the kubectl suite
 * (test/e2e/kubectl-storage.test.ts) does not show: Parallel pod management from
 * `ordinals.start`, claims deleted with their pods (whenScaled) and with the set (whenDeleted),
 * a rolling update held at its partition, OnDelete, and the spec fields that may not change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResource } from '../../shared/api/resources.js';
import type { Pod, StatefulSet } from '../../shared/api/schemas/index.js';
import { REVISION } from '../../shared/controllers/daemonset.js';
import { ensureLocalPathClass } from '../../shared/controllers/persistentvolume.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { startSimCluster, type SimCluster, until } from '../support/sim-cluster.js';

const SETS = findResource('apps', 'v1', 'statefulsets')!;
let sim: SimCluster;

beforeAll(async () => {
  sim = await startSimCluster({ nodes: 2 });
  await ensureLocalPathClass(sim.store);
});
afterAll(() => sim?.stop());

const create = (name: string, spec: Record<string, unknown> = {}) =>
  sim.registry.create(SETS, 'default', {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas: 3,
      selector: { matchLabels: { sts: name } },
      template: { metadata: { labels: { sts: name } }, spec: { containers: [{ name: 'db', image: 'db:1' }] } },
      ...spec,
    },
  });
const pods = async (name: string) =>
  ((await sim.store.list('pods', { namespace: 'default', labelSelector: `sts=${name}` })).items as unknown as Pod[]).filter(
    (p) => !p.metadata.deletionTimestamp,
  );
const names = async (name: string) => (await pods(name)).map((p) => p.metadata.name).sort();
const running = async (name: string) => (await pods(name)).filter((p) => p.status?.phase === 'Running').length;
const claims = async () => (await sim.store.list('persistentvolumeclaims', { namespace: 'default' })).items.filter((c) => !c.metadata.deletionTimestamp);
const set = async (name: string) => (await sim.store.get('statefulsets.apps', 'default', name)) as unknown as StatefulSet;
const retemplate = (name: string, image: string, partition?: number) =>
  guaranteedUpdate<StatefulSet>(sim.store, 'statefulsets.apps', 'default', name, (s) => ({
    ...s,
    metadata: { ...s.metadata, generation: (s.metadata.generation ?? 1) + 1 },
    spec: {
      ...s.spec,
      template: { ...s.spec.template, spec: { ...s.spec.template.spec, containers: [{ name: 'db', image }] } },
      ...(partition !== undefined ? { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } } } : {}),
    },
  }));
const images = async (name: string) => Object.fromEntries((await pods(name)).map((p) => [p.metadata.name, p.spec.containers[0].image]));

describe('StatefulSets', () => {
  it('Parallel from ordinal 5 makes every pod at once; claims go with a removed pod (whenScaled) and with the set (whenDeleted)', async () => {
    await create('par', {
      podManagementPolicy: 'Parallel',
      ordinals: { start: 5 },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Delete' },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    });
    // Parallel: all three exist before any is Running.
    await until('three pods', async () => (await names('par')).length === 3);
    expect(await names('par')).toEqual(['par-5', 'par-6', 'par-7']);
    await until('Running', async () => (await running('par')) === 3);
    await until('claims bound', async () => (await claims()).filter((c) => (c.status as { phase?: string })?.phase === 'Bound').length === 3);
    const owned = (await claims()).find((c) => c.metadata.name === 'data-par-5')!;
    expect(owned.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'StatefulSet', name: 'par' })]);

    await guaranteedUpdate<StatefulSet>(sim.store, 'statefulsets.apps', 'default', 'par', (s) => ({ ...s, spec: { ...s.spec, replicas: 1 } }));
    await until('scaled to one', async () => (await names('par')).length === 1);
    await until('their claims gone', async () => (await claims()).map((c) => c.metadata.name).join() === 'data-par-5');

    await sim.registry.delete(SETS, 'default', 'par');
    await until('the last claim gone with the set', async () => (await claims()).length === 0);
  });

  it('a rolling update stops at its partition, and goes on when the partition is lowered', async () => {
    await create('part');
    await until('three Running', async () => (await running('part')) === 3);
    expect(await names('part')).toEqual(['part-0', 'part-1', 'part-2']);
    await retemplate('part', 'db:2', 2);
    await until('part-2 updated', async () => (await images('part'))['part-2'] === 'db:2' && (await running('part')) === 3);
    await new Promise((r) => setTimeout(r, 500));
    expect(await images('part')).toEqual({ 'part-0': 'db:1', 'part-1': 'db:1', 'part-2': 'db:2' });
    const held = (await set('part')).status!;
    expect(held.updatedReplicas).toBe(1);
    expect(held.currentRevision).not.toBe(held.updateRevision);

    await retemplate('part', 'db:2', 0);
    await until('every pod updated', async () => Object.values(await images('part')).every((i) => i === 'db:2') && (await running('part')) === 3);
    const done = await until('the revisions meet', async () => {
      const s = (await set('part')).status!;
      return s.currentRevision === s.updateRevision && s.updatedReplicas === 3 && s;
    });
    expect(done.currentReplicas).toBe(3);
    for (const p of await pods('part')) expect(p.metadata.labels?.[REVISION]).toBe(done.updateRevision);
  });

  it('OnDelete replaces a pod only when it is deleted', async () => {
    await create('manual', { replicas: 2, updateStrategy: { type: 'OnDelete' } });
    await until('two Running', async () => (await running('manual')) === 2);
    await retemplate('manual', 'db:9');
    await new Promise((r) => setTimeout(r, 500));
    expect(await images('manual')).toEqual({ 'manual-0': 'db:1', 'manual-1': 'db:1' });
    const one = (await pods('manual')).find((p) => p.metadata.name === 'manual-1')!;
    await sim.store.delete('pods', 'default', 'manual-1', { preconditions: { uid: one.metadata.uid } });
    await until('manual-1 made again', async () => (await images('manual'))['manual-1'] === 'db:9');
    expect((await images('manual'))['manual-0']).toBe('db:1');
  });

  it('refuses a change to a field that may not change, with kube-apiserver’s words', async () => {
    const current = await sim.registry.get(SETS, 'default', 'manual');
    const changed = { ...current, spec: { ...(current.spec as object), serviceName: 'other' } };
    await expect(sim.registry.update(SETS, 'default', 'manual', changed)).rejects.toThrow(
      /spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy'/,
    );
  });
});

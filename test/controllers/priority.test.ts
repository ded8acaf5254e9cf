/**
 * The scheduling queue's order (kube-scheduler's PrioritySort): of pending pods that cannot all
 * fit, the higher priority, from its PriorityClass, is placed first, whatever came first; and
 * preemption: a pod of higher priority that fits nowhere makes room by deleting as few pods of
 * lower priority as it needs (none with preemptionPolicy Never).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResource } from '../../shared/api/resources.js';
import type { Pod } from '../../shared/api/schemas/index.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { startSimCluster, type SimCluster, until } from '../support/sim-cluster.js';

const PODS = findResource('', 'v1', 'pods')!;
const CLASSES = findResource('scheduling.k8s.io', 'v1', 'priorityclasses')!;
let sim: SimCluster;

beforeAll(async () => {
  sim = await startSimCluster({ nodes: 1 });
});
afterAll(() => sim?.stop());

const cordon = (unschedulable: boolean) => guaranteedUpdate(sim.store, 'nodes', '', 'sim-0', (n) => ({ ...n, spec: { ...(n.spec as object), unschedulable } }));
const get = async (name: string) => (await sim.store.get('pods', 'default', name)) as unknown as Pod;

describe('priority', () => {
  it('places the higher-priority pod first when both cannot fit, though it came second', async () => {
    for (const [name, value] of [
      ['low', 1],
      ['high', 100],
    ] as const)
      await sim.registry.create(CLASSES, '', { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value });
    await cordon(true);
    for (const name of ['low', 'high']) {
      await sim.registry.create(PODS, 'default', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { priorityClassName: name, containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '6' } } }] },
      });
    }
    expect((await get('high')).spec.priority).toBe(100);
    await until('both pending', async () => (await get('low')).status?.conditions?.some((c) => c.reason === 'Unschedulable'));
    await cordon(false);
    await until('high placed', async () => (await get('high')).spec.nodeName === 'sim-0');
    await new Promise((r) => setTimeout(r, 300));
    expect((await get('low')).spec.nodeName).toBeUndefined();
  });

  it('preempts lower-priority pods to place a higher-priority one (never with preemptionPolicy Never)', async () => {
    await sim.registry.create(CLASSES, '', { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'top' }, value: 1000 });
    await sim.registry.create(CLASSES, '', {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: 'polite' },
      value: 1000,
      preemptionPolicy: 'Never',
    });
    const pod = (name: string, cpu: string, priorityClassName?: string) =>
      sim.registry.create(PODS, 'default', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { ...(priorityClassName ? { priorityClassName } : {}), containers: [{ name: 'c', image: 'x', resources: { requests: { cpu } } }] },
      });
    // The node's room taken by the earlier case's pod and two small ones of no priority.
    for (const name of ['filler-a', 'filler-b']) await pod(name, '500m');
    await until('fillers placed', async () => (await get('filler-b')).spec.nodeName === 'sim-0');
    await pod('polite', '1500m', 'polite');
    await until('polite waits', async () => (await get('polite')).status?.conditions?.some((c) => c.reason === 'Unschedulable'));
    await new Promise((r) => setTimeout(r, 500));
    expect((await get('filler-a')).metadata.deletionTimestamp).toBeUndefined();
    await sim.registry.delete(PODS, 'default', 'polite');
    await pod('urgent', '1500m', 'top');
    await until('urgent placed', async () => (await get('urgent')).spec.nodeName === 'sim-0');
    // Only what it needed went: of 8 CPUs, 'high' (6, priority 100) and one filler stay beside it; one filler (priority 0) went.
    const left = (await sim.store.list('pods', { namespace: 'default' })).items.map((p) => p.metadata.name ?? '');
    const gone = ['filler-a', 'filler-b'].filter((f) => !left.includes(f));
    expect(gone).toHaveLength(1);
    expect((await get('high')).spec.nodeName).toBe('sim-0');
    const events = (await sim.store.list('events', { namespace: 'default' })).items as unknown as {
      reason: string;
      message: string;
      involvedObject: { name: string };
    }[];
    const urgent = await get('urgent');
    expect(urgent.status?.nominatedNodeName).toBe('sim-0');
    expect(events.find((e) => e.involvedObject.name === gone[0] && e.reason === 'Preempted')?.message).toBe(
      `Preempted by pod ${urgent.metadata.uid} on node sim-0`,
    );
  });
});

/**
 * The scheduling queue's order (kube-scheduler's PrioritySort): of pending pods that cannot all
 * fit, the higher priority, from its PriorityClass, is placed first, whatever came first.
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
});

/**
 * Preemption's choice (kube-scheduler's DefaultPreemption): the fewest, least important victims
 * a node needs to lose, the node whose victims break the fewest PodDisruptionBudgets, then the
 * least important victims; none where nothing of lower priority would make room.
 */
import { describe, expect, it } from 'vitest';
import type { Budget } from '../../shared/api/disruption.js';
import type { Node, Pod } from '../../shared/api/schemas/index.js';
import { findPreemption } from '../../shared/scheduler/preemption.js';

const node = (name: string, cpu = '4'): Node => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name } },
  spec: {},
  status: { allocatable: { cpu, memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
});

let uid = 0;
const pod = (name: string, cpu: string, priority: number, nodeName?: string, labels?: Record<string, string>): Pod => ({
  metadata: { name, namespace: 'default', uid: `uid-${++uid}`, labels },
  spec: { nodeName, priority, containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu } } }] },
});

const budget = (app: string, allowed: number): Budget => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: app, namespace: 'default' },
  spec: { selector: { matchLabels: { app } } },
  status: { disruptionsAllowed: allowed },
});

const names = (pods: Pod[] | undefined) => (pods ?? []).map((p) => p.metadata.name).sort();

describe('preemption', () => {
  it('takes the fewest and least important pods a node must lose, and the node whose victims matter least', () => {
    const nodes = [node('a'), node('b')];
    const bound = [pod('a-low', '2', 1, 'a'), pod('a-lower', '1', 0, 'a'), pod('a-mid', '1', 5, 'a'), pod('b-mid', '2', 5, 'b'), pod('b-mid2', '2', 5, 'b')];
    const found = findPreemption(pod('urgent', '2', 10), nodes, bound);
    // On a: losing a-low alone (priority 1) makes room; on b, a priority-5 pod would have to go.
    expect(found?.nodeName).toBe('a');
    expect(names(found?.victims)).toEqual(['a-low']);
  });

  it('spares pods whose budget allows no disruption, where another node makes room', () => {
    const nodes = [node('a'), node('b')];
    const bound = [pod('a-web', '4', 0, 'a', { app: 'web' }), pod('b-batch', '4', 1, 'b', { app: 'batch' })];
    const found = findPreemption(pod('urgent', '2', 10), nodes, bound, [budget('web', 0)]);
    expect(found?.nodeName).toBe('b');
    expect(names(found?.victims)).toEqual(['b-batch']);
    // With no other choice, the budget is broken.
    expect(findPreemption(pod('urgent2', '2', 10), [node('a')], bound, [budget('web', 0)])?.victims.map((v) => v.metadata.name)).toEqual(['a-web']);
  });

  it('finds nothing where only pods of equal or higher priority stand in the way, or nothing would make room', () => {
    expect(findPreemption(pod('p', '2', 5), [node('a')], [pod('same', '4', 5, 'a')])).toBeUndefined();
    expect(findPreemption(pod('big', '8', 10), [node('a')], [pod('low', '1', 0, 'a')])).toBeUndefined();
  });
});

/**
 * A PodDisruptionBudget's arithmetic, as the disruption controller does it: expected pods from
 * the pods (a whole minAvailable) or their controllers' scale (a percentage, maxUnavailable),
 * percentages rounded up, evictions under way not counted healthy until they time out, and
 * selectors that cover all pods (empty) or none (absent).
 */
import { describe, expect, it } from 'vitest';
import { type Budget, budgetStatus, covers, DISRUPTION_TIMEOUT_MS, wanted } from '../../shared/api/disruption.js';
import type { Pod } from '../../shared/api/schemas/index.js';

const pod = (name: string, ready = true, labels: Record<string, string> = { app: 'web' }, deleting = false) =>
  ({
    metadata: { name, namespace: 'default', labels, ...(deleting ? { deletionTimestamp: new Date().toISOString() } : {}) },
    spec: { containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  }) as unknown as Pod;

const budget = (spec: Budget['spec'], status?: Budget['status']): Budget => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: 'web', namespace: 'default', generation: 2 },
  spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
  ...(status ? { status } : {}),
});

describe('what a budget wants', () => {
  const pods = [pod('a'), pod('b'), pod('c')];
  it('counts the pods for a whole minAvailable, and the controllers’ scale otherwise, rounding percentages up', () => {
    expect(wanted(budget({ minAvailable: 2 }), pods, () => 10)).toEqual({ expected: 3, desiredHealthy: 2 });
    expect(wanted(budget({ minAvailable: '50%' }), pods, () => 5)).toEqual({ expected: 5, desiredHealthy: 3 });
    expect(wanted(budget({ maxUnavailable: 1 }), pods, () => 4)).toEqual({ expected: 4, desiredHealthy: 3 });
    expect(wanted(budget({ maxUnavailable: '30%' }), pods, () => 4)).toEqual({ expected: 4, desiredHealthy: 2 });
    expect(wanted(budget({ maxUnavailable: 9 }), pods, () => 4)).toEqual({ expected: 4, desiredHealthy: 0 });
  });

  it('allows what is healthy beyond the desired, never less than none, and none with no expected pods', () => {
    const status = budgetStatus(budget({ minAvailable: 1 }), [pod('a'), pod('b', false), pod('c', true, {}, true)], () => 3);
    expect(status).toMatchObject({ currentHealthy: 1, desiredHealthy: 1, expectedPods: 3, disruptionsAllowed: 0, observedGeneration: 2 });
    expect(status.conditions?.[0]).toMatchObject({ type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods' });
    const ok = budgetStatus(budget({ maxUnavailable: 1 }), pods, () => 3);
    expect(ok).toMatchObject({ disruptionsAllowed: 1, conditions: [{ status: 'True', reason: 'SufficientPods' }] });
    expect(budgetStatus(budget({ maxUnavailable: 1 }), [], () => 0).disruptionsAllowed).toBe(0);
  });

  it('does not count an evicted pod healthy until it goes or its eviction times out', () => {
    const now = Date.now();
    const recent = new Date(now - 1000).toISOString();
    const old = new Date(now - DISRUPTION_TIMEOUT_MS - 1000).toISOString();
    const status = budgetStatus(budget({ minAvailable: 1 }, { disruptedPods: { a: recent, b: old, gone: recent } }), pods, () => 3, now);
    expect(status.disruptedPods).toEqual({ a: recent });
    expect(status.currentHealthy).toBe(2);
    expect(status.disruptionsAllowed).toBe(1);
  });

  it('covers every pod of the namespace with an empty selector, and none without one', () => {
    expect(covers(budget({ selector: {} }), pod('x', true, { other: 'thing' }))).toBe(true);
    expect(covers(budget({ selector: null }), pod('x'))).toBe(false);
    expect(covers(budget({ selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] } }), pod('x'))).toBe(true);
    expect(covers(budget({}), pod('x', true, { app: 'db' }))).toBe(false);
  });
});

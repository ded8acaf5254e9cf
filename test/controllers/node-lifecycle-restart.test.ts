/**
 * After the control plane itself was down, a node's old Lease is not held against it: the
 * node lifecycle controller counts a node's silence from its own first look, as
 * kube-controller-manager does, so kubelets that come back within the grace period keep their
 * pods (the docker e2e restart lost them to eviction before this).
 */
import { describe, expect, it } from 'vitest';
import { NodeLifecycleController, UNREACHABLE } from '../../shared/controllers/node-lifecycle.js';
import type { KubeObject } from '../../shared/store/object.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';

const taintsOf = (node: KubeObject) => ((node.spec as { taints?: { key: string }[] }).taints ?? []).map((t) => t.key);

describe('node lifecycle after a control-plane restart', () => {
  it('gives a node whose Lease went stale while nobody watched a whole grace period before calling it Unknown', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    try {
      const stale = new Date(Date.parse('2026-01-01T00:00:00Z'));
      await store.create('nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'n1' },
        spec: {},
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      });
      await store.create('leases.coordination.k8s.io', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'n1', namespace: 'kube-node-lease' },
        spec: { renewTime: stale.toISOString() },
      });
      let now = stale.getTime() + 3_600_000; // the control plane was down for an hour
      const controller = new NodeLifecycleController(store, { gracePeriodMs: 40_000, now: () => now });

      const first = await controller.reconcile('n1');
      expect(taintsOf(await store.get('nodes', '', 'n1'))).toEqual([]);
      expect(first?.requeueAfterMs).toBeGreaterThan(39_000);

      now += 39_000; // still within the grace period counted from the first look
      await controller.reconcile('n1');
      expect(taintsOf(await store.get('nodes', '', 'n1'))).toEqual([]);

      now += 2_000; // the kubelet never came back
      await controller.reconcile('n1');
      expect(taintsOf(await store.get('nodes', '', 'n1'))).toContain(UNREACHABLE);
    } finally {
      await store.close();
    }
  });
});

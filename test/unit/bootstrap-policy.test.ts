/**
 * The default roles at start: made when missing, left alone (nothing written) when in place,
 * given back what they lost when they still auto-update, and not touched when they do not.
 */
import { describe, expect, it } from 'vitest';
import { reconcileBootstrapPolicy } from '../../shared/auth/bootstrap-policy.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject } from '../../shared/store/types.js';

const CRB = 'clusterrolebindings.rbac.authorization.k8s.io';
const CR = 'clusterroles.rbac.authorization.k8s.io';

describe('bootstrap policy', () => {
  it('creates, leaves alone, restores, and respects autoupdate=false', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    try {
      await reconcileBootstrapPolicy(store);
      expect((await store.list(CR)).items.map((r) => r.metadata.name)).toContain('cluster-admin');
      const revision = await store.currentRevision();
      await reconcileBootstrapPolicy(store);
      expect(await store.currentRevision()).toBe(revision);
      await guaranteedUpdate<KubeObject>(store, CRB, '', 'cluster-admin', (b) => ({ ...b, subjects: [] }));
      await guaranteedUpdate<KubeObject>(store, CR, '', 'system:discovery', (r) => ({
        ...r,
        metadata: { ...r.metadata, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } },
        rules: [],
      }));
      await store.delete(CR, '', 'view');
      await reconcileBootstrapPolicy(store);
      expect((await store.get(CRB, '', 'cluster-admin')).subjects).toEqual([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:masters' }]);
      expect((await store.get(CR, '', 'system:discovery')).rules).toEqual([]);
      expect((await store.get(CR, '', 'view')).aggregationRule).toBeTruthy();
    } finally {
      await store.close();
    }
  });
});

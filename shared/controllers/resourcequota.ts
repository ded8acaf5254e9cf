/**
 * The resource-quota controller, as kube-controller-manager's: keeps each ResourceQuota's
 * `status.hard` (its spec's) and `status.used`, counted from what exists in its namespace. A
 * create is charged at admission (`shared/api/quota.ts`); this count gives back what goes (a
 * deleted object, a pod that finished) and what a charged write that then failed had taken.
 * One key per namespace, from any change there but to events and leases.
 */
import { RESOURCE_QUOTAS, type ResourceQuota } from '../api/kinds/quota.js';
import { recount } from '../api/quota.js';
import { ignoreNotFound } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import type { Controller } from './types.js';

const IGNORED = new Set(['events', 'events.events.k8s.io', 'leases.coordination.k8s.io']);

export class ResourceQuotaController implements Controller {
  readonly name = 'resourcequota';

  constructor(private readonly store: Store) {}

  keysFor(event: ChangeEvent): string[] {
    const ns = event.object.metadata.namespace;
    if (!ns || IGNORED.has(event.resource)) return [];
    // A pod counts until it finishes: a change of phase matters, other status writes do not.
    if (event.resource === 'pods' && event.type === 'MODIFIED') {
      const phase = (o: unknown) => (o as { status?: { phase?: string } } | undefined)?.status?.phase;
      if (phase(event.object) === phase(event.prevObject)) return [];
    }
    return [ns];
  }

  async allKeys(): Promise<string[]> {
    return [...new Set((await this.store.list(RESOURCE_QUOTAS.storeKey)).items.map((q) => q.metadata.namespace ?? ''))];
  }

  async reconcile(namespace: string): Promise<void> {
    const quotas = (await this.store.list(RESOURCE_QUOTAS.storeKey, { namespace })).items as ResourceQuota[];
    for (const quota of quotas) {
      if (quota.metadata.deletionTimestamp) continue;
      const used = await recount(this.store, quota);
      const hard = quota.spec?.hard ?? {};
      await guaranteedUpdate<ResourceQuota>(this.store, RESOURCE_QUOTAS.storeKey, namespace, quota.metadata.name ?? '', (current) => {
        if (current.metadata.uid !== quota.metadata.uid) return undefined;
        const next = { hard: current.spec?.hard ?? hard, used };
        return JSON.stringify(next) === JSON.stringify(current.status) ? undefined : { ...current, status: next };
      }).catch(ignoreNotFound);
    }
  }
}

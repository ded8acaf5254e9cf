/**
 * The namespace controller: a namespace being deleted (Terminating, held by the `kubernetes`
 * finalizer the API put on it) has everything in it deleted; once nothing is left, the
 * finalizer goes and so does the namespace.
 */
import { NAMESPACE_FINALIZER } from '../api/kinds/namespace.js';
import { Registry } from '../api/registry.js';
import { clusterResources } from '../api/custom/served.js';
import { ignore, ignoreNotFound, isConflict, isNotFound } from '../errors.js';
import { withoutFinalizer } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import type { Controller, ReconcileResult } from './types.js';

export class NamespaceController implements Controller {
  readonly name = 'namespace';
  // The same skeleton as the garbage collector's: both delete through the registry, as a
  // client's delete would go, so pods keep their grace period and finalizers still hold.
  constructor(
    private readonly store: Store,
    private readonly registry = new Registry(store),
  ) {}

  keysFor(event: ChangeEvent): string[] {
    if (event.resource === 'namespaces') return event.object.metadata.deletionTimestamp ? [event.object.metadata.name ?? ''] : [];
    // Something left a namespace: if that namespace is terminating, it may now be empty.
    return event.type === 'DELETED' && event.object.metadata.namespace ? [event.object.metadata.namespace] : [];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list('namespaces')).items.filter((n) => n.metadata.deletionTimestamp).map((n) => n.metadata.name ?? '');
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const ns = await this.store.get('namespaces', '', name).catch(ignoreNotFound);
    if (!ns?.metadata.deletionTimestamp) return;
    let remaining = 0;
    // Each namespaced resource once (a CRD's versions share their objects), its custom ones too.
    const served = await clusterResources(this.store).fresh();
    const namespaced = [...new Map(served.all.filter((r) => r.namespaced).map((r) => [r.storeKey, r])).values()];
    for (const info of namespaced) {
      const { items } = await this.store.list(info.storeKey, { namespace: name });
      remaining += items.length;
      for (const item of items) {
        if (item.metadata.deletionTimestamp) continue;
        await this.registry
          .delete(info, name, item.metadata.name ?? '', { preconditions: { uid: item.metadata.uid }, propagationPolicy: 'Background' })
          .catch(ignore(isNotFound, isConflict));
      }
    }
    if (remaining > 0) return { requeueAfterMs: 2000 };
    await guaranteedUpdate(this.store, 'namespaces', '', name, (n) => withoutFinalizer(n, NAMESPACE_FINALIZER)).catch(ignoreNotFound);
  }
}

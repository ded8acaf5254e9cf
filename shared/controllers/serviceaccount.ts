/**
 * The service account controller: every namespace has a `default` ServiceAccount, made when the
 * namespace appears and made again if it is deleted, as kube-controller-manager does.
 */
import { ignore, ignoreNotFound, isAlreadyExists } from '../errors.js';
import type { ChangeEvent, Store } from '../store/types.js';
import type { Controller } from './types.js';

const SERVICE_ACCOUNTS = 'serviceaccounts';
export const DEFAULT_SERVICE_ACCOUNT = 'default';

export class ServiceAccountController implements Controller {
  readonly name = 'serviceaccount';

  constructor(private readonly store: Store) {}

  keysFor(event: ChangeEvent): string[] {
    const meta = event.object.metadata;
    if (event.resource === 'namespaces') return event.type === 'DELETED' || meta.deletionTimestamp ? [] : [meta.name ?? ''];
    if (event.resource === SERVICE_ACCOUNTS && event.type === 'DELETED' && meta.name === DEFAULT_SERVICE_ACCOUNT) return [meta.namespace ?? ''];
    return [];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list('namespaces')).items.map((n) => n.metadata.name ?? '');
  }

  async reconcile(namespace: string): Promise<void> {
    const ns = await this.store.get('namespaces', '', namespace).catch(ignoreNotFound);
    // A namespace on its way out gets nothing new (the API would refuse it too).
    if (!ns || ns.metadata.deletionTimestamp) return;
    const exists = await this.store.get(SERVICE_ACCOUNTS, namespace, DEFAULT_SERVICE_ACCOUNT).catch(ignoreNotFound);
    if (exists) return;
    await this.store
      .create(SERVICE_ACCOUNTS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: DEFAULT_SERVICE_ACCOUNT, namespace } })
      .catch(ignore(isAlreadyExists));
  }
}

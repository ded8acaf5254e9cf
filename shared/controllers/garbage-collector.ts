/**
 * The garbage collector: ownerReferences, with the three propagation policies the API records
 * as intent (`shared/api/registry.ts`):
 *
 * - background: once every owner of an object is gone, the object is deleted;
 * - foreground: an owner with the `foregroundDeletion` finalizer stays until its dependents are
 *   gone (it deletes them), then loses the finalizer and goes;
 * - orphan: an owner with the `orphan` finalizer first has its dependents released (their
 *   reference to it removed), then loses the finalizer and goes.
 *
 * Keys: `gone/<ns>` (something in the namespace disappeared, so dependents there may dangle;
 * `gone/` for a cluster-scoped object, whose dependents may be anywhere),
 * `owner/<resource>/<ns>/<name>` (an owner is being deleted with a policy),
 * `dependent/<resource>/<ns>/<name>` (an object whose owners may be dangling).
 *
 * `gone/` is one key per namespace, not per deleted object: deleting a ReplicaSet's 10,000 pods
 * wakes a handful of passes over the namespace's dependents instead of 10,000 of them.
 */
import { Registry } from '../api/registry.js';
import { clusterResources, type ClusterResources } from '../api/custom/served.js';
import type { ServedResources } from '../api/resources.js';
import { ignore, ignoreNotFound, isConflict, isNotFound } from '../errors.js';
import { type KubeObject, type OwnerReference, withoutFinalizer } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { inParallel } from '../store/parallel.js';
import type { Controller } from './types.js';

/** Built-in resources whose objects carry ownerReferences in this cluster (custom resources may too). */
const DEPENDENTS = [
  'pods',
  'replicasets.apps',
  'controllerrevisions.apps',
  'jobs.batch',
  'persistentvolumeclaims',
  'endpoints',
  'events',
  // What operators make for their custom resources, owned by them.
  'deployments.apps',
  'statefulsets.apps',
  'services',
  'configmaps',
  'secrets',
];
const POLICY_FINALIZERS = ['orphan', 'foregroundDeletion'];

/** Deletions in flight at once (kube-controller-manager runs 20 garbage collector workers). */
const DELETE_WORKERS = 16;

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  /** The resources served, built-in and custom: owners and dependents may be of any of them. */
  private readonly served: ClusterResources;

  /** Deletes go through the API's registry, so each kind's deletion rules (finalizers, grace) apply. */
  constructor(
    private readonly store: Store,
    private readonly registry = new Registry(store),
  ) {
    this.served = clusterResources(store);
  }

  /** The resource a reference names, from the resources as last read (built-in or a CRD's). */
  private resourceOf(ref: OwnerReference) {
    return this.served.current().byKind(ref.apiVersion, ref.kind);
  }

  private infoOf(storeKey: string) {
    return this.served.current().all.find((r) => r.storeKey === storeKey);
  }

  private dependentKeys?: { served: ServedResources; keys: Set<string> };

  /** What may carry ownerReferences: the built-ins that do, and every custom resource (worked out once a table). */
  private dependents(): Set<string> {
    const served = this.served.current();
    if (this.dependentKeys?.served !== served) this.dependentKeys = { served, keys: new Set([...DEPENDENTS, ...this.served.customStoreKeys()]) };
    return this.dependentKeys.keys;
  }

  keysFor(event: ChangeEvent): string[] {
    const o = event.object;
    const ns = o.metadata.namespace ?? '';
    const keys: string[] = [];
    if (event.type === 'DELETED') {
      keys.push(`gone/${ns}`);
      // A dependent that went may be what a foreground deletion waits for.
      for (const ref of o.metadata.ownerReferences ?? []) {
        const info = this.resourceOf(ref);
        if (info) keys.push(`owner/${info.storeKey}/${info.namespaced ? ns : ''}/${ref.name}`);
      }
      return keys;
    }
    if (o.metadata.deletionTimestamp && (o.metadata.finalizers ?? []).some((f) => POLICY_FINALIZERS.includes(f))) {
      keys.push(`owner/${event.resource}/${ns}/${o.metadata.name}`);
    }
    const refsChanged = event.type === 'ADDED' || JSON.stringify(event.prevObject?.metadata.ownerReferences) !== JSON.stringify(o.metadata.ownerReferences);
    if (o.metadata.ownerReferences?.length && refsChanged && this.dependents().has(event.resource)) {
      keys.push(`dependent/${event.resource}/${ns}/${o.metadata.name}`);
    }
    return keys;
  }

  async allKeys(): Promise<string[]> {
    const keys: string[] = [];
    const served = await this.served.fresh();
    for (const resource of this.dependents()) {
      for (const o of (await this.store.list(resource)).items) {
        if (o.metadata.ownerReferences?.length) keys.push(`dependent/${resource}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      }
    }
    for (const info of served.all) {
      for (const o of (await this.store.list(info.storeKey)).items) {
        if (o.metadata.deletionTimestamp && (o.metadata.finalizers ?? []).some((f) => POLICY_FINALIZERS.includes(f)))
          keys.push(`owner/${info.storeKey}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      }
    }
    return keys;
  }

  async reconcile(key: string): Promise<void> {
    const [kind, ...rest] = key.split('/');
    if (kind === 'gone') {
      await this.collectDangling(rest[0] || undefined);
    } else if (kind === 'owner') {
      const [resource, ns, name] = [rest.slice(0, -2).join('/'), rest[rest.length - 2], rest[rest.length - 1]];
      await this.reconcileOwner(resource, ns, name);
    } else if (kind === 'dependent') {
      const [resource, ns, name] = [rest.slice(0, -2).join('/'), rest[rest.length - 2], rest[rest.length - 1]];
      const object = await this.store.get(resource, ns, name).catch(ignoreNotFound);
      if (object) await this.reconcileDependent(resource, object);
    }
  }

  /**
   * Every dependent in `namespace` (all when undefined) whose owners are gone is deleted, or
   * loses its dangling references; each owner is looked up once per pass, and deletions run a
   * few at a time (the store commits them together).
   */
  private async collectDangling(namespace: string | undefined): Promise<void> {
    const exists = new Map<string, Promise<boolean>>();
    const ownerExists = (ref: OwnerReference, ns: string) => {
      const key = `${ns}/${ref.uid}`;
      let known = exists.get(key);
      if (!known) exists.set(key, (known = this.ownerExists(ref, ns)));
      return known;
    };
    const work: (() => Promise<void>)[] = [];
    await this.served.fresh();
    for (const resource of this.dependents()) {
      for (const object of (await this.store.list(resource, { namespace })).items) {
        if (!object.metadata.ownerReferences?.length || object.metadata.deletionTimestamp) continue;
        work.push(() => this.reconcileDependent(resource, object, ownerExists));
      }
    }
    await inParallel(work, DELETE_WORKERS);
  }

  /** Objects in `ns` that name `uid` as an owner. */
  private async dependentsOf(ns: string, uid: string): Promise<{ resource: string; object: KubeObject }[]> {
    const out: { resource: string; object: KubeObject }[] = [];
    for (const resource of this.dependents()) {
      for (const object of (await this.store.list(resource, { namespace: ns })).items) {
        if ((object.metadata.ownerReferences ?? []).some((r) => r.uid === uid)) out.push({ resource, object });
      }
    }
    return out;
  }

  /** Whether the owner a reference names still exists (same uid). */
  private async ownerExists(ref: OwnerReference, ns: string): Promise<boolean> {
    await this.served.fresh();
    const info = this.resourceOf(ref);
    if (!info) return true; // An owner of a kind we do not serve is not ours to judge.
    const owner = await this.store.get(info.storeKey, info.namespaced ? ns : '', ref.name).catch(ignoreNotFound);
    return owner?.metadata.uid === ref.uid;
  }

  /** Background deletion: all owners gone -> delete; some gone -> drop the dangling references. */
  private async reconcileDependent(
    resource: string,
    object: KubeObject,
    ownerExists = (ref: OwnerReference, ns: string) => this.ownerExists(ref, ns),
  ): Promise<void> {
    const ns = object.metadata.namespace ?? '';
    const refs = object.metadata.ownerReferences ?? [];
    if (refs.length === 0 || object.metadata.deletionTimestamp) return;
    const alive: string[] = [];
    for (const ref of refs) if (await ownerExists(ref, ns)) alive.push(ref.uid);
    if (alive.length === refs.length) return;
    if (alive.length === 0) {
      const info = this.infoOf(resource);
      const deleting = info
        ? this.registry.delete(info, ns, object.metadata.name ?? '', { preconditions: { uid: object.metadata.uid }, propagationPolicy: 'Background' })
        : this.store.delete(resource, ns, object.metadata.name ?? '', { preconditions: { uid: object.metadata.uid } });
      await deleting.catch(ignore(isNotFound, isConflict));
      return;
    }
    await this.dropReferences(resource, object, (r) => !alive.includes(r.uid));
  }

  private async dropReferences(resource: string, object: KubeObject, drop: (ref: OwnerReference) => boolean): Promise<void> {
    await guaranteedUpdate(this.store, resource, object.metadata.namespace ?? '', object.metadata.name ?? '', (o) => {
      if (o.metadata.uid !== object.metadata.uid) return undefined;
      const refs = (o.metadata.ownerReferences ?? []).filter((r) => !drop(r));
      if (refs.length === (o.metadata.ownerReferences ?? []).length) return undefined;
      return { ...o, metadata: { ...o.metadata, ownerReferences: refs.length ? refs : undefined } };
    }).catch(ignoreNotFound);
  }

  private async reconcileOwner(resource: string, ns: string, name: string): Promise<void> {
    const owner = await this.store.get(resource, ns, name).catch(ignoreNotFound);
    if (!owner?.metadata.deletionTimestamp) return;
    const finalizers = owner.metadata.finalizers ?? [];
    const dependents = await this.dependentsOf(ns, owner.metadata.uid ?? '');
    if (finalizers.includes('orphan')) {
      for (const d of dependents) await this.dropReferences(d.resource, d.object, (r) => r.uid === owner.metadata.uid);
      await this.removeFinalizer(resource, owner, 'orphan');
    } else if (finalizers.includes('foregroundDeletion')) {
      for (const d of dependents) {
        if (d.object.metadata.deletionTimestamp) continue;
        const info = this.infoOf(d.resource);
        if (!info) continue;
        // Dependents go in the foreground too, so a Deployment waits for its pods as well.
        await this.registry
          .delete(info, ns, d.object.metadata.name ?? '', { preconditions: { uid: d.object.metadata.uid }, propagationPolicy: 'Foreground' })
          .catch(ignore(isNotFound, isConflict));
      }
      // The finalizer goes once no dependent is left; their deletions wake this key again.
      if (dependents.length === 0) await this.removeFinalizer(resource, owner, 'foregroundDeletion');
    }
  }

  private async removeFinalizer(resource: string, owner: KubeObject, finalizer: string): Promise<void> {
    await guaranteedUpdate(this.store, resource, owner.metadata.namespace ?? '', owner.metadata.name ?? '', (o) => {
      if (o.metadata.uid !== owner.metadata.uid) return undefined;
      return withoutFinalizer(o, finalizer);
    }).catch(ignoreNotFound);
  }
}

/**
 * The ReplicaSet controller: keeps `spec.replicas` pods matching the selector. It adopts
 * orphans that match, releases pods that stop matching, creates pods from the template through
 * the API's registry (so they are defaulted and validated as any pod), deletes the surplus
 * preferring unscheduled, then not-ready, then the newest, and keeps the status counts.
 */
import { conditionOf, isTerminal, typed, typedList } from '../api/objects.js';
import { Registry } from '../api/registry.js';
import { ApiError } from '../api/status.js';
import { findResource } from '../api/resources.js';
import type { Pod, ReplicaSet } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isConflict, isNotFound } from '../errors.js';
import type { KubeObject, OwnerReference } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import { fromLabelSelector, matchLabels } from '../store/selectors.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import type { Controller, ReconcileResult } from './types.js';

const RS = 'replicasets.apps';

/** What a kind run by this controller is: a ReplicaSet, or a ReplicationController (its selector a plain map). */
export interface ReplicaKind {
  storeKey: string;
  apiVersion: string;
  kind: string;
  /** The spec's selector as a LabelSelector. */
  selector(spec: ReplicaSet['spec']): ReplicaSet['spec']['selector'];
}

export const REPLICA_SET: ReplicaKind = { storeKey: RS, apiVersion: 'apps/v1', kind: 'ReplicaSet', selector: (spec) => spec.selector };
export const REPLICATION_CONTROLLER: ReplicaKind = {
  storeKey: 'replicationcontrollers',
  apiVersion: 'v1',
  kind: 'ReplicationController',
  selector: (spec) => ({ matchLabels: (spec.selector ?? {}) as Record<string, string> }),
};
const PODS = findResource('', 'v1', 'pods')!;
/** Pods created per reconcile at most (kube-controller-manager's burst is 500). */
const BURST = 500;

export function controllerOf(object: KubeObject): OwnerReference | undefined {
  return (object.metadata.ownerReferences ?? []).find((o) => o.controller);
}

/** The `ns/name` keys of the `kind` that controls the object of a change (before and after it). */
export function ownerKeys(event: ChangeEvent, kind: string): Set<string> {
  const keys = new Set<string>();
  for (const obj of [event.object, event.prevObject]) {
    const owner = obj && controllerOf(obj);
    if (owner?.kind === kind) keys.add(`${obj!.metadata.namespace}/${owner.name}`);
  }
  return keys;
}

/** The reference that makes `owner` (of `apiVersion` and `kind`) the controller of what carries it. */
export function controllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

export function isPodReady(pod: Pod): boolean {
  return conditionOf(pod.status?.conditions, 'Ready')?.status === 'True';
}

/**
 * How long until a pod counts as available: Ready for `minReadySeconds` without a break (the
 * Ready condition's lastTransitionTime). 0 when available now, Infinity when not Ready.
 */
export function availableInMs(pod: Pod, minReadySeconds: number, now = Date.now()): number {
  const ready = conditionOf(pod.status?.conditions, 'Ready');
  if (ready?.status !== 'True') return Infinity;
  if (minReadySeconds <= 0) return 0;
  const since = Date.parse(String(ready.lastTransitionTime ?? ''));
  if (Number.isNaN(since)) return 0;
  return Math.max(0, since + minReadySeconds * 1000 - now);
}

export function isActive(pod: Pod): boolean {
  return !pod.metadata.deletionTimestamp && !isTerminal(pod);
}

/** The order in which surplus pods go: unscheduled, then not ready, then the newest. */
export function deletionOrder(a: Pod, b: Pod): number {
  const scheduled = (p: Pod) => (p.spec.nodeName ? 1 : 0);
  if (scheduled(a) !== scheduled(b)) return scheduled(a) - scheduled(b);
  const ready = (p: Pod) => (isPodReady(p) ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  return (
    String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')) ||
    String(b.metadata.name).localeCompare(String(a.metadata.name))
  );
}

/** Makes a pod of `owner`'s through the API's registry (defaulted and validated as any pod), and says so in an event. */
export async function createPodOf(registry: Registry, events: EventRecorder, owner: KubeObject, pod: object): Promise<void> {
  try {
    const { object } = await registry.create(PODS, owner.metadata.namespace ?? '', pod, { fieldValidation: 'Ignore' });
    await events.record(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${object.metadata.name}`);
  } catch (err) {
    // Refused by admission (a quota, a LimitRange, Pod Security): said on the owner, as kube-controller-manager says it.
    if (err instanceof ApiError && err.code === 403) await events.record(owner, 'Warning', 'FailedCreate', `Error creating: ${err.message}`);
    throw err;
  }
}

/** Deletes that very pod (by its uid) and says so in an event; one already gone, or another now, is no error. */
export async function deletePodOf(registry: Registry, events: EventRecorder, owner: KubeObject, pod: KubeObject): Promise<void> {
  const deleted = await registry
    .delete(PODS, pod.metadata.namespace ?? '', pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid } })
    .catch(ignore(isNotFound, isConflict));
  if (deleted) await events.record(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
}

/**
 * Runs `create` `count` times in batches of 1, 2, 4, ... (kube-controller-manager's
 * slowStartBatch): a template that fails every time (a quota, an admission error, a store
 * under strain) costs one failed write, not hundreds. Stops after the first batch with a
 * failure and rethrows it, so the reconcile is retried with back-off. Resolves to the number
 * created.
 */
export async function slowStart(count: number, create: () => Promise<void>): Promise<number> {
  let created = 0;
  for (let batch = 1; created < count; batch *= 2) {
    const results = await Promise.allSettled(Array.from({ length: Math.min(batch, count - created) }, create));
    created += results.filter((r) => r.status === 'fulfilled').length;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
  return created;
}

/**
 * What the controllers of named pods share (DaemonSet, StatefulSet): a key `ns/name` per object
 * of their resource, woken by its changes and by those of the pods it controls; the registry
 * their pods are made through; their events.
 */
export abstract class PodOwnerController implements Controller {
  abstract readonly name: string;
  protected readonly registry: Registry;
  protected readonly events: EventRecorder;

  constructor(
    protected readonly store: Store,
    private readonly owner: { storeKey: string; kind: string; component: string },
  ) {
    this.registry = new Registry(store);
    this.events = new EventRecorder(store, owner.component);
  }

  keysFor(event: ChangeEvent): string[] {
    if (event.resource === this.owner.storeKey) return [`${event.object.metadata.namespace}/${event.object.metadata.name}`];
    if (event.resource !== 'pods') return [];
    return [...ownerKeys(event, this.owner.kind)];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list(this.owner.storeKey)).items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  }

  /** The pods its selector matches that it controls. */
  protected async ownedPods(owner: KubeObject, selector: Parameters<typeof fromLabelSelector>[0]): Promise<Pod[]> {
    const listed = (await this.store.list('pods', { namespace: owner.metadata.namespace, labelSelector: fromLabelSelector(selector) })).items;
    return typedList('pods', listed).filter((p) => controllerOf(p)?.uid === owner.metadata.uid);
  }

  /**
   * Writes what changed of `status` (nothing when nothing did), and comes back when the first
   * pod of `waits` (ms until each is available) will be.
   */
  protected async writeStatus(owner: KubeObject, status: Record<string, unknown>, waits: number[]): Promise<ReconcileResult | void> {
    const { namespace = '', name = '', uid } = owner.metadata;
    await guaranteedUpdate(this.store, this.owner.storeKey, namespace, name, (cur) => {
      if (cur.metadata.uid !== uid) return undefined;
      const old = (cur.status ?? {}) as Record<string, unknown>;
      if (Object.entries(status).every(([k, v]) => old[k] === v)) return undefined;
      return { ...cur, status: { ...old, ...status } };
    }).catch(ignoreNotFound);
    const soonest = Math.min(...waits.filter((w) => w > 0 && w !== Infinity));
    if (soonest !== Infinity) return { requeueAfterMs: soonest + 10 };
  }

  abstract reconcile(key: string): Promise<ReconcileResult | void>;
}

export class ReplicaSetController implements Controller {
  readonly name: string;
  private readonly registry: Registry;
  private readonly events: EventRecorder;

  constructor(
    private readonly store: Store,
    private readonly of: ReplicaKind = REPLICA_SET,
  ) {
    this.name = of === REPLICA_SET ? 'replicaset' : 'replicationcontroller';
    this.registry = new Registry(store);
    this.events = new EventRecorder(store, `${this.name}-controller`);
  }

  keysFor(event: ChangeEvent): string[] {
    if (event.resource === this.of.storeKey) return [`${event.object.metadata.namespace}/${event.object.metadata.name}`];
    if (event.resource !== 'pods') return [];
    const keys = ownerKeys(event, this.of.kind);
    // A pod whose labels changed may have stopped matching its ReplicaSet: check it on its own,
    // so the ReplicaSet's reconcile needs only the pods its selector matches.
    const owner = controllerOf(event.object);
    if (
      event.type === 'MODIFIED' &&
      owner?.kind === this.of.kind &&
      JSON.stringify(event.prevObject?.metadata.labels) !== JSON.stringify(event.object.metadata.labels)
    ) {
      keys.add(`release/${event.object.metadata.namespace}/${event.object.metadata.name}`);
    }
    return [...keys];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list(this.of.storeKey)).items.map((rs) => `${rs.metadata.namespace}/${rs.metadata.name}`);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    if (key.startsWith('release/')) return this.releaseIfUnmatched(key.slice('release/'.length));
    const [namespace, name] = key.split('/');
    const stored = await this.store.get(this.of.storeKey, namespace, name).catch(ignoreNotFound);
    if (!stored || stored.metadata.deletionTimestamp) return;
    const rs = typed(RS, stored);
    const spec = rs.spec;
    const selector = fromLabelSelector(this.of.selector(spec));
    // The pods the selector matches: owned ones count, matching orphans are adopted. (Owned pods
    // that stop matching are released by their own `release/` key.)
    const uid = rs.metadata.uid;
    const owned: Pod[] = [];
    if (selector.requirements.length > 0) {
      for (const pod of typedList('pods', (await this.store.list('pods', { namespace, labelSelector: selector })).items)) {
        const owner = controllerOf(pod);
        if (owner?.uid === uid) owned.push(pod);
        else if (!owner && isActive(pod) && (await this.setOwner(pod, rs, rs))) owned.push(pod);
      }
    }
    const active = owned.filter(isActive);
    const want = spec.replicas ?? 1;
    const diff = want - active.length;
    if (diff > 0) {
      await slowStart(Math.min(diff, BURST), () => this.createPod(rs));
    } else if (diff < 0) {
      const surplus = [...active].sort(deletionOrder).slice(0, Math.min(-diff, BURST));
      await Promise.all(surplus.map((pod) => deletePodOf(this.registry, this.events, rs, pod)));
    }
    // Status reports what this reconcile observed; the pods it creates or deletes wake it again.
    return this.updateStatus(rs, owned);
  }

  /** Releases a pod whose labels no longer match its ReplicaSet's selector. */
  private async releaseIfUnmatched(podKey: string): Promise<void> {
    const [namespace, name] = podKey.split('/');
    const pod = await this.store.get('pods', namespace, name).catch(ignoreNotFound);
    const owner = pod && controllerOf(pod);
    if (!pod || owner?.kind !== this.of.kind) return;
    const rs = await this.store.get(this.of.storeKey, namespace, owner.name).catch(ignoreNotFound);
    if (!rs || rs.metadata.uid !== owner.uid) return;
    if (!matchLabels(fromLabelSelector(this.of.selector(typed(RS, rs).spec)), pod.metadata.labels)) await this.setOwner(pod, undefined, rs);
  }

  /** Adopts (owner) or releases (undefined) a pod; true when the write happened. */
  private async setOwner(pod: KubeObject, owner: KubeObject | undefined, rs: KubeObject): Promise<boolean> {
    let done = false;
    await guaranteedUpdate(this.store, 'pods', pod.metadata.namespace ?? '', pod.metadata.name ?? '', (p) => {
      const refs = (p.metadata.ownerReferences ?? []).filter((o) => o.uid !== rs.metadata.uid && !(owner && o.controller));
      if (owner) {
        if (controllerOf(p)) return undefined;
        refs.push(controllerRef(owner, this.of.apiVersion, this.of.kind));
      } else if (controllerOf(p)?.uid !== rs.metadata.uid) return undefined;
      done = true;
      return { ...p, metadata: { ...p.metadata, ownerReferences: refs.length ? refs : undefined } };
    }).catch(ignoreNotFound);
    return done;
  }

  private async createPod(rs: ReplicaSet): Promise<void> {
    const template = rs.spec.template;
    const meta = template?.metadata ?? {};
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        labels: meta.labels,
        annotations: meta.annotations,
        ownerReferences: [controllerRef(rs, this.of.apiVersion, this.of.kind)],
      },
      spec: structuredClone(template?.spec),
    };
    await createPodOf(this.registry, this.events, rs, pod);
  }

  private async updateStatus(rs: ReplicaSet, owned: Pod[]): Promise<ReconcileResult | void> {
    const active = owned.filter(isActive);
    const replicas = active.length;
    const ready = active.filter(isPodReady).length;
    const minReadySeconds = rs.spec.minReadySeconds ?? 0;
    const now = Date.now();
    const waits = active.map((p) => availableInMs(p, minReadySeconds, now));
    const available = waits.filter((w) => w === 0).length;
    // A pod Ready but not yet for minReadySeconds: look again when it will be.
    const soonest = Math.min(...waits.filter((w) => w > 0 && w !== Infinity));
    const labels = rs.spec.template?.metadata?.labels ?? {};
    const fullyLabeled = active.filter((p) => Object.entries(labels).every(([k, v]) => p.metadata.labels?.[k] === v)).length;
    const status = {
      replicas,
      fullyLabeledReplicas: fullyLabeled,
      readyReplicas: ready,
      availableReplicas: available,
      observedGeneration: rs.metadata.generation,
    };
    await guaranteedUpdate<ReplicaSet>(this.store, this.of.storeKey, rs.metadata.namespace ?? '', rs.metadata.name ?? '', (current) => {
      if (current.metadata.uid !== rs.metadata.uid) return undefined;
      const old = current.status ?? {};
      if (Object.entries(status).every(([k, v]) => old[k as keyof typeof status] === v)) return undefined;
      return { ...current, status: { ...old, ...status } };
    }).catch(ignoreNotFound);
    if (soonest !== Infinity) return { requeueAfterMs: soonest + 10 };
  }
}

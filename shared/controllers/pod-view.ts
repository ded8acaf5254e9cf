/**
 * The scheduler's pods, kept current by the change feed rather than listed on every pass.
 */
import { isTerminal, typed, typedList } from '../api/objects.js';
import type { Pod } from '../api/schemas/index.js';
import { SchedulingCache } from '../scheduler/index.js';
import type { KubeObject } from '../store/object.js';
import type { ChangeEvent, Store } from '../store/types.js';

const rv = (o: KubeObject) => Number(o.metadata.resourceVersion ?? 0);

/**
 * The pods a scheduler pass needs, split into pending and bound, kept current by the change
 * feed (kube-scheduler's informer cache). Loaded by one list; events that arrive before the
 * list has answered are held and then applied past its revision, so none falls in a gap.
 * Bindings this scheduler made are applied at once (kube-scheduler's "assume"), before their
 * events come back, so the next pass never counts a pod it just placed as pending.
 */
export class PodView {
  readonly pending = new Map<string, Pod>();
  /** The bound pods, and the node usage they add up to, kept up to date change by change. */
  readonly cache = new SchedulingCache();
  /** Resource versions of the pods the view holds, to ignore an older state arriving late. */
  private readonly versions = new Map<string, number>();
  private loadedAt = -1;
  private held: ChangeEvent[] = [];

  get loaded(): boolean {
    return this.loadedAt >= 0;
  }

  observe(event: ChangeEvent): void {
    if (!this.loaded) this.held.push(event);
    else if (event.revision > this.loadedAt) this.apply(typed('pods', event.object), event.type === 'DELETED');
  }

  async load(store: Store): Promise<void> {
    const list = await store.list('pods');
    for (const p of typedList('pods', list.items)) this.apply(p, false);
    this.loadedAt = list.revision;
    for (const e of this.held) if (e.revision > list.revision) this.apply(typed('pods', e.object), e.type === 'DELETED');
    this.held = [];
  }

  /** A binding this scheduler wrote; ignored when the pod has gone meanwhile. */
  assume(pod: Pod): void {
    if (this.versions.has(pod.metadata.uid!)) this.apply(pod, false);
  }

  private apply(pod: Pod, deleted: boolean): void {
    const uid = pod.metadata.uid!;
    const known = this.versions.get(uid);
    if (known !== undefined && known > rv(pod)) return;
    this.pending.delete(uid);
    this.versions.delete(uid);
    const spec = pod.spec;
    if (!deleted && spec.nodeName && !isTerminal(pod)) {
      this.versions.set(uid, rv(pod));
      this.cache.bound(uid, pod);
      return;
    }
    this.cache.gone(uid);
    if (!deleted && awaitsScheduler(pod)) {
      this.versions.set(uid, rv(pod));
      this.pending.set(uid, pod);
    }
  }
}

/** A pod this scheduler is yet to bind: none named yet, not being deleted, and its own (no other `schedulerName`). */
export function awaitsScheduler(pod: Pod): boolean {
  return !pod.spec.nodeName && !pod.metadata.deletionTimestamp && (pod.spec.schedulerName ?? 'default-scheduler') === 'default-scheduler';
}

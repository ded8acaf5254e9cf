/**
 * Evicting pods without taking a workload below its replicas, as migration and consolidation
 * both drain nodes: per owner, one pod at a time, and only while every replica of that owner is
 * ready and none is already on its way out. A workload of 10 keeps at least 9 ready throughout.
 * The evicted pod's ReplicaSet makes a new one, which the scheduler (or the provisioner) places
 * elsewhere. Pods no controller owns are never evicted: nothing would make them again. Each
 * eviction goes through the Eviction subresource's rules (shared/api/disruption.ts), so a
 * PodDisruptionBudget stricter than this (or one allowing more at once) is honoured as
 * `kubectl drain` honours it: a pod its budget does not let go now is tried again later.
 *
 * With it, the node writes a drain makes: annotate and cordon, and at the end remove.
 */
import { evict } from '../api/disruption.js';
import { Registry } from '../api/registry.js';
import { ApiError } from '../api/status.js';
import type { typedList } from '../api/objects.js';
import type { CloudProvider } from '../cloud/types.js';
import { ignore, ignoreNotFound, isConflict, isNotFound } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';
import { controllerOf, isActive, isPodReady } from './replicaset.js';

export type PodObject = ReturnType<typeof typedList<'pods'>>[number];
type ReplicaSetObject = ReturnType<typeof typedList<'replicasets.apps'>>[number];

export const ownerOf = (p: PodObject) => controllerOf(p)?.uid;

/** A budget that allows no disruption now (or is still being counted). */
const isTooManyRequests = (err: unknown) => err instanceof ApiError && err.reason === 'TooManyRequests';

export class SafeEviction {
  private readonly registry: Registry;

  constructor(
    private readonly store: Store,
    private readonly log?: (line: string) => void,
  ) {
    this.registry = new Registry(store);
  }

  /**
   * Evicts, per owner, one of `candidates` when all of the owner's replicas are ready and none
   * is going; `pods` are all the cluster's. Returns how many pods it evicted.
   */
  async evict(candidates: PodObject[], pods: PodObject[], replicaSets: ReplicaSetObject[]): Promise<number> {
    let moved = 0;
    const owners = new Map<string, PodObject[]>();
    for (const p of candidates.filter(isActive)) {
      const owner = ownerOf(p);
      if (owner) owners.set(owner, [...(owners.get(owner) ?? []), p]);
    }
    for (const [owner, mine] of owners) {
      const siblings = pods.filter((p) => ownerOf(p) === owner);
      const going = siblings.some((p) => p.metadata.deletionTimestamp);
      const wanted = replicaSets.find((r) => r.metadata.uid === owner)?.spec?.replicas ?? siblings.length;
      const readyNow = siblings.filter((p) => isActive(p) && isPodReady(p)).length;
      if (going || readyNow < wanted) continue;
      const pod = mine[0];
      // As the API evicts: the budget is spent, the pod marked, and its kubelet stops it within its grace period.
      const eviction = { deleteOptions: { preconditions: { uid: pod.metadata.uid } } };
      const done = await evict(this.registry, this.store, pod.metadata.namespace ?? '', pod.metadata.name as string, eviction)
        .then(() => true)
        .catch(ignore(isNotFound, isConflict, isTooManyRequests));
      if (!done) continue;
      this.log?.(`evicted ${pod.metadata.namespace}/${pod.metadata.name} from ${pod.spec.nodeName}`);
      moved++;
    }
    return moved;
  }
}

/** Sets a node's annotations (undefined removes one), and cordons it when asked. A node gone is no error. */
export async function updateNode(store: Store, name: string, annotations: Record<string, string | undefined>, cordon = false): Promise<void> {
  await guaranteedUpdate(store, 'nodes', '', name, (n) => {
    const merged: Record<string, string> = { ...n.metadata.annotations };
    for (const [key, value] of Object.entries(annotations)) {
      if (value === undefined) delete merged[key];
      else merged[key] = value;
    }
    return { ...n, metadata: { ...n.metadata, annotations: merged }, ...(cordon ? { spec: { ...(n.spec as object), unschedulable: true } } : {}) };
  }).catch(ignoreNotFound);
}

/** Stops a node at its provider, then deletes its Node. */
export async function removeNode(store: Store, provider: CloudProvider, name: string): Promise<void> {
  await provider.delete(name);
  await store.delete('nodes', '', name).catch(ignoreNotFound);
}

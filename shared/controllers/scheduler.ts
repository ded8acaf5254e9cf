/**
 * The scheduler as a controller: every change to pods or nodes wakes one key, and a reconcile
 * places all pending pods in one call of the pure scheduler. Bindings are written with
 * compare-and-swap on the pod (a pod another scheduler bound meanwhile is left alone); a pod
 * that fits nowhere gets PodScheduled=False, reason Unschedulable, with kube-scheduler's
 * message, and a FailedScheduling event; it is tried again when nodes or pods change. A pod of
 * higher priority than some that are placed preempts them where that makes room
 * (`scheduler/preemption.ts`): they are deleted and it is nominated to the node.
 *
 * Several schedulers may run at once where the change feed fans out (stream Lambdas, one per
 * shard). CAS on each pod keeps a pod from being bound twice, but two passes that read the
 * same state could each fill the same node's free capacity. With `coordination: 'claims'` a
 * pass first reserves what it places, per node, with a conditional write on that node's
 * internal claim record (Omega's optimistic transaction on the cell state): the pass that
 * loses the race for a node binds nothing there and runs again on fresh state. A pass counts
 * pods that other passes have claimed but not yet bound as already on their node. The
 * embedded control plane runs one pass at a time (the manager serializes the key), so it uses
 * `exclusive` and skips the extra writes.
 */
import { conditionOf, isTerminal, typed, typedList } from '../api/objects.js';
import type { Node, Pod } from '../api/schemas/index.js';
import { Registry } from '../api/registry.js';
import { findResource } from '../api/resources.js';
import { findPreemption } from '../scheduler/preemption.js';
import { type Budget, PDBS } from '../api/disruption.js';
import { schedule, type Binding } from '../scheduler/index.js';
import { ignore, ignoreNotFound, isAlreadyExists, isConflict, isNotFound } from '../errors.js';
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import { awaitsScheduler, PodView } from './pod-view.js';
import { VolumeBinding } from './volume-binding.js';
import { scheduleAttempts } from '../metrics.js';
import { PERSISTENT_VOLUME_CLAIMS } from '../api/kinds/storage.js';
import type { Controller, ReconcileResult } from './types.js';

const KEY = 'pending-pods';
/** Internal, cluster-scoped, never served by the API: one record per node with pods claimed there. */
export const CLAIMS_RESOURCE = 'schedulingclaims';
/** A claim whose pod is still unbound after this long is void (its scheduler died mid-pass). */
const CLAIM_TTL_MS = 30_000;
/** How soon a pass that placed nothing is followed by another without a new pending pod. */
const UNSCHEDULABLE_RETRY_MS = 1_000;
/** Parked pods are tried again at least this often, whatever happened (kube-scheduler: 60 s). */
const FULL_PASS_MS = 30_000;
/** Pending pods placed per call of the pure scheduler when the queue is long. */
const SCHEDULE_CHUNK = 1000;
/** Pods a pass tries to make room for by preemption. */
const PREEMPTIONS_PER_PASS = 10;
const PODS = findResource('', 'v1', 'pods')!;

interface ClaimEntry {
  uid: string;
  at: number;
}

export interface SchedulerOptions {
  /** `exclusive`: the only scheduler binding pods (default); `claims`: one of several at once. */
  coordination?: 'exclusive' | 'claims';
  /**
   * `feed`: every change event is routed to this controller from the start (the embedded
   * manager), so it lists pods once and keeps them current from the feed instead of listing
   * every pod on every pass. `list` (default): each pass lists, as a stream Lambda must.
   */
  pods?: 'list' | 'feed';
}

interface PodSnapshot {
  pending: Pod[];
  bound: Pod[];
  podsByUid: Map<string | undefined, Pod>;
  claimedPending: number;
}

/** A node's record of the pods scheduler passes have claimed there (internal, written only here). */
interface SchedulingClaim extends KubeObject {
  spec?: { pods?: ClaimEntry[] };
}

export class SchedulerController implements Controller {
  readonly name = 'scheduler';
  private readonly events: EventRecorder;
  private readonly volumes: VolumeBinding;
  /** Victims of preemption are deleted as a client deletes them: with their grace period. */
  private readonly registry: Registry;
  private startIndex = 0;

  private readonly coordination: 'exclusive' | 'claims';
  private readonly view?: PodView;
  /** A pending pod arrived (or changed) since the last pass. */
  private newPending = true;
  /**
   * Pods the last pass that saw them could not place (kube-scheduler's unschedulable queue):
   * later passes leave them out until capacity changes (a node changed, a bound pod left) or
   * the periodic full pass, so a pass over a few new pods does not retry thousands that
   * cannot fit. Only with the change-fed view; a listing scheduler tries every pending pod.
   */
  private readonly parked = new Set<string>();
  private capacityChanged = true;
  private lastFullPassAt = 0;
  /** When the last pass ended having placed nothing (0: it placed some). */
  private fruitlessAt = 0;

  constructor(
    private readonly store: Store,
    options: SchedulerOptions = {},
  ) {
    this.coordination = options.coordination ?? 'exclusive';
    // Claims need every pod of the same snapshot, so a claiming scheduler always lists.
    if (options.pods === 'feed' && this.coordination === 'exclusive') this.view = new PodView();
    this.events = new EventRecorder(store, 'default-scheduler');
    this.volumes = new VolumeBinding(store);
    this.registry = new Registry(store);
  }

  keysFor(event: ChangeEvent): string[] {
    // A claim bound or made: the pods waiting on it may fit now.
    if (event.resource === 'nodes' || event.resource === PERSISTENT_VOLUME_CLAIMS.storeKey) {
      this.capacityChanged = true;
      return [KEY];
    }
    if (event.resource !== 'pods') return [];
    this.view?.observe(event);
    const pod = typed('pods', event.object);
    if (!pod.spec.nodeName) {
      // A new pending pod, or one whose spec changed. Not a status write to a pending pod (this
      // scheduler's own Unschedulable condition among them), nor a pending pod's deletion:
      // neither changes where anything fits, and waking on them made every pass over N
      // unschedulable pods write-and-wake N times.
      if (event.type === 'DELETED') return [];
      const respec = event.type === 'ADDED' || event.object.metadata.generation !== event.prevObject?.metadata.generation;
      if (respec) this.newPending = true;
      return respec ? [KEY] : [];
    }
    // A pod leaving a node (deleted or finished): its capacity frees up.
    if (event.type !== 'DELETED' && !isTerminal(pod)) return [];
    this.capacityChanged = true;
    return [KEY];
  }

  async allKeys(): Promise<string[]> {
    return [KEY];
  }

  async reconcile(): Promise<ReconcileResult | void> {
    // After a pass that placed nothing, freed capacity (a stream of deletions) is looked at
    // again at most once a second, as kube-scheduler backs off unschedulable pods; a new
    // pending pod is placed at once.
    const quietFor = this.fruitlessAt ? Date.now() - this.fruitlessAt : Infinity;
    if (!this.newPending && quietFor < UNSCHEDULABLE_RETRY_MS) return { requeueAfterMs: UNSCHEDULABLE_RETRY_MS - quietFor };
    this.newPending = false;
    const result = await this.pass();
    this.fruitlessAt = result.placed === 0 && result.unschedulable > 0 ? Date.now() : 0;
    return result.next;
  }

  private async pass(): Promise<{ placed: number; unschedulable: number; next: ReconcileResult | void }> {
    // Claims are read before pods: a pod claimed after this read changes the claim's version,
    // so our conditional write on that node fails rather than double-booking it.
    const claims: SchedulingClaim[] = this.coordination === 'claims' ? (await this.store.list(CLAIMS_RESOURCE)).items : [];
    let { pending, bound, podsByUid, claimedPending } = this.view ? await this.fromView(this.view) : await this.fromList(claims);
    // A claimed pod whose binder died is free again once its claim expires.
    if (pending.length === 0) {
      // Parked pods get their periodic full pass; a claimed pod whose binder died, its claim's expiry.
      const next = this.parked.size ? { requeueAfterMs: FULL_PASS_MS } : claimedPending ? { requeueAfterMs: CLAIM_TTL_MS } : undefined;
      return { placed: 0, unschedulable: 0, next };
    }
    const nodes = typedList('nodes', (await this.store.list('nodes')).items);
    pending = await this.holdForVolumes(pending, nodes.length);
    // The scheduling queue's order: highest priority first (kube-scheduler's PrioritySort), the rest as they came.
    if (pending.some((p) => p.spec.priority)) pending.sort((a, b) => (b.spec.priority ?? 0) - (a.spec.priority ?? 0));
    // With the view, a long queue is placed a chunk at a time, yielding between chunks so the
    // API in the same process keeps answering; each chunk's bindings are in the view's cache
    // before the next is placed. A listing scheduler places its snapshot in one call.
    const chunk = this.view ? SCHEDULE_CHUNK : pending.length;
    let placed = 0;
    let unschedulable = 0;
    for (let i = 0; i < pending.length; i += chunk) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      const part = pending.slice(i, i + chunk);
      const result = schedule({
        pendingPods: part,
        nodes,
        boundPods: bound,
        cache: this.view?.cache,
        options: { startIndex: this.startIndex },
      });
      this.startIndex = result.nextStartIndex;
      const byUid = new Map(part.map((p) => [p.metadata.uid, p]));
      let bindings = result.bindings;
      let lostRace = false;
      if (this.coordination === 'claims') {
        const won = await this.claim(bindings, claims, podsByUid);
        lostRace = won.size < bindings.length;
        bindings = bindings.filter((b) => won.has(b.pod.uid));
      }
      await Promise.all(bindings.map((b) => this.bind(byUid.get(b.pod.uid)!, b.nodeName)));
      // A pod left out because another pass took its node is not unschedulable: try again now.
      if (lostRace) return { placed: placed + bindings.length, unschedulable: 0, next: { requeueAfterMs: 0 } };
      await Promise.all(result.unschedulable.map((u) => this.markUnschedulable(byUid.get(u.pod.uid)!, u.message)));
      await this.preempt(
        result.unschedulable.map((u) => byUid.get(u.pod.uid)!),
        nodes,
      );
      for (const u of this.view ? result.unschedulable : []) this.parked.add(u.pod.uid);
      placed += bindings.length;
      unschedulable += result.unschedulable.length;
      scheduleAttempts.inc({ result: 'scheduled', profile: 'default-scheduler' }, bindings.length);
      scheduleAttempts.inc({ result: 'unschedulable', profile: 'default-scheduler' }, result.unschedulable.length);
    }
    if (this.view) for (const uid of this.parked) if (!this.view.pending.has(uid)) this.parked.delete(uid);
    // Unplaceable pods are tried again on any node or pod change; this is the backstop.
    return { placed, unschedulable, next: unschedulable ? { requeueAfterMs: 30_000 } : undefined };
  }

  /** The pods whose claims let them be placed; the others are marked Unschedulable with the reason. */
  private async holdForVolumes(pending: Pod[], nodeCount: number): Promise<Pod[]> {
    const { placeable, refused } = await this.volumes.check(pending);
    await Promise.all(refused.map((r) => this.markUnschedulable(r.pod, `0/${nodeCount} nodes are available: ${r.reason}.`)));
    for (const r of this.view ? refused : []) this.parked.add(r.pod.metadata.uid!);
    return placeable;
  }

  /** Pending pods from the change-fed view (bound ones are in its cache), parked ones left out unless capacity changed. */
  private async fromView(view: PodView): Promise<PodSnapshot> {
    if (!view.loaded) await view.load(this.store);
    const full = this.capacityChanged || Date.now() - this.lastFullPassAt >= FULL_PASS_MS;
    if (full) {
      this.capacityChanged = false;
      this.lastFullPassAt = Date.now();
      this.parked.clear();
    }
    const pending = [...view.pending.values()].filter((p) => !this.parked.has(p.metadata.uid!));
    return { pending, bound: [], podsByUid: new Map(), claimedPending: 0 };
  }

  /** Pending and bound pods from one list; pods claimed by other passes count as bound. */
  private async fromList(claims: SchedulingClaim[]): Promise<PodSnapshot> {
    const pods = typedList('pods', (await this.store.list('pods')).items);
    const claimedOn = new Map<string, string>();
    const now = Date.now();
    for (const claim of claims) {
      for (const entry of claimEntries(claim)) if (now - entry.at < CLAIM_TTL_MS) claimedOn.set(entry.uid, claim.metadata.name!);
    }
    const snapshot: PodSnapshot = { pending: [], bound: [], podsByUid: new Map(pods.map((p) => [p.metadata.uid, p])), claimedPending: 0 };
    for (const p of pods) {
      const spec = p.spec;
      if (spec.nodeName) {
        if (!isTerminal(p)) snapshot.bound.push(p);
      } else if (awaitsScheduler(p)) {
        const claimedNode = claimedOn.get(p.metadata.uid!);
        // Claimed by a pass still binding it: it already takes its node's capacity.
        if (claimedNode) {
          snapshot.claimedPending++;
          snapshot.bound.push({ ...p, spec: { ...spec, nodeName: claimedNode } });
        } else snapshot.pending.push(p);
      }
    }
    return snapshot;
  }

  /**
   * Reserves each node's new pods with one conditional write on its claim record, against the
   * version this pass read. Returns the uids whose node was won. Entries whose pod is bound,
   * gone or expired are dropped on the way.
   */
  private async claim(bindings: Binding[], claims: SchedulingClaim[], pods: Map<string | undefined, Pod>): Promise<Set<string>> {
    const byNode = new Map<string, Binding[]>();
    for (const b of bindings) byNode.set(b.nodeName, [...(byNode.get(b.nodeName) ?? []), b]);
    const read = new Map(claims.map((c) => [c.metadata.name!, c]));
    const won = new Set<string>();
    const now = Date.now();
    await Promise.all(
      [...byNode].map(async ([nodeName, group]) => {
        const current = read.get(nodeName);
        const kept = current ? claimEntries(current).filter((e) => now - e.at < CLAIM_TTL_MS && pods.has(e.uid) && !pods.get(e.uid)!.spec.nodeName) : [];
        const spec = { pods: [...kept, ...group.map((b) => ({ uid: b.pod.uid, at: now }))] };
        try {
          if (current) await this.store.update(CLAIMS_RESOURCE, { ...current, spec });
          else await this.store.create(CLAIMS_RESOURCE, { apiVersion: 'skiff.dev/v1', kind: 'SchedulingClaim', metadata: { name: nodeName }, spec });
          for (const b of group) won.add(b.pod.uid);
        } catch (err) {
          // Another pass wrote the claim first (or the node went): this node is lost.
          if (!isConflict(err) && !isAlreadyExists(err) && !isNotFound(err)) throw err;
        }
      }),
    );
    return won;
  }

  private async bind(pod: Pod, nodeName: string): Promise<void> {
    const { namespace = '', name = '' } = pod.metadata;
    await this.volumes.selectNode(pod, nodeName);
    let bound = false;
    const written = await guaranteedUpdate<Pod>(this.store, 'pods', namespace, name, (p) => {
      if (p.metadata.uid !== pod.metadata.uid || p.spec.nodeName || p.metadata.deletionTimestamp) return undefined;
      bound = true;
      const conditions = (p.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowTimestamp() });
      return { ...p, spec: { ...p.spec, nodeName }, status: { ...p.status, conditions } };
    }).catch(ignoreNotFound);
    // Bound here, or by someone else meanwhile: either way the view learns where it is now.
    if (written) this.view?.assume(written);
    if (bound) await this.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${nodeName}`);
  }

  /**
   * Pods that fit nowhere and may preempt (a priority above 0, policy PreemptLowerPriority, not
   * already waiting on a nominated node): lower-priority pods are deleted (gracefully, through
   * the API's rules, marked DisruptionTarget) where that makes room, and the pod is nominated to
   * that node; it is placed when they are gone. Victims whose PodDisruptionBudget allows no
   * disruption are spared where another choice exists. A few a pass: preemption lists every pod.
   */
  private async preempt(unschedulable: Pod[], nodes: Node[]): Promise<void> {
    const candidates = unschedulable
      .filter((p) => (p.spec.priority ?? 0) > 0 && p.spec.preemptionPolicy !== 'Never' && !p.status?.nominatedNodeName)
      .slice(0, PREEMPTIONS_PER_PASS);
    if (candidates.length === 0) return;
    let bound = typedList('pods', (await this.store.list('pods')).items).filter((p) => p.spec.nodeName && !isTerminal(p) && !p.metadata.deletionTimestamp);
    const budgets = (await this.store.list(PDBS.storeKey)).items as Budget[];
    for (const pod of candidates) {
      const found = findPreemption(pod, nodes, bound, budgets);
      if (!found) continue;
      const gone = new Set(found.victims.map((v) => v.metadata.uid));
      bound = bound.filter((p) => !gone.has(p.metadata.uid));
      await Promise.all(found.victims.map((victim) => this.evictFor(victim, pod, found.nodeName)));
      await guaranteedUpdate<Pod>(this.store, 'pods', pod.metadata.namespace ?? '', pod.metadata.name ?? '', (p) =>
        p.metadata.uid !== pod.metadata.uid || p.spec.nodeName ? undefined : { ...p, status: { ...p.status, nominatedNodeName: found.nodeName } },
      ).catch(ignoreNotFound);
    }
  }

  /** A victim of preemption: marked DisruptionTarget, told why (an event), deleted with its grace period. */
  private async evictFor(victim: Pod, preemptor: Pod, nodeName: string): Promise<void> {
    const { namespace = '', name = '' } = victim.metadata;
    await guaranteedUpdate<Pod>(this.store, 'pods', namespace, name, (p) => {
      if (p.metadata.uid !== victim.metadata.uid || p.metadata.deletionTimestamp) return undefined;
      const condition = {
        type: 'DisruptionTarget',
        status: 'True',
        reason: 'PreemptionByScheduler',
        message: 'default-scheduler: preempting to accommodate a higher priority pod',
        lastTransitionTime: nowTimestamp(),
      };
      return { ...p, status: { ...p.status, conditions: [...(p.status?.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget'), condition] } };
    }).catch(ignoreNotFound);
    await this.events.record(victim, 'Normal', 'Preempted', `Preempted by pod ${preemptor.metadata.uid} on node ${nodeName}`);
    await this.registry.delete(PODS, namespace, name, { preconditions: { uid: victim.metadata.uid } }).catch(ignore(isNotFound, isConflict));
  }

  private async markUnschedulable(pod: Pod, message: string): Promise<void> {
    const { namespace = '', name = '' } = pod.metadata;
    // Already says so (the common case on every pass after the first): no read, no write.
    if (hasUnschedulable(pod, message)) return;
    let changed = false;
    await guaranteedUpdate<Pod>(this.store, 'pods', namespace, name, (p) => {
      if (p.spec.nodeName) return undefined;
      if (hasUnschedulable(p, message)) return undefined;
      const conditions = p.status?.conditions ?? [];
      changed = true;
      return {
        ...p,
        status: {
          ...p.status,
          conditions: [
            ...conditions.filter((c) => c.type !== 'PodScheduled'),
            { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: nowTimestamp() },
          ],
        },
      };
    }).catch(ignoreNotFound);
    if (changed) await this.events.record(pod, 'Warning', 'FailedScheduling', message);
  }
}

function hasUnschedulable(pod: Pod, message: string): boolean {
  const current = conditionOf(pod.status?.conditions, 'PodScheduled');
  return current?.status === 'False' && current.message === message;
}

function claimEntries(claim: SchedulingClaim): ClaimEntry[] {
  return claim.spec?.pods ?? [];
}

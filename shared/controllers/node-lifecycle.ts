/**
 * Node lifecycle: a node whose Lease (kube-node-lease) has not been renewed within the grace
 * period goes Ready=Unknown and gets the `node.kubernetes.io/unreachable` NoSchedule and
 * NoExecute taints; its pods are evicted once they have tolerated the NoExecute taint for
 * their tolerationSeconds (default 300, as Kubernetes' DefaultTolerationSeconds), and their
 * owners replace them elsewhere. A node whose Lease is renewed again loses the taints. A node
 * whose kubelet reports Ready=False gets the `node.kubernetes.io/not-ready` taints the same
 * way, and loses them when it reports Ready again.
 */
import { conditionOf, typed, typedList } from '../api/objects.js';
import { Registry } from '../api/registry.js';
import { findResource } from '../api/resources.js';
import type { Node, Taint } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isConflict, isNotFound } from '../errors.js';
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import type { Controller, ReconcileResult } from './types.js';

export const UNREACHABLE = 'node.kubernetes.io/unreachable';
/** The taint of a node whose kubelet reports Ready=False (it is there, but not fit to run pods). */
export const NOT_READY = 'node.kubernetes.io/not-ready';

export interface NodeLifecycleOptions {
  /** A Lease older than this makes the node Unknown (kube-controller-manager: 40 s). */
  gracePeriodMs?: number;
  /** Eviction delay for pods that do not say (DefaultTolerationSeconds: 300). */
  defaultTolerationSeconds?: number;
  /**
   * Count a node's silence from this controller's first look at it too (default true): after
   * the control plane itself was down, kubelets get a whole grace period to renew. The AWS
   * shape's functions turn it off: each cold start is a first look, so a silent node would be
   * given a fresh grace at every cold start and might never go NotReady; there the managed
   * services are not what goes down, and the Lease's own time is the truth.
   */
  graceFromFirstLook?: boolean;
  now?: () => number;
}

const LEASES = 'leases.coordination.k8s.io';

/** `taints` with the NoSchedule and NoExecute taints of `key` added (`present`) or taken off. */
function withTaints(taints: Taint[] | undefined, key: string, present: boolean, now: string): Taint[] | undefined {
  const others = (taints ?? []).filter((t) => t.key !== key);
  const next: Taint[] = present ? [...others, { key, effect: 'NoSchedule', timeAdded: now }, { key, effect: 'NoExecute', timeAdded: now }] : others;
  return next.length ? next : undefined;
}

export class NodeLifecycleController implements Controller {
  readonly name = 'node-lifecycle';
  readonly periodic = true;
  private readonly gracePeriodMs: number;
  private readonly tolerationSeconds: number;
  private readonly now: () => number;
  private readonly registry: Registry;
  private readonly events: EventRecorder;
  /**
   * When this controller first looked at each node. A node's silence is counted from its last
   * renewal or from then, whichever is later, as kube-controller-manager counts from its own
   * first probe: after the control plane itself was down, kubelets get a whole grace period to
   * renew before their nodes are called Unknown and their pods evicted.
   */
  private readonly firstSeen = new Map<string, number>();
  private readonly graceFromFirstLook: boolean;

  constructor(
    private readonly store: Store,
    options: NodeLifecycleOptions = {},
  ) {
    this.gracePeriodMs = options.gracePeriodMs ?? 40_000;
    this.tolerationSeconds = options.defaultTolerationSeconds ?? 300;
    this.now = options.now ?? Date.now;
    this.graceFromFirstLook = options.graceFromFirstLook ?? true;
    this.registry = new Registry(store);
    this.events = new EventRecorder(store, 'node-controller');
  }

  keysFor(event: ChangeEvent): string[] {
    if (event.resource === 'nodes' && event.type !== 'DELETED') return [event.object.metadata.name ?? ''];
    if (event.resource === LEASES && event.object.metadata.namespace === 'kube-node-lease' && event.type !== 'DELETED') {
      // A renewal on time changes nothing: each node's reconcile is already due when its Lease
      // would expire. Only a first Lease, or one renewed after a gap long enough to have made
      // the node Unknown, needs a look now (to take the taints off). Thousands of nodes renew
      // every 10 s; this keeps them from waking the controller each time.
      const renewed = (o?: KubeObject) => Date.parse((o && typed(LEASES, o).spec?.renewTime) ?? '');
      const gap = renewed(event.object) - renewed(event.prevObject);
      return event.type === 'ADDED' || !(gap <= this.gracePeriodMs) ? [event.object.metadata.name ?? ''] : [];
    }
    return [];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list('nodes')).items.map((n) => n.metadata.name ?? '');
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const found = await this.store.get('nodes', '', name).catch(ignoreNotFound);
    if (!found) {
      this.firstSeen.delete(name);
      return;
    }
    let node = typed('nodes', found);
    const lease = await this.store.get(LEASES, 'kube-node-lease', name).catch(() => undefined);
    if (this.graceFromFirstLook && !this.firstSeen.has(name)) this.firstSeen.set(name, this.now());
    const renewTime = (lease && typed(LEASES, lease).spec?.renewTime) ?? node.metadata.creationTimestamp;
    const renewed = Math.max(Date.parse(String(renewTime)), this.firstSeen.get(name) ?? 0);
    const age = this.now() - renewed;
    const has = (key: string) => (node.spec?.taints ?? []).some((t) => t.key === key);
    if (age > this.gracePeriodMs) {
      const tainted = has(UNREACHABLE) ? node : await this.setReachable(node, false);
      return this.evict(tainted, UNREACHABLE);
    }
    const renewBy: ReconcileResult = { requeueAfterMs: this.gracePeriodMs - age + 1 };
    if (has(UNREACHABLE)) {
      await this.setReachable(node, true);
      return renewBy;
    }
    // Reachable: the kubelet's own word on readiness decides the not-ready taints.
    const notReady = conditionOf(node.status?.conditions, 'Ready')?.status === 'False';
    if (notReady !== has(NOT_READY)) node = await this.setTaints(node, NOT_READY, notReady);
    if (!notReady) return renewBy;
    const evicted = await this.evict(node, NOT_READY);
    return { requeueAfterMs: Math.min(renewBy.requeueAfterMs!, evicted?.requeueAfterMs ?? Infinity) };
  }

  /** Adds or removes the NoSchedule and NoExecute taints of `key`. */
  private setTaints(node: Node, key: string, present: boolean): Promise<Node> {
    const now = nowTimestamp(new Date(this.now()));
    return guaranteedUpdate<Node>(this.store, 'nodes', '', node.metadata.name ?? '', (n) => ({
      ...n,
      spec: { ...n.spec, taints: withTaints(n.spec?.taints, key, present, now) },
    }));
  }

  /** Adds (unreachable) or removes (reachable) the taints, and sets the Ready condition. */
  private async setReachable(node: Node, reachable: boolean): Promise<Node> {
    const now = nowTimestamp(new Date(this.now()));
    const updated = await guaranteedUpdate<Node>(this.store, 'nodes', '', node.metadata.name ?? '', (n) => {
      const taints = withTaints(n.spec?.taints, UNREACHABLE, !reachable, now);
      const conditions = (n.status?.conditions ?? []).map((c) =>
        c.type !== 'Ready'
          ? c
          : reachable
            ? { ...c, status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastTransitionTime: now }
            : { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: now },
      );
      return { ...n, spec: { ...n.spec, taints }, status: { ...n.status, conditions } };
    });
    await this.events.record(
      node,
      'Normal',
      reachable ? 'NodeReady' : 'NodeNotReady',
      `Node ${node.metadata.name} status is now: ${reachable ? 'NodeReady' : 'NodeNotReady'}`,
    );
    return updated;
  }

  /** Evicts the pods whose toleration of the NoExecute taint has run out; comes back for the rest. */
  private async evict(node: Node, key: string): Promise<ReconcileResult | void> {
    const taint = node.spec?.taints?.find((t) => t.key === key && t.effect === 'NoExecute');
    const since = Date.parse(taint?.timeAdded ?? nowTimestamp(new Date(this.now())));
    const onNode = await this.store.list('pods', { fieldSelector: `spec.nodeName=${node.metadata.name}` });
    const pods = typedList('pods', onNode.items).filter((p) => !p.metadata.deletionTimestamp);
    const pods_ = findResource('', 'v1', 'pods')!;
    let next = Infinity;
    for (const pod of pods) {
      const matching = pod.spec.tolerations?.find((t) => (t.key === key || (!t.key && t.operator === 'Exists')) && (!t.effect || t.effect === 'NoExecute'));
      if (matching && (matching.tolerationSeconds === undefined || matching.tolerationSeconds === null)) continue; // tolerates forever
      const seconds = matching ? Number(matching.tolerationSeconds) : this.tolerationSeconds;
      const due = since + seconds * 1000;
      if (due > this.now()) {
        next = Math.min(next, due);
        continue;
      }
      await this.registry
        .delete(pods_, pod.metadata.namespace ?? '', pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid } })
        .catch(ignore(isNotFound, isConflict));
      await this.events.record(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`);
    }
    return { requeueAfterMs: Number.isFinite(next) ? Math.max(1, next - this.now()) : this.gracePeriodMs };
  }
}

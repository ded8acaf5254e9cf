/**
 * The provisioner: capacity follows the pods. Pods the scheduler marked Unschedulable are
 * bin-packed onto the cheapest offerings that take them (`shared/provisioner/plan.ts`), and
 * nodes are created for them through the CloudProvider, in batches (until no new pending pod has
 * come for a second, at most 10 s). Each launch is first written down as a
 * NodeClaim (an internal object: its node, offering, the pods it is for, when it was made), so
 * that a pod already waiting for a node on its way is not provisioned for twice, by this
 * instance or another (the AWS shape runs controllers in functions). A claim ends when its node
 * has registered and its pods are placed, or after `launchTimeoutMs` (the node is then deleted:
 * the pods will be planned again).
 *
 * Nodes it made and that have carried no pod for `consolidateAfterMs` are removed, once no pod
 * waits that the scheduler may yet bind to them: cordoned, deleted at the provider, and their
 * Node deleted. A node of its own whose pods would all fit on
 * the other nodes for as long is drained (no workload below its replicas) and removed too. Everything runs under one key, so one
 * reconcile sees the whole picture.
 */
import { randomBytes } from 'node:crypto';
import { conditionOf, isTerminal, typedList } from '../api/objects.js';
import { parseBytes, parseCpu } from '../api/quantity.js';
import type { CloudProvider } from '../cloud/types.js';
import { InsufficientCapacityError } from '../cloud/types.js';
import { ignoreNotFound } from '../errors.js';
import { consolidationCandidate, type NodeRoom, type PodLoad } from '../provisioner/consolidation.js';
import { type Offering, type PlacedPod, plan } from '../provisioner/plan.js';
import { compilePod, type PodInfo } from '../scheduler/compile.js';
import type { KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { ownerOf, removeNode, SafeEviction, updateNode } from './eviction.js';
import { awaitsScheduler } from './pod-view.js';
import { isActive } from './replicaset.js';
import type { Controller, ReconcileResult } from './types.js';

export const NODECLAIMS_RESOURCE = 'nodeclaims';
export const PROVISIONED_LABEL = 'skiff.dev/provisioned';
const EMPTY_SINCE = 'skiff.dev/empty-since';
const UNDERUSED_SINCE = 'skiff.dev/underused-since';
/** A node being drained to be removed: its pods fit elsewhere. */
const CONSOLIDATING = 'skiff.dev/consolidating';
const KEY = 'cluster';

export interface ProvisionerOptions {
  provider: CloudProvider;
  /** Dollars an hour per instance type (a type not listed costs its cpu in cores x 0.05). */
  prices?: Record<string, number>;
  /** How long a node it made may carry no pod before it is removed (default 30 s). */
  consolidateAfterMs?: number;
  /** How long a launched node has to register and take its pods (default 5 minutes). */
  launchTimeoutMs?: number;
  /** The most nodes it keeps, its own and in flight (default no limit). */
  maxNodes?: number;
  /** The most millicores of CPU its nodes have in all, its own and in flight (default no limit). */
  maxCpu?: number;
  /**
   * Pending pods are gathered into one launch, as Karpenter batches: it waits until no new one
   * has come for `batchIdleMs` (default 1 s), and never longer than `batchMaxMs` (default 10 s).
   */
  batchIdleMs?: number;
  batchMaxMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

interface NodeClaim extends KubeObject {
  spec: { instanceType: string; zone: string; pods: string[] };
  status: { createdAt: number };
}

type PodObject = ReturnType<typeof typedList<'pods'>>[number];
type NodeObject = ReturnType<typeof typedList<'nodes'>>[number];

const isUnschedulable = (p: PodObject) =>
  !p.spec.nodeName && !p.metadata.deletionTimestamp && conditionOf(p.status?.conditions, 'PodScheduled')?.reason === 'Unschedulable';

/** A node's allocatable room, for consolidation. */
function roomOf(n: NodeObject): NodeRoom {
  const a = n.status?.allocatable ?? {};
  return { name: n.metadata.name as string, cpu: parseCpu(String(a.cpu ?? '0')), memory: parseBytes(String(a.memory ?? '0')), pods: Number(a.pods ?? 110) };
}

/** The pods on nodes, by their requests, for consolidation. */
function loadsOf(pods: PodObject[]): PodLoad[] {
  return pods
    .filter((p) => p.spec.nodeName && !isTerminal(p))
    .map((p) => {
      const info = compilePod(p);
      return { node: p.spec.nodeName as string, cpu: info.cpu, memory: info.memory, owned: !!ownerOf(p) };
    });
}

export class ProvisionerController implements Controller {
  readonly name = 'provisioner';
  private readonly now: () => number;
  /** The pods that fit no offering at the last look (said again only when their number changes). */
  private unplaceable = new Set<string>();
  /** The batch being gathered: when each pending pod was first seen, and when the last new one came. */
  private firstSeen = new Map<string, number>();
  private lastNewAt = 0;

  private readonly eviction: SafeEviction;

  constructor(
    private readonly store: Store,
    private readonly options: ProvisionerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.eviction = new SafeEviction(store, (line) => options.log?.(`provisioner: ${line}`));
  }

  keysFor(event: ChangeEvent): string[] {
    return event.resource === 'pods' || event.resource === 'nodes' ? [KEY] : [];
  }

  async allKeys(): Promise<string[]> {
    return [KEY];
  }

  async reconcile(): Promise<ReconcileResult | void> {
    const [pods, nodes, claims] = await Promise.all([
      this.store.list('pods').then((l) => typedList('pods', l.items)),
      this.store.list('nodes').then((l) => typedList('nodes', l.items)),
      this.store.list(NODECLAIMS_RESOURCE).then((l) => l.items as NodeClaim[]),
    ]);
    const live = await this.settleClaims(claims, pods, nodes);
    const waits = [await this.provision(pods, nodes, live), await this.consolidate(pods, nodes, live), await this.consolidateUnderused(pods, nodes, live)];
    const next = Math.min(...waits.filter((w): w is number => w !== undefined));
    return Number.isFinite(next) ? { requeueAfterMs: Math.max(100, next) } : undefined;
  }

  /** Ends the claims that are done or out of time; returns the ones still waiting. */
  private async settleClaims(claims: NodeClaim[], pods: PodObject[], nodes: NodeObject[]): Promise<NodeClaim[]> {
    const registered = new Set(nodes.filter((n) => conditionOf(n.status?.conditions, 'Ready')?.status === 'True').map((n) => n.metadata.name));
    const waiting = new Set(pods.filter((p) => !p.spec.nodeName && !p.metadata.deletionTimestamp).map((p) => p.metadata.uid));
    const live: NodeClaim[] = [];
    for (const claim of claims) {
      const name = claim.metadata.name as string;
      const done = registered.has(name) && !claim.spec.pods.some((uid) => waiting.has(uid));
      const late = this.now() - claim.status.createdAt > (this.options.launchTimeoutMs ?? 300_000);
      if (!done && !late) {
        live.push(claim);
        continue;
      }
      if (late && !registered.has(name)) {
        this.options.log?.(`provisioner: node ${name} did not come up in time; removing it`);
        await this.options.provider.delete(name);
      }
      await this.store.delete(NODECLAIMS_RESOURCE, '', name).catch(ignoreNotFound);
    }
    return live;
  }

  /** Launches nodes for the pods nothing can take and nothing is on its way for. */
  private async provision(pods: PodObject[], nodes: NodeObject[], live: NodeClaim[]): Promise<number | undefined> {
    const claimed = new Set(live.flatMap((c) => c.spec.pods));
    const pending = pods.filter((p) => isUnschedulable(p) && !claimed.has(p.metadata.uid ?? ''));
    if (pending.length === 0) {
      this.unplaceable.clear();
      return live.length ? 1000 : undefined;
    }
    const wait = this.batchWait(pending.map((p) => p.metadata.uid ?? ''));
    if (wait > 0) return wait;
    const own = nodes.filter((n) => n.metadata.labels?.[PROVISIONED_LABEL] === 'true');
    const room = (this.options.maxNodes ?? Number.POSITIVE_INFINITY) - own.length - live.length;
    const offerings = await this.offerings();
    const cpuOf = (type: string) => offerings.find((o) => o.instanceType === type)?.cpu ?? 0;
    const cpuUsed =
      own.reduce((sum, n) => sum + parseCpu(String(n.status?.capacity?.cpu ?? '0')), 0) + live.reduce((sum, c) => sum + cpuOf(c.spec.instanceType), 0);
    const cpuRoom = (this.options.maxCpu ?? Number.POSITIVE_INFINITY) - cpuUsed;
    // The nodes on their way first: their room is filled before a new node is opened.
    const byUid = new Map(pods.map((p) => [p.metadata.uid, p]));
    const seeds = live.flatMap((c) => {
      const offering = offerings.find((o) => o.instanceType === c.spec.instanceType && o.zone === c.spec.zone);
      const mine = c.spec.pods.map((uid) => byUid.get(uid)).filter((p): p is PodObject => p !== undefined);
      return offering ? [{ name: c.metadata.name, offering, pods: mine.map(compilePod) }] : [];
    });
    const compiled = pending.map(compilePod);
    const { nodes: planned, unplaceable } = plan(compiled, offerings, {
      maxNodes: room,
      maxCpu: cpuRoom,
      seeds,
      placed: this.placedFor(compiled, pods, nodes),
    });
    if (unplaceable.length && unplaceable.length !== this.unplaceable.size)
      this.options.log?.(`provisioner: ${unplaceable.length} pods fit no offering (or the node or CPU limit is reached)`);
    this.unplaceable = new Set(unplaceable.map((p) => p.uid));
    await Promise.all(
      planned.map((n) => {
        const uids = n.pods.map((p) => p.uid);
        return n.name ? this.extendClaim(n.name, uids) : this.launch(n.offering, uids);
      }),
    );
    return 1000;
  }

  /** The pods on nodes, with their zones, when a pending pod spreads over zones (none asked otherwise). */
  private placedFor(pending: PodInfo[], pods: PodObject[], nodes: NodeObject[]): PlacedPod[] {
    if (!pending.some((p) => p.spread.some((c) => c.topologyKey === 'topology.kubernetes.io/zone'))) return [];
    const zoneOf = new Map(nodes.map((n) => [n.metadata.name, n.metadata.labels?.['topology.kubernetes.io/zone'] ?? '']));
    return pods
      .filter((p) => p.spec.nodeName && isActive(p))
      .map((p) => ({ labels: p.metadata.labels ?? {}, zone: zoneOf.get(p.spec.nodeName) ?? '' }))
      .filter((p) => p.zone);
  }

  /** How long to wait for more pending pods before launching (0: launch now). */
  private batchWait(uids: string[]): number {
    const now = this.now();
    const seen = new Map<string, number>();
    for (const uid of uids) {
      const at = this.firstSeen.get(uid);
      if (at === undefined) this.lastNewAt = now;
      seen.set(uid, at ?? now);
    }
    this.firstSeen = seen;
    const oldest = Math.min(...seen.values());
    const idle = (this.options.batchIdleMs ?? 1000) - (now - this.lastNewAt);
    const max = (this.options.batchMaxMs ?? 10_000) - (now - oldest);
    return Math.max(0, Math.min(idle, max));
  }

  /** A node on its way takes more of the pending pods. */
  private async extendClaim(name: string, pods: string[]): Promise<void> {
    await guaranteedUpdate<NodeClaim>(this.store, NODECLAIMS_RESOURCE, '', name, (c) =>
      pods.every((uid) => c.spec.pods.includes(uid)) ? undefined : { ...c, spec: { ...c.spec, pods: [...new Set([...c.spec.pods, ...pods])] } },
    ).catch(ignoreNotFound);
  }

  private async launch(offering: Offering, pods: string[]): Promise<void> {
    const name = `skiff-${offering.instanceType.replace(/[^a-z0-9]/g, '-')}-${randomBytes(3).toString('hex')}`;
    const claim = {
      apiVersion: 'skiff.dev/v1',
      kind: 'NodeClaim',
      metadata: { name },
      spec: { instanceType: offering.instanceType, zone: offering.zone, pods },
    };
    await this.store.create(NODECLAIMS_RESOURCE, { ...claim, status: { createdAt: this.now() } } as NodeClaim);
    try {
      await this.options.provider.create({ name, instanceType: offering.instanceType, zone: offering.zone, labels: { [PROVISIONED_LABEL]: 'true' } });
      this.options.log?.(`provisioner: launched ${name} (${offering.instanceType} in ${offering.zone}) for ${pods.length} pods`);
    } catch (err) {
      // Out of capacity there (the provider remembers): the pods are planned again elsewhere.
      await this.store.delete(NODECLAIMS_RESOURCE, '', name).catch(ignoreNotFound);
      if (!(err instanceof InsufficientCapacityError)) throw err;
      this.options.log?.(`provisioner: ${err.message}`);
    }
  }

  private async offerings(): Promise<Offering[]> {
    const types = await this.options.provider.instanceTypes();
    return types.flatMap((t) =>
      t.zones.map((zone) => ({
        instanceType: t.name,
        zone,
        cpu: t.cpu,
        memory: t.memory,
        pods: t.pods,
        pricePerHour: this.options.prices?.[t.name] ?? t.pricePerHour ?? (t.cpu / 1000) * 0.05,
        taints: t.taints,
      })),
    );
  }

  /** Removes its nodes that have carried no pod for the consolidation delay; returns when to look again. */
  private async consolidate(pods: PodObject[], nodes: NodeObject[], live: NodeClaim[]): Promise<number | undefined> {
    const delay = this.options.consolidateAfterMs ?? 30_000;
    const busy = new Set(pods.filter((p) => p.spec.nodeName && !isTerminal(p)).map((p) => p.spec.nodeName));
    const inFlight = new Set(live.map((c) => c.metadata.name));
    // A pod the scheduler is yet to bind may go to an empty node still (it has not got to it, on
    // a loaded control plane, as a node has just come up): no empty node is removed while one
    // waits, unless the last plan found it fits nowhere.
    const waiting = pods.some((p) => awaitsScheduler(p) && !isTerminal(p) && !this.unplaceable.has(p.metadata.uid ?? ''));
    let next: number | undefined;
    for (const node of nodes.filter((n) => n.metadata.labels?.[PROVISIONED_LABEL] === 'true')) {
      const name = node.metadata.name as string;
      const since = Number(node.metadata.annotations?.[EMPTY_SINCE] ?? Number.NaN);
      if (busy.has(name) || inFlight.has(name)) {
        if (!Number.isNaN(since)) await this.markEmpty(name, undefined);
        continue;
      }
      if (node.metadata.annotations?.[CONSOLIDATING]) {
        await this.remove(name, 'drained to consolidate');
      } else if (Number.isNaN(since)) {
        await this.markEmpty(name, this.now());
        next = Math.min(next ?? delay, delay);
      } else if (this.now() - since >= delay && !waiting) {
        await this.remove(name);
      } else next = Math.min(next ?? delay, Math.max(1000, delay - (this.now() - since)));
    }
    return next;
  }

  private markEmpty(name: string, since: number | undefined): Promise<void> {
    return this.annotate(name, EMPTY_SINCE, since === undefined ? undefined : String(since));
  }

  /** Sets (or, with undefined, removes) one annotation of a node. */
  private annotate(name: string, key: string, value: string | undefined, cordon = false): Promise<void> {
    return updateNode(this.store, name, { [key]: value }, cordon);
  }

  /**
   * Consolidates an under-used node of its own: one whose pods all fit on the other nodes
   * (`consolidation.ts`). Once that has held for the consolidation delay, with no pod pending and
   * no launch under way, the node is cordoned and drained (`eviction.ts`: no workload below its
   * replicas), and removed once empty. One node at a time. Returns when to look again.
   */
  private async consolidateUnderused(pods: PodObject[], nodes: NodeObject[], live: NodeClaim[]): Promise<number | undefined> {
    const draining = nodes.find((n) => n.metadata.annotations?.[CONSOLIDATING]);
    if (draining) {
      const replicaSets = typedList('replicasets.apps', (await this.store.list('replicasets.apps')).items);
      await this.eviction.evict(
        pods.filter((p) => p.spec.nodeName === draining.metadata.name),
        pods,
        replicaSets,
      );
      return 1000;
    }
    const delay = this.options.consolidateAfterMs ?? 30_000;
    const pending = pods.some((p) => !p.spec.nodeName && !p.metadata.deletionTimestamp);
    const usable = nodes.filter((n) => !n.spec?.unschedulable && conditionOf(n.status?.conditions, 'Ready')?.status === 'True');
    const own = usable.filter((n) => n.metadata.labels?.[PROVISIONED_LABEL] === 'true').map((n) => n.metadata.name as string);
    const candidate = pending || live.length ? undefined : consolidationCandidate(own, usable.map(roomOf), loadsOf(pods));
    for (const n of nodes)
      if (n.metadata.annotations?.[UNDERUSED_SINCE] && n.metadata.name !== candidate)
        await this.annotate(n.metadata.name as string, UNDERUSED_SINCE, undefined);
    if (!candidate) return undefined;
    const since = Number(nodes.find((n) => n.metadata.name === candidate)?.metadata.annotations?.[UNDERUSED_SINCE] ?? Number.NaN);
    if (Number.isNaN(since)) {
      await this.annotate(candidate, UNDERUSED_SINCE, String(this.now()));
      return delay;
    }
    if (this.now() - since < delay) return delay - (this.now() - since);
    this.options.log?.(`provisioner: node ${candidate} is under-used (its pods fit elsewhere); draining it`);
    await this.annotate(candidate, CONSOLIDATING, 'true', true);
    return 100;
  }

  /** Cordons the node, stops it at the provider, and deletes its Node. */
  private async remove(name: string, why = 'has been empty for the consolidation delay'): Promise<void> {
    this.options.log?.(`provisioner: node ${name} ${why}; removing it`);
    await updateNode(this.store, name, {}, true);
    await removeNode(this.store, this.options.provider, name);
  }
}

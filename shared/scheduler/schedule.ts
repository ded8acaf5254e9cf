/**
 * The scheduler: a pure function from (pending pods, nodes, pods already bound) to bindings
 * and, for each pod that fits nowhere, kube-scheduler's reasons. It places the whole batch,
 * accounting for the capacity each placement takes.
 *
 * Like kube-scheduler it stops looking once it has found enough feasible nodes
 * (percentageOfNodesToScore: 50% - nodes/125, at least 5% and 100 nodes), starting each pod
 * where the last one stopped; static filters are evaluated once per pod shape.
 */
import type { Node, Pod } from '../api/schemas/index.js';
import { HOSTNAME_LABEL, ZONE_LABEL, compileNode, compilePod, type NodeInfo, type PodInfo, type SpreadConstraint } from './compile.js';
import { fitShape, type ShapeFit } from './static-filters.js';

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface Binding {
  pod: PodRef;
  nodeName: string;
}

export interface Unschedulable {
  pod: PodRef;
  /** Reason -> how many nodes it ruled out. */
  reasons: Record<string, number>;
  /** kube-scheduler's wording: `0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {a: b}.` */
  message: string;
}

export interface ScheduleOptions {
  /** Percentage of nodes to find feasible before scoring (default: adaptive, as kube-scheduler). */
  percentageOfNodesToScore?: number;
  /** Where to start looking (rotates between calls as kube-scheduler does). */
  startIndex?: number;
}

export interface ScheduleInput {
  pendingPods: Pod[];
  nodes: Node[];
  /** Pods already on nodes. Ignored when `cache` is given: the cache knows them. */
  boundPods?: Pod[];
  /**
   * Node usage kept between calls by a caller that follows the bound pods (the embedded
   * scheduler, from the change feed): each call applies only what changed since the last.
   */
  cache?: SchedulingCache;
  options?: ScheduleOptions;
}

export interface ScheduleResult {
  bindings: Binding[];
  unschedulable: Unschedulable[];
  /** Pass as `startIndex` next time. */
  nextStartIndex: number;
}

const INSUFFICIENT_CPU = 'Insufficient cpu';
const INSUFFICIENT_MEMORY = 'Insufficient memory';
const TOO_MANY_PODS = 'Too many pods';
const PORTS = "node(s) didn't have free ports for the requested pod ports";
const SPREAD = "node(s) didn't match pod topology spread constraints";
const SPREAD_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)";

const WEIGHT = { resources: 1, balance: 1, spread: 2, static: 2 };

/** Counts of matching pods per topology domain, for one spread constraint. */
interface DomainCounts {
  constraint: SpreadConstraint;
  counts: Map<string, number>;
}

class ClusterState {
  readonly cpu: Float64Array;
  readonly memory: Float64Array;
  readonly pods: Int32Array;
  readonly ports = new Map<number, Set<string>>();
  /** Owner uid -> pods per node. */
  private readonly ownerNodes = new Map<string, Int32Array>();
  /** Owner uid -> pods per zone index. */
  private readonly ownerZones = new Map<string, Int32Array>();
  readonly zoneIndex: Int32Array;
  readonly zoneCount: number;
  /** Pod uid -> where it is counted, so a pod can be moved or taken off again. */
  private readonly placed = new Map<string, { pod: PodInfo; node: number }>();
  private readonly spreads = new Map<string, DomainCounts>();

  constructor(readonly nodes: NodeInfo[]) {
    this.cpu = new Float64Array(nodes.length);
    this.memory = new Float64Array(nodes.length);
    this.pods = new Int32Array(nodes.length);
    const zones = new Map<string, number>();
    this.zoneIndex = Int32Array.from(nodes, (n) => {
      const z = n.labels[ZONE_LABEL] ?? '';
      if (!zones.has(z)) zones.set(z, zones.size);
      return zones.get(z)!;
    });
    this.zoneCount = zones.size;
  }

  ownerOnNodes(owner: string): Int32Array {
    let a = this.ownerNodes.get(owner);
    if (!a) this.ownerNodes.set(owner, (a = new Int32Array(this.nodes.length)));
    return a;
  }

  ownerInZones(owner: string): Int32Array {
    let a = this.ownerZones.get(owner);
    if (!a) this.ownerZones.set(owner, (a = new Int32Array(this.zoneCount)));
    return a;
  }

  domainCounts(c: SpreadConstraint): DomainCounts {
    const key = JSON.stringify([c.topologyKey, c.selector]);
    let d = this.spreads.get(key);
    if (!d) {
      d = { constraint: c, counts: new Map() };
      for (const p of this.placed.values()) this.count(d, p.pod.labels, p.node, 1);
      this.spreads.set(key, d);
    }
    return d;
  }

  private count(d: DomainCounts, labels: Record<string, string>, node: number, by: 1 | -1): void {
    if (!Object.entries(d.constraint.selector).every(([k, v]) => labels[k] === v)) return;
    const domain = this.nodes[node].labels[d.constraint.topologyKey];
    if (domain !== undefined) d.counts.set(domain, (d.counts.get(domain) ?? 0) + by);
  }

  /** Counts the pod on `node` (moving it there if it was counted elsewhere). */
  place(pod: PodInfo, node: number): void {
    if (pod.uid) this.remove(pod.uid);
    this.add(pod, node, 1);
    if (pod.uid) this.placed.set(pod.uid, { pod, node });
  }

  /** Takes a pod's usage off its node; nothing when it was not counted. */
  remove(uid: string): void {
    const p = this.placed.get(uid);
    if (!p) return;
    this.placed.delete(uid);
    this.add(p.pod, p.node, -1);
  }

  /** Where the pod is counted, if it is. */
  nodeOf(uid: string): number | undefined {
    return this.placed.get(uid)?.node;
  }

  private add(pod: PodInfo, node: number, by: 1 | -1): void {
    this.cpu[node] += by * pod.cpu;
    this.memory[node] += by * pod.memory;
    this.pods[node] += by;
    if (pod.hostPorts.length) {
      let set = this.ports.get(node);
      if (!set) this.ports.set(node, (set = new Set()));
      for (const p of pod.hostPorts) by > 0 ? set.add(p) : set.delete(p);
    }
    if (pod.owner) {
      this.ownerOnNodes(pod.owner)[node] += by;
      this.ownerInZones(pod.owner)[this.zoneIndex[node]] += by;
    }
    for (const d of this.spreads.values()) this.count(d, pod.labels, node, by);
  }
}

/**
 * The bound pods and the node usage they add up to, kept between scheduler calls: the caller
 * reports each pod that lands on a node (`bound`) or leaves (`gone`), and each `schedule`
 * applies just those changes instead of recounting every pod. A changed node list (a node
 * added, removed or updated) recounts once.
 */
export class SchedulingCache {
  private readonly pods = new Map<string, Pod>();
  private readonly changed = new Map<string, Pod | null>();
  private nodes?: Node[];
  private compiled: NodeInfo[] = [];
  private state?: ClusterState;
  private byName = new Map<string, number>();

  get size(): number {
    return this.pods.size;
  }

  bound(uid: string, pod: Pod): void {
    this.pods.set(uid, pod);
    this.changed.set(uid, pod);
  }

  /** The pod left its node, or went away (also clears a placement a call made for it). */
  gone(uid: string): void {
    this.pods.delete(uid);
    this.changed.set(uid, null);
  }

  /** The state for these nodes, brought up to date. */
  stateFor(nodes: Node[]): { state: ClusterState; compiled: NodeInfo[] } {
    const same = this.nodes !== undefined && this.nodes.length === nodes.length && this.nodes.every((n, i) => n === nodes[i]);
    if (!same || !this.state) {
      this.nodes = nodes;
      this.compiled = nodes.map(compileNode);
      this.byName = new Map(this.compiled.map((n) => [n.name, n.index]));
      this.state = new ClusterState(this.compiled);
      for (const pod of this.pods.values()) this.placeOn(pod);
    } else {
      for (const [uid, pod] of this.changed) {
        if (pod) this.placeOn(pod);
        else this.state.remove(uid);
      }
    }
    this.changed.clear();
    return { state: this.state, compiled: this.compiled };
  }

  private placeOn(pod: Pod): void {
    const info = compilePod(pod);
    const node = info.nodeName !== undefined ? this.byName.get(info.nodeName) : undefined;
    if (node !== undefined) this.state!.place(info, node);
    else this.state!.remove(info.uid);
  }
}

function ref(pod: PodInfo): PodRef {
  return { namespace: pod.namespace, name: pod.name, uid: pod.uid };
}

/** A small, stable hash: equal names always tie-break the same way. */
function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The dynamic reason a statically feasible node cannot take the pod now, or undefined. */
function dynamicFailures(pod: PodInfo, node: number, state: ClusterState, spread: { d: DomainCounts; min: number }[]): string[] {
  const info = state.nodes[node];
  const out: string[] = [];
  if (state.pods[node] + 1 > info.pods) out.push(TOO_MANY_PODS);
  if (state.cpu[node] + pod.cpu > info.cpu) out.push(INSUFFICIENT_CPU);
  if (state.memory[node] + pod.memory > info.memory) out.push(INSUFFICIENT_MEMORY);
  if (pod.hostPorts.length) {
    const used = state.ports.get(node);
    if (used && pod.hostPorts.some((p) => used.has(p))) out.push(PORTS);
  }
  for (const { d, min } of spread) {
    const domain = info.labels[d.constraint.topologyKey];
    if (domain === undefined) out.push(SPREAD_LABEL);
    else if ((d.counts.get(domain) ?? 0) + 1 - min > d.constraint.maxSkew) out.push(SPREAD);
  }
  return out;
}

export function formatMessage(total: number, reasons: Record<string, number>): string {
  if (total === 0) return 'no nodes available to schedule pods';
  const parts = Object.entries(reasons)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([reason, count]) => `${count} ${reason}`);
  return `0/${total} nodes are available: ${parts.join(', ')}.`;
}

export function schedule(input: ScheduleInput): ScheduleResult {
  let nodes: NodeInfo[];
  let state: ClusterState;
  if (input.cache) {
    ({ state, compiled: nodes } = input.cache.stateFor(input.nodes));
  } else {
    nodes = input.nodes.map(compileNode);
    state = new ClusterState(nodes);
    const byName = new Map(nodes.map((n) => [n.name, n.index]));
    for (const pod of input.boundPods ?? []) {
      const info = compilePod(pod);
      const node = info.nodeName !== undefined ? byName.get(info.nodeName) : undefined;
      if (node !== undefined) state.place(info, node);
    }
  }
  const n = nodes.length;
  const pct = input.options?.percentageOfNodesToScore ?? Math.max(5, 50 - n / 125);
  const toFind = n <= 100 ? n : Math.max(100, Math.floor((n * pct) / 100));
  const shapes = new Map<string, ShapeFit>();
  const nodeHash = Uint32Array.from(nodes, (node) => hash(node.name));
  const bindings: Binding[] = [];
  const unschedulable: Unschedulable[] = [];
  let start = (input.options?.startIndex ?? 0) % Math.max(1, n);

  for (const raw of input.pendingPods) {
    const pod = compilePod(raw);
    let fit = shapes.get(pod.shape);
    if (!fit) shapes.set(pod.shape, (fit = fitShape(pod, nodes)));
    const hard = pod.spread
      .filter((c) => c.whenUnsatisfiable === 'DoNotSchedule')
      .map((c) => {
        const d = state.domainCounts(c);
        // The smallest count among the domains of nodes the pod may go to.
        let min = Infinity;
        for (const i of fit!.feasible) {
          const domain = nodes[i].labels[c.topologyKey];
          if (domain !== undefined) min = Math.min(min, d.counts.get(domain) ?? 0);
        }
        return { d, min: Number.isFinite(min) ? min : 0 };
      });
    const soft = pod.spread.filter((c) => c.whenUnsatisfiable === 'ScheduleAnyway').map((c) => state.domainCounts(c));
    const ownerNodes = pod.owner ? state.ownerOnNodes(pod.owner) : undefined;
    const ownerZones = pod.owner ? state.ownerInZones(pod.owner) : undefined;
    let zoneMin = 0;
    let zoneMax = 0;
    if (ownerZones && state.zoneCount > 1) {
      zoneMin = Math.min(...ownerZones);
      zoneMax = Math.max(...ownerZones);
    }

    // Walk the statically feasible nodes from a rotating point until enough fit.
    const feasible = fit.feasible;
    const m = feasible.length;
    // First feasible node at or after `start` (binary search: the list is in node order).
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (feasible[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    const offset = lo;
    let best = -1;
    let bestScore = -Infinity;
    let found = 0;
    let visited = 0;
    const tie = hash(pod.name);
    for (; visited < m && found < toFind; visited++) {
      const i = feasible[(offset + visited) % m];
      const info = nodes[i];
      const cpuAfter = state.cpu[i] + pod.cpu;
      const memAfter = state.memory[i] + pod.memory;
      if (cpuAfter > info.cpu || memAfter > info.memory || state.pods[i] + 1 > info.pods) continue;
      if (pod.hostPorts.length && state.ports.get(i) && pod.hostPorts.some((p) => state.ports.get(i)!.has(p))) continue;
      if (hard.length && dynamicFailures(pod, i, state, hard).length) continue;
      found++;
      const cpuFrac = info.cpu > 0 ? cpuAfter / info.cpu : 1;
      const memFrac = info.memory > 0 ? memAfter / info.memory : 1;
      let score =
        WEIGHT.resources * (100 - ((cpuFrac + memFrac) / 2) * 100) + WEIGHT.balance * (100 - Math.abs(cpuFrac - memFrac) * 100) + WEIGHT.static * fit.score[i];
      if (ownerNodes) {
        let spread = 100 / (1 + ownerNodes[i]);
        if (ownerZones && state.zoneCount > 1) spread = (spread + 100 * (1 - (ownerZones[state.zoneIndex[i]] - zoneMin) / (zoneMax - zoneMin + 1))) / 2;
        score += WEIGHT.spread * spread;
      }
      for (const d of soft) {
        const domain = info.labels[d.constraint.topologyKey];
        score += (WEIGHT.spread * 100) / (1 + (domain === undefined ? 0 : (d.counts.get(domain) ?? 0)));
      }
      // Ties go to a node picked by the pod's name, so equal pods do not pile onto one node.
      score += ((nodeHash[i] ^ tie) % 1000) * 1e-9;
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    start = m > 0 ? (feasible[(offset + visited) % m] ?? 0) : start;

    if (best >= 0) {
      state.place(pod, best);
      bindings.push({ pod: ref(pod), nodeName: nodes[best].name });
      continue;
    }
    const reasons: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const failure = fit.failure[i];
      const list = failure ? [fit.reasons[failure - 1]] : dynamicFailures(pod, i, state, hard);
      for (const r of list) reasons[r] = (reasons[r] ?? 0) + 1;
    }
    unschedulable.push({ pod: ref(pod), reasons, message: formatMessage(n, reasons) });
  }
  return { bindings, unschedulable, nextStartIndex: start };
}

export { HOSTNAME_LABEL, ZONE_LABEL };

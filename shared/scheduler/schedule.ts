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
import { ClusterState, type DomainCounts, SchedulingCache } from './cluster-state.js';
import { HOSTNAME_LABEL, ZONE_LABEL, compileNode, compilePod, type NodeInfo, type PodInfo } from './compile.js';
import { fitShape, type ShapeFit } from './static-filters.js';

export { SchedulingCache };

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

/** A hard spread constraint's counts, and the smallest count among the domains the pod may go to. */
interface HardSpread {
  d: DomainCounts;
  min: number;
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

/** The dynamic reasons a statically feasible node cannot take the pod now (none: it can). */
function dynamicFailures(pod: PodInfo, node: number, state: ClusterState, spread: HardSpread[]): string[] {
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

/** One call's nodes and what they hold, and how many feasible nodes a pod's search stops at. */
interface Pass {
  nodes: NodeInfo[];
  state: ClusterState;
  nodeHash: Uint32Array;
  toFind: number;
}

/** What a pod's placement depends on besides the nodes, read once before its node walk. */
interface Candidate {
  pod: PodInfo;
  fit: ShapeFit;
  hard: HardSpread[];
  soft: DomainCounts[];
  ownerNodes?: Int32Array;
  ownerZones?: Int32Array;
  zoneMin: number;
  zoneMax: number;
  tie: number;
}

function startPass(input: ScheduleInput): Pass {
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
  return { nodes, state, nodeHash: Uint32Array.from(nodes, (node) => hash(node.name)), toFind };
}

function candidate(pod: PodInfo, fit: ShapeFit, { nodes, state }: Pass): Candidate {
  const hard = pod.spread
    .filter((c) => c.whenUnsatisfiable === 'DoNotSchedule')
    .map((c) => {
      const d = state.domainCounts(c);
      // The smallest count among the domains of nodes the pod may go to.
      let min = Infinity;
      for (const i of fit.feasible) {
        const domain = nodes[i].labels[c.topologyKey];
        if (domain !== undefined) min = Math.min(min, d.counts.get(domain) ?? 0);
      }
      return { d, min: Number.isFinite(min) ? min : 0 };
    });
  const soft = pod.spread.filter((c) => c.whenUnsatisfiable === 'ScheduleAnyway').map((c) => state.domainCounts(c));
  const ownerNodes = pod.owner ? state.ownerOnNodes(pod.owner) : undefined;
  const ownerZones = pod.owner ? state.ownerInZones(pod.owner) : undefined;
  const zoned = ownerZones && state.zoneCount > 1;
  return {
    pod,
    fit,
    hard,
    soft,
    ownerNodes,
    ownerZones: zoned ? ownerZones : undefined,
    zoneMin: zoned ? Math.min(...ownerZones) : 0,
    zoneMax: zoned ? Math.max(...ownerZones) : 0,
    tie: hash(pod.name),
  };
}

/** The node's score for the pod, or -Infinity when the pod does not fit there now. */
function score(c: Candidate, i: number, { nodes, state, nodeHash }: Pass): number {
  const { pod } = c;
  const info = nodes[i];
  const cpuAfter = state.cpu[i] + pod.cpu;
  const memAfter = state.memory[i] + pod.memory;
  if (cpuAfter > info.cpu || memAfter > info.memory || state.pods[i] + 1 > info.pods) return -Infinity;
  if (pod.hostPorts.length && state.ports.get(i) && pod.hostPorts.some((p) => state.ports.get(i)!.has(p))) return -Infinity;
  if (c.hard.length && dynamicFailures(pod, i, state, c.hard).length) return -Infinity;
  const cpuFrac = info.cpu > 0 ? cpuAfter / info.cpu : 1;
  const memFrac = info.memory > 0 ? memAfter / info.memory : 1;
  let total =
    WEIGHT.resources * (100 - ((cpuFrac + memFrac) / 2) * 100) + WEIGHT.balance * (100 - Math.abs(cpuFrac - memFrac) * 100) + WEIGHT.static * c.fit.score[i];
  if (c.ownerNodes) {
    let spread = 100 / (1 + c.ownerNodes[i]);
    if (c.ownerZones) spread = (spread + 100 * (1 - (c.ownerZones[state.zoneIndex[i]] - c.zoneMin) / (c.zoneMax - c.zoneMin + 1))) / 2;
    total += WEIGHT.spread * spread;
  }
  for (const d of c.soft) {
    const domain = info.labels[d.constraint.topologyKey];
    total += (WEIGHT.spread * 100) / (1 + (domain === undefined ? 0 : (d.counts.get(domain) ?? 0)));
  }
  // Ties go to a node picked by the pod's name, so equal pods do not pile onto one node.
  return total + ((nodeHash[i] ^ c.tie) % 1000) * 1e-9;
}

/**
 * Walks the statically feasible nodes from a rotating point until enough fit, and returns the
 * best (-1: none) and where the next pod's walk starts.
 */
function pick(c: Candidate, pass: Pass, start: number): { best: number; next: number } {
  const feasible = c.fit.feasible;
  const m = feasible.length;
  // First feasible node at or after `start` (binary search: the list is in node order).
  let lo = 0;
  let hi = m;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (feasible[mid] < start) lo = mid + 1;
    else hi = mid;
  }
  let best = -1;
  let bestScore = -Infinity;
  let found = 0;
  let visited = 0;
  for (; visited < m && found < pass.toFind; visited++) {
    const i = feasible[(lo + visited) % m];
    const s = score(c, i, pass);
    if (s === -Infinity) continue;
    found++;
    if (s > bestScore) {
      bestScore = s;
      best = i;
    }
  }
  return { best, next: m > 0 ? (feasible[(lo + visited) % m] ?? 0) : start };
}

/** Why the pod fits no node: reason -> how many nodes it ruled out. */
function reasonsFor(c: Candidate, { nodes, state }: Pass): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (let i = 0; i < nodes.length; i++) {
    const failure = c.fit.failure[i];
    const list = failure ? [c.fit.reasons[failure - 1]] : dynamicFailures(c.pod, i, state, c.hard);
    for (const r of list) reasons[r] = (reasons[r] ?? 0) + 1;
  }
  return reasons;
}

export function schedule(input: ScheduleInput): ScheduleResult {
  const pass = startPass(input);
  const n = pass.nodes.length;
  const shapes = new Map<string, ShapeFit>();
  const bindings: Binding[] = [];
  const unschedulable: Unschedulable[] = [];
  let start = (input.options?.startIndex ?? 0) % Math.max(1, n);
  for (const raw of input.pendingPods) {
    const pod = compilePod(raw);
    let fit = shapes.get(pod.shape);
    if (!fit) shapes.set(pod.shape, (fit = fitShape(pod, pass.nodes)));
    const c = candidate(pod, fit, pass);
    const { best, next } = pick(c, pass, start);
    start = next;
    if (best >= 0) {
      pass.state.place(pod, best);
      bindings.push({ pod: ref(pod), nodeName: pass.nodes[best].name });
    } else {
      const reasons = reasonsFor(c, pass);
      unschedulable.push({ pod: ref(pod), reasons, message: formatMessage(n, reasons) });
    }
  }
  return { bindings, unschedulable, nextStartIndex: start };
}

export { HOSTNAME_LABEL, ZONE_LABEL };

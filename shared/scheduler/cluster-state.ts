/**
 * What the scheduler counts while it places: usage per node (cpu, memory, pods, host ports),
 * each owner's pods per node and zone, and spread constraints' counts per domain; and the cache
 * that keeps that state between calls for a caller that follows bound pods.
 */
import type { Node, Pod } from '../api/schemas/index.js';
import { ZONE_LABEL, compileNode, compilePod, type NodeInfo, type PodInfo, type SpreadConstraint } from './compile.js';

/** Counts of matching pods per topology domain, for one spread constraint. */
export interface DomainCounts {
  constraint: SpreadConstraint;
  counts: Map<string, number>;
}

export class ClusterState {
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

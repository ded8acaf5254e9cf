/**
 * Bin-packing pending pods onto new nodes, pure: which offerings (instance type x zone) to
 * launch, and which pods each is for. Pods go biggest first into the nodes already planned that
 * can take them (first fit); a pod that fits none opens the offering that costs least per pod it
 * would hold (filled, as far as it goes, with the pods still waiting that it can take). An
 * offering can take a pod when the pod's nodeSelector and required node affinity accept the
 * labels a node of it would have, and its allocatable cpu, memory and pods hold it.
 *
 * Zone topology spread (`topologySpreadConstraints` on `topology.kubernetes.io/zone` with
 * DoNotSchedule) is kept as the scheduler will judge it: a pod goes only to a zone where the
 * matching pods, those already placed and those planned, would exceed the least-filled of the
 * zones open to it by no more than `maxSkew`; so replicas get nodes in several zones.
 */
import type { PodInfo, SpreadConstraint } from '../scheduler/compile.js';
import { matchTerm, tolerates } from '../scheduler/static-filters.js';
import type { Taint } from '../cloud/types.js';

export interface Offering {
  instanceType: string;
  zone: string;
  /** Millicores, bytes and pods a node of it can give pods. */
  cpu: number;
  memory: number;
  pods: number;
  pricePerHour: number;
  /** What its nodes are tainted with. */
  taints?: Taint[];
}

export interface PlannedNode {
  offering: Offering;
  pods: PodInfo[];
  /** For a node already on its way (a seed): its name. */
  name?: string;
}

export interface Plan {
  nodes: PlannedNode[];
  /** Pods no offering can take alone. */
  unplaceable: PodInfo[];
}

/** The labels a node of this offering registers with, for selectors and affinity. */
export function offeringLabels(o: Offering): Record<string, string> {
  return {
    'node.kubernetes.io/instance-type': o.instanceType,
    'topology.kubernetes.io/zone': o.zone,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
  };
}

export function accepts(o: Offering, pod: PodInfo): boolean {
  // A taint the pod does not tolerate keeps it off, as on a registered node (PreferNoSchedule only weighs).
  if ((o.taints ?? []).some((t) => t.effect !== 'PreferNoSchedule' && !tolerates(pod.tolerations, t))) return false;
  const labels = offeringLabels(o);
  const node = { index: 0, name: '', labels, taints: [], unschedulable: false, ready: true, cpu: o.cpu, memory: o.memory, pods: o.pods };
  if (!Object.entries(pod.nodeSelector).every(([k, v]) => labels[k] === v)) return false;
  if (pod.required.length > 0 && !pod.required.some((t) => matchTerm(t, node))) return false;
  return pod.cpu <= o.cpu && pod.memory <= o.memory && o.pods >= 1;
}

const room = (n: PlannedNode, pod: PodInfo) => {
  const cpu = n.pods.reduce((a, p) => a + p.cpu, 0);
  const memory = n.pods.reduce((a, p) => a + p.memory, 0);
  return cpu + pod.cpu <= n.offering.cpu && memory + pod.memory <= n.offering.memory && n.pods.length < n.offering.pods;
};

/** How many of `waiting` (in order) a new node of `o` would hold. */
function fill(o: Offering, waiting: PodInfo[]): number {
  const node: PlannedNode = { offering: o, pods: [] };
  for (const p of waiting) if (accepts(o, p) && room(node, p)) node.pods.push(p);
  return node.pods.length;
}

const ZONE = 'topology.kubernetes.io/zone';

/** A pod already on a node, as zone spread counts it. */
export interface PlacedPod {
  labels: Record<string, string>;
  zone: string;
}

const matches = (c: SpreadConstraint, labels: Record<string, string>) => Object.entries(c.selector).every(([k, v]) => labels[k] === v);
const zoneRules = (pod: PodInfo) => (pod.spread ?? []).filter((c) => c.topologyKey === ZONE && c.whenUnsatisfiable === 'DoNotSchedule');

/**
 * Pods per zone matching each constraint's selector, from those placed and those planned; a
 * selector's counts are made the first time it is asked for, then kept up to date.
 */
class ZoneCounts {
  private readonly pods: PlacedPod[];
  private readonly bySelector = new Map<string, { selector: Record<string, string>; zones: Map<string, number> }>();

  constructor(placed: PlacedPod[]) {
    this.pods = [...placed];
  }

  add(pod: PodInfo, zone: string): void {
    this.pods.push({ labels: pod.labels, zone });
    for (const { selector, zones } of this.bySelector.values())
      if (Object.entries(selector).every(([k, v]) => pod.labels[k] === v)) zones.set(zone, (zones.get(zone) ?? 0) + 1);
  }

  private zonesOf(c: SpreadConstraint): Map<string, number> {
    const key = JSON.stringify(Object.entries(c.selector).sort());
    let entry = this.bySelector.get(key);
    if (!entry) {
      const zones = new Map<string, number>();
      for (const p of this.pods) if (matches(c, p.labels)) zones.set(p.zone, (zones.get(p.zone) ?? 0) + 1);
      entry = { selector: c.selector, zones };
      this.bySelector.set(key, entry);
    }
    return entry.zones;
  }

  /** Whether `zone` keeps each of the pod's zone constraints within its skew, among `zones` (those open to it). */
  allows(pod: PodInfo, zone: string, zones: string[]): boolean {
    return zoneRules(pod).every((c) => {
      const counted = this.zonesOf(c);
      const least = Math.min(...zones.map((z) => counted.get(z) ?? 0));
      return (counted.get(zone) ?? 0) + 1 - least <= c.maxSkew;
    });
  }
}

export interface PlanOptions {
  /** How many new nodes, and how many millicores of them, may be opened at most. */
  maxNodes?: number;
  maxCpu?: number;
  /** Nodes already on their way, with the pods they are for: pending pods fill their room before any new node is opened. */
  seeds?: PlannedNode[];
  /** Pods already on nodes, for zone spread. */
  placed?: PlacedPod[];
}

export function plan(pending: PodInfo[], offerings: Offering[], options: PlanOptions = {}): Plan {
  const { maxNodes = Number.POSITIVE_INFINITY, maxCpu = Number.POSITIVE_INFINITY, seeds = [], placed = [] } = options;
  let cpuLeft = maxCpu;
  const waiting = [...pending].sort((a, b) => b.cpu - a.cpu || b.memory - a.memory);
  const nodes: PlannedNode[] = seeds.map((s) => ({ ...s, pods: [...s.pods] }));
  const unplaceable: PodInfo[] = [];
  const counts = new ZoneCounts([...placed, ...nodes.flatMap((n) => n.pods.map((p) => ({ labels: p.labels, zone: n.offering.zone })))]);
  for (let i = 0; i < waiting.length; i++) {
    const pod = waiting[i];
    const zones = [...new Set(offerings.filter((o) => accepts(o, pod)).map((o) => o.zone))];
    const open = nodes.find((n) => accepts(n.offering, pod) && room(n, pod) && counts.allows(pod, n.offering.zone, zones));
    if (open) {
      open.pods.push(pod);
      counts.add(pod, open.offering.zone);
      continue;
    }
    const rest = waiting.slice(i);
    const candidates = offerings
      .filter((o) => accepts(o, pod) && counts.allows(pod, o.zone, zones) && o.cpu <= cpuLeft)
      .map((o) => ({ o, perPod: o.pricePerHour / Math.max(1, fill(o, rest)) }));
    if (candidates.length === 0 || nodes.length - seeds.length >= maxNodes) {
      unplaceable.push(pod);
      continue;
    }
    candidates.sort((a, b) => a.perPod - b.perPod || a.o.pricePerHour - b.o.pricePerHour);
    nodes.push({ offering: candidates[0].o, pods: [pod] });
    counts.add(pod, candidates[0].o.zone);
    cpuLeft -= candidates[0].o.cpu;
  }
  return { nodes, unplaceable };
}

/**
 * Bin-packing pending pods onto new nodes, pure: which offerings (instance type x zone) to
 * launch, and which pods each is for. Pods go biggest first into the nodes already planned that
 * can take them (first fit); a pod that fits none opens the offering that costs least per pod it
 * would hold (filled, as far as it goes, with the pods still waiting that it can take). An
 * offering can take a pod when the pod's nodeSelector and required node affinity accept the
 * labels a node of it would have, and its allocatable cpu, memory and pods hold it.
 */
import type { PodInfo } from '../scheduler/compile.js';
import { matchTerm } from '../scheduler/static-filters.js';

export interface Offering {
  instanceType: string;
  zone: string;
  /** Millicores, bytes and pods a node of it can give pods. */
  cpu: number;
  memory: number;
  pods: number;
  pricePerHour: number;
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

/**
 * `seeds`: nodes already on their way, with the pods they are for; pending pods fill their room
 * before any new node is opened (and `maxNodes` counts only new ones).
 */
export function plan(pending: PodInfo[], offerings: Offering[], maxNodes = Number.POSITIVE_INFINITY, seeds: PlannedNode[] = []): Plan {
  const waiting = [...pending].sort((a, b) => b.cpu - a.cpu || b.memory - a.memory);
  const nodes: PlannedNode[] = seeds.map((s) => ({ ...s, pods: [...s.pods] }));
  const unplaceable: PodInfo[] = [];
  for (let i = 0; i < waiting.length; i++) {
    const pod = waiting[i];
    const open = nodes.find((n) => accepts(n.offering, pod) && room(n, pod));
    if (open) {
      open.pods.push(pod);
      continue;
    }
    const rest = waiting.slice(i);
    const candidates = offerings.filter((o) => accepts(o, pod)).map((o) => ({ o, perPod: o.pricePerHour / Math.max(1, fill(o, rest)) }));
    if (candidates.length === 0 || nodes.length - seeds.length >= maxNodes) {
      unplaceable.push(pod);
      continue;
    }
    candidates.sort((a, b) => a.perPod - b.perPod || a.o.pricePerHour - b.o.pricePerHour);
    nodes.push({ offering: candidates[0].o, pods: [pod] });
  }
  return { nodes, unplaceable };
}

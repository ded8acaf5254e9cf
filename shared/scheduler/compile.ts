/**
 * Pods and nodes compiled once into the flat shapes the scheduler's hot loop reads: resource
 * requests in millicores and bytes, label maps, taints, and a "shape" key that groups pods
 * whose static placement rules (selector, affinity, tolerations) are the same.
 */
import { parseBytes, parseCpu } from '../api/quantity.js';
import { conditionOf } from '../api/objects.js';
import type { Container, Node, NodeSelectorTerm, Pod, Taint, Toleration } from '../api/schemas/index.js';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export type { NodeSelectorTerm } from '../api/schemas/index.js';

export interface SpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  selector: Record<string, string>;
}

export interface NodeInfo {
  index: number;
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  unschedulable: boolean;
  ready: boolean;
  cpu: number;
  memory: number;
  pods: number;
}

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  cpu: number;
  memory: number;
  nodeSelector: Record<string, string>;
  required: NodeSelectorTerm[];
  preferred: { weight: number; term: NodeSelectorTerm }[];
  tolerations: Toleration[];
  hostPorts: string[];
  /** The controlling owner's uid: replicas of one workload are spread apart. */
  owner?: string;
  spread: SpreadConstraint[];
  /** Pods with equal shapes have equal static feasibility on every node. */
  shape: string;
  /** Already bound (for accounting) to this node. */
  nodeName?: string;
}

function quantityOr(value: unknown, parse: (q: string | number) => number, fallback: number): number {
  if (typeof value !== 'string' && typeof value !== 'number') return fallback;
  try {
    return parse(value);
  } catch {
    return fallback;
  }
}

/**
 * Compiled views of stored objects, by identity: stored objects are frozen, so a pod or node
 * that has not changed is compiled once, not on every scheduling pass.
 */
const compiledPods = new WeakMap<object, PodInfo>();
const compiledNodes = new WeakMap<object, Omit<NodeInfo, 'index'>>();

export function compileNode(node: Node, index: number): NodeInfo {
  const cached = compiledNodes.get(node);
  if (cached) return { ...cached, index };
  const info = compileNodeUncached(node, index);
  if (Object.isFrozen(node)) compiledNodes.set(node, info);
  return info;
}

function compileNodeUncached(node: Node, index: number): NodeInfo {
  const alloc = node.status?.allocatable ?? node.status?.capacity ?? {};
  const ready = conditionOf(node.status?.conditions, 'Ready')?.status === 'True';
  return {
    index,
    name: node.metadata.name ?? '',
    labels: node.metadata.labels ?? {},
    taints: node.spec?.taints ?? [],
    unschedulable: Boolean(node.spec?.unschedulable),
    ready,
    cpu: quantityOr(alloc.cpu, parseCpu, 0),
    memory: quantityOr(alloc.memory, parseBytes, 0),
    pods: quantityOr(alloc.pods, parseBytes, 110),
  };
}

/** What a container asks for: its requests, or its limits where it names no request (Kubernetes' defaulting). */
function containerRequest(c: Container, resource: 'cpu' | 'memory'): number {
  const value = c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource];
  return quantityOr(value, resource === 'cpu' ? parseCpu : parseBytes, 0);
}

export function compilePod(pod: Pod): PodInfo {
  const cached = compiledPods.get(pod);
  if (cached) return cached;
  const info = compilePodUncached(pod);
  if (Object.isFrozen(pod)) compiledPods.set(pod, info);
  return info;
}

function compilePodUncached(pod: Pod): PodInfo {
  const spec = pod.spec;
  const containers = spec.containers ?? [];
  const inits = spec.initContainers ?? [];
  const sum = (r: 'cpu' | 'memory') => containers.reduce((acc, c) => acc + containerRequest(c, r), 0);
  const maxInit = (r: 'cpu' | 'memory') => inits.reduce((acc, c) => Math.max(acc, containerRequest(c, r)), 0);
  const cpu = Math.max(sum('cpu'), maxInit('cpu')) + quantityOr(spec.overhead?.cpu, parseCpu, 0);
  const memory = Math.max(sum('memory'), maxInit('memory')) + quantityOr(spec.overhead?.memory, parseBytes, 0);
  const nodeAffinity = spec.affinity?.nodeAffinity;
  const required = nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const preferred = (nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => ({ weight: p.weight, term: p.preference }));
  const hostPorts: string[] = [];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      if (typeof p.hostPort === 'number' && p.hostPort > 0) hostPorts.push(`${p.protocol ?? 'TCP'}/${p.hostIP ?? '0.0.0.0'}/${p.hostPort}`);
    }
  }
  const owner = (pod.metadata.ownerReferences ?? []).find((o) => o.controller)?.uid;
  const spread = (spec.topologySpreadConstraints ?? []).map((t) => ({
    maxSkew: t.maxSkew,
    topologyKey: t.topologyKey,
    whenUnsatisfiable: t.whenUnsatisfiable,
    selector: t.labelSelector?.matchLabels ?? {},
  }));
  const nodeSelector = spec.nodeSelector ?? {};
  const tolerations = spec.tolerations ?? [];
  return {
    namespace: pod.metadata.namespace ?? '',
    name: pod.metadata.name ?? '',
    uid: pod.metadata.uid ?? '',
    labels: pod.metadata.labels ?? {},
    cpu,
    memory,
    nodeSelector,
    required,
    preferred,
    tolerations,
    hostPorts,
    owner,
    spread,
    shape: JSON.stringify([nodeSelector, required, preferred, tolerations]),
    nodeName: spec.nodeName,
  };
}

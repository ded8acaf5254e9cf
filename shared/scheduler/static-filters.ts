/**
 * The filters whose answer depends only on the pod's shape and the node, not on what else is
 * placed: cordon, readiness, node selector and required affinity, taints. Computed once per
 * shape for all nodes, with kube-scheduler's reason for each node that does not fit; plus the
 * static scores (preferred affinity, PreferNoSchedule taints).
 */
import type { NodeSelectorRequirement, NodeSelectorTerm, Toleration } from '../api/schemas/index.js';
import type { NodeInfo, PodInfo } from './compile.js';

/** Reasons, worded as kube-scheduler words them. */
export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const REASON_NOT_READY = 'node(s) were not ready';
export const REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector";

function matchRequirement(req: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
      return value !== undefined && Number(value) > Number(values[0]);
    case 'Lt':
      return value !== undefined && Number(value) < Number(values[0]);
    default:
      return false;
  }
}

/** A term holds when all its expressions and fields hold (an empty term matches nothing). */
export function matchTerm(term: NodeSelectorTerm, node: NodeInfo): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  return (
    exprs.every((r) => matchRequirement(r, node.labels[r.key])) && fields.every((r) => matchRequirement(r, r.key === 'metadata.name' ? node.name : undefined))
  );
}

/** Required node affinity (or a volume's): no terms, or one that `node` meets. */
export function allowedOn(terms: NodeSelectorTerm[] | undefined, node: { metadata: { name?: string; labels?: Record<string, string> } }): boolean {
  if (!terms?.length) return true;
  const info = { name: node.metadata.name ?? '', labels: node.metadata.labels ?? {} } as NodeInfo;
  return terms.some((t) => matchTerm(t, info));
}

export function tolerates(tolerations: Toleration[], taint: { key: string; value?: string; effect: string }): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

export interface ShapeFit {
  /** Per node: 0 when the node passes the static filters, else 1 + index into `reasons`. */
  failure: Uint16Array;
  reasons: string[];
  /** Per node: the static part of the score (preferred affinity, PreferNoSchedule), 0..100. */
  score: Float64Array;
  /** Nodes that pass, for sampling. */
  feasible: Int32Array;
}

/** Evaluates the static filters and scores of one pod shape against every node. */
export function fitShape(pod: PodInfo, nodes: NodeInfo[]): ShapeFit {
  const failure = new Uint16Array(nodes.length);
  const score = new Float64Array(nodes.length);
  const reasons: string[] = [];
  const reasonIndex = new Map<string, number>();
  const fail = (i: number, reason: string) => {
    let r = reasonIndex.get(reason);
    if (r === undefined) {
      r = reasons.push(reason);
      reasonIndex.set(reason, r);
    }
    failure[i] = r;
  };
  const selector = Object.entries(pod.nodeSelector);
  const totalWeight = pod.preferred.reduce((a, p) => a + p.weight, 0);
  const feasible: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    // A cordoned node takes only pods that tolerate it (a DaemonSet's), as NodeUnschedulable has it.
    if (node.unschedulable && !tolerates(pod.tolerations, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })) {
      fail(i, REASON_UNSCHEDULABLE);
      continue;
    }
    if (!node.ready) {
      fail(i, REASON_NOT_READY);
      continue;
    }
    if (!selector.every(([k, v]) => node.labels[k] === v) || (pod.required.length > 0 && !pod.required.some((t) => matchTerm(t, node)))) {
      fail(i, REASON_AFFINITY);
      continue;
    }
    const untolerated = node.taints.find((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(pod.tolerations, t));
    if (untolerated) {
      fail(i, `node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`);
      continue;
    }
    feasible.push(i);
    let s = 0;
    if (totalWeight > 0) {
      let w = 0;
      for (const p of pod.preferred) if (matchTerm(p.term, node)) w += p.weight;
      s += (w / totalWeight) * 100;
    }
    const soft = node.taints.filter((t) => t.effect === 'PreferNoSchedule' && !tolerates(pod.tolerations, t)).length;
    s += soft === 0 ? 100 : 100 / (1 + soft);
    score[i] = s;
  }
  return { failure, reasons, score, feasible: Int32Array.from(feasible) };
}

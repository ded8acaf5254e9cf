/**
 * Preemption, as kube-scheduler's DefaultPreemption plugin chooses it: for a pod that fits
 * nowhere, a node where it would fit once some pods of lower priority are gone. On each node
 * every lower-priority pod is taken off, then given back, highest priority first, while the pod
 * still fits (the reprieve), so the victims are the fewest and least important the node needs
 * to lose; in the reprieve, pods whose PodDisruptionBudget allows no disruption are given back
 * first. Of the nodes that work, the one whose victims break the fewest budgets wins, then the
 * one whose most important victim is least important, then the one with the fewest victims.
 * Pure: the controller deletes the victims.
 */
import { type Budget, covers } from '../api/disruption.js';
import type { Node, Pod } from '../api/schemas/index.js';
import { schedule } from './schedule.js';

export interface Preemption {
  nodeName: string;
  victims: Pod[];
}

const priorityOf = (p: Pod) => p.spec.priority ?? 0;

/** Whether the pod fits on the node beside these pods. */
function fits(pod: Pod, node: Node, bound: Pod[]): boolean {
  return schedule({ pendingPods: [pod], nodes: [node], boundPods: bound }).bindings.length === 1;
}

/** How many of the victims' deletions their budgets do not allow (each budget's allowance used up in turn). */
function violations(victims: Pod[], budgets: Budget[]): number {
  const left = new Map(budgets.map((b) => [b, b.status?.disruptionsAllowed ?? 0]));
  let broken = 0;
  for (const v of victims) {
    for (const b of budgets) {
      if (b.metadata.namespace !== v.metadata.namespace || !covers(b, v)) continue;
      const allowed = left.get(b)!;
      if (allowed <= 0) broken++;
      left.set(b, allowed - 1);
    }
  }
  return broken;
}

/** Where the pod fits once lower-priority pods go, and which; undefined when nowhere. */
export function findPreemption(pod: Pod, nodes: Node[], bound: Pod[], budgets: Budget[] = []): Preemption | undefined {
  const priority = priorityOf(pod);
  const guarded = (p: Pod) => budgets.some((b) => b.metadata.namespace === p.metadata.namespace && (b.status?.disruptionsAllowed ?? 0) <= 0 && covers(b, p));
  const byNode = new Map<string, Pod[]>();
  for (const p of bound) byNode.set(p.spec.nodeName ?? '', [...(byNode.get(p.spec.nodeName ?? '') ?? []), p]);
  let best: { nodeName: string; victims: Pod[]; top: number; broken: number } | undefined;
  for (const node of nodes) {
    const onNode = byNode.get(node.metadata.name ?? '') ?? [];
    const lower = onNode.filter((p) => priorityOf(p) < priority);
    if (lower.length === 0) continue;
    const kept = onNode.filter((p) => priorityOf(p) >= priority);
    if (!fits(pod, node, kept)) continue;
    const victims: Pod[] = [];
    // Given back first: pods a budget protects, then the more important.
    const order = [...lower].sort((a, b) => Number(guarded(b)) - Number(guarded(a)) || priorityOf(b) - priorityOf(a));
    for (const candidate of order) {
      if (fits(pod, node, [...kept, candidate])) kept.push(candidate);
      else victims.push(candidate);
    }
    if (victims.length === 0) continue;
    const top = Math.max(...victims.map(priorityOf));
    const broken = violations(victims, budgets);
    const better = !best || broken < best.broken || (broken === best.broken && (top < best.top || (top === best.top && victims.length < best.victims.length)));
    if (better) best = { nodeName: node.metadata.name ?? '', victims, top, broken };
  }
  return best && { nodeName: best.nodeName, victims: best.victims };
}

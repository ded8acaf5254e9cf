/**
 * Preemption, as kube-scheduler's DefaultPreemption plugin chooses it: for a pod that fits
 * nowhere, a node where it would fit once some pods of lower priority are gone. On each node
 * every lower-priority pod is taken off, then given back, highest priority first, while the pod
 * still fits (the reprieve), so the victims are the fewest and least important the node needs
 * to lose. Of the nodes that work, the one whose most important victim is least important
 * wins, then the one with the fewest victims. Pure: the controller deletes the victims.
 */
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

/** Where the pod fits once lower-priority pods go, and which; undefined when nowhere. */
export function findPreemption(pod: Pod, nodes: Node[], bound: Pod[]): Preemption | undefined {
  const priority = priorityOf(pod);
  const byNode = new Map<string, Pod[]>();
  for (const p of bound) byNode.set(p.spec.nodeName ?? '', [...(byNode.get(p.spec.nodeName ?? '') ?? []), p]);
  let best: { nodeName: string; victims: Pod[]; top: number } | undefined;
  for (const node of nodes) {
    const onNode = byNode.get(node.metadata.name ?? '') ?? [];
    const lower = onNode.filter((p) => priorityOf(p) < priority);
    if (lower.length === 0) continue;
    const kept = onNode.filter((p) => priorityOf(p) >= priority);
    if (!fits(pod, node, kept)) continue;
    const victims: Pod[] = [];
    for (const candidate of [...lower].sort((a, b) => priorityOf(b) - priorityOf(a))) {
      if (fits(pod, node, [...kept, candidate])) kept.push(candidate);
      else victims.push(candidate);
    }
    if (victims.length === 0) continue;
    const top = Math.max(...victims.map(priorityOf));
    if (!best || top < best.top || (top === best.top && victims.length < best.victims.length)) best = { nodeName: node.metadata.name ?? '', victims, top };
  }
  return best && { nodeName: best.nodeName, victims: best.victims };
}

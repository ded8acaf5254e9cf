/**
 * Stored objects as their kinds' types. What the store holds came in through the API, where it
 * passed its kind's schema, or was written by a controller from these same types; so code past
 * the API (controllers, scheduler, kubelet) reads it typed. The cast is made once, here, at the
 * boundary, instead of a guard at every field. Code that reads a client's raw input (admission,
 * patches) is different: it checks each value (`validation.ts`).
 */
import type { KubeObject } from '../store/object.js';
import type { Condition, CronJob, DaemonSet, Deployment, Event, Job, Lease, Node, Pod, ReplicaSet, StatefulSet } from './schemas/index.js';

/** The store key of each kind the control loops read, and its type. */
export interface StoredKinds {
  pods: Pod;
  nodes: Node;
  'deployments.apps': Deployment;
  'replicasets.apps': ReplicaSet;
  'jobs.batch': Job;
  'cronjobs.batch': CronJob;
  'daemonsets.apps': DaemonSet;
  'statefulsets.apps': StatefulSet;
  'leases.coordination.k8s.io': Lease;
  events: Event;
}

/** `object`, read from `resource`, as its kind's type. */
export function typed<R extends keyof StoredKinds>(_resource: R, object: KubeObject): StoredKinds[R] {
  return object as StoredKinds[R];
}

/** `objects`, read from `resource`, as their kind's type. */
export function typedList<R extends keyof StoredKinds>(_resource: R, objects: KubeObject[]): StoredKinds[R][] {
  return objects as StoredKinds[R][];
}

/** A pod that has run to its end and will not run again. */
export const isTerminal = (pod: Pod): boolean => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** The condition of `type`, if the list has one. */
export const conditionOf = (conditions: Condition[] | undefined, type: string): Condition | undefined => conditions?.find((c) => c.type === type);

/**
 * `conditions` with each of `updates` in place of the one of its type (the others kept), each
 * keeping its lastTransitionTime while its status holds, else stamped `now`.
 */
export function withConditions<C extends { type: string; status: string; lastTransitionTime?: string | null }>(
  conditions: readonly C[] | undefined,
  updates: C[],
  now: string,
): C[] {
  const kept = conditions ?? [];
  return [
    ...kept.filter((k) => !updates.some((u) => u.type === k.type)),
    ...updates.map((u) => {
      const old = kept.find((k) => k.type === u.type);
      return { ...u, lastTransitionTime: old?.status === u.status ? old.lastTransitionTime : now };
    }),
  ];
}

/**
 * A Deployment's status from its pods: the counts and the Available and Progressing conditions,
 * as the Deployment controller writes them after each rollout step. Pure, apart from the clock
 * it is given, so the rules can be read (and tested) apart from the writes.
 */
import type { Condition, Deployment, Pod, ReplicaSet } from '../api/schemas/index.js';
import { nowTimestamp } from '../store/object.js';
import { fromLabelSelector, matchLabels } from '../store/selectors.js';
import { availableInMs, controllerOf, isPodReady } from './replicaset.js';

/** An int-or-percent of `total` (maxSurge rounds up, maxUnavailable down). */
export function resolveIntOrPercent(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.endsWith('%')) {
    const v = (Number(value.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(v) : Math.floor(v);
  }
  return Number(value ?? 0);
}

/** maxSurge and maxUnavailable for `replicas` (Recreate: no surge, everything may go). */
export function rolloutBounds(d: Deployment, replicas: number): { maxSurge: number; maxUnavailable: number } {
  if (d.spec.strategy?.type === 'Recreate') return { maxSurge: 0, maxUnavailable: replicas };
  const rolling = d.spec.strategy?.rollingUpdate;
  const maxSurge = resolveIntOrPercent(rolling?.maxSurge ?? '25%', replicas, true);
  const maxUnavailable = resolveIntOrPercent(rolling?.maxUnavailable ?? '25%', replicas, false);
  return { maxSurge, maxUnavailable: maxSurge === 0 && maxUnavailable === 0 ? 1 : maxUnavailable };
}

/** What the pods of a Deployment's ReplicaSets say, counted once. */
export interface PodCounts {
  replicas: number;
  active: number;
  updated: number;
  ready: number;
  available: number;
  /** Every replica is of the new template and available. */
  complete: boolean;
  /** Ms until the next pod becomes available by minReadySeconds (Infinity: none waiting). */
  soonest: number;
}

export function countPods(d: Deployment, replicaSets: ReplicaSet[], newRS: ReplicaSet | undefined, pods: Pod[], replicas: number, nowMs: number): PodCounts {
  const selector = fromLabelSelector(d.spec.selector);
  const ownedUids = new Set(replicaSets.map((rs) => rs.metadata.uid));
  const active = pods.filter((p) => ownedUids.has(controllerOf(p)?.uid) && !p.metadata.deletionTimestamp && matchLabels(selector, p.metadata.labels));
  const updated = newRS ? active.filter((p) => controllerOf(p)?.uid === newRS.metadata.uid) : [];
  const minReadySeconds = d.spec.minReadySeconds ?? 0;
  const waits = active.map((p) => availableInMs(p, minReadySeconds, nowMs));
  const updatedAvailable = updated.filter((p) => availableInMs(p, minReadySeconds, nowMs) === 0).length;
  return {
    replicas,
    active: active.length,
    updated: updated.length,
    ready: active.filter(isPodReady).length,
    available: waits.filter((w) => w === 0).length,
    complete: updated.length === replicas && active.length === replicas && updatedAvailable === replicas,
    soonest: Math.min(...waits.filter((w) => w > 0 && w !== Infinity)),
  };
}

/** Sets a condition in `conditions` (in place): a transition only when its status changes. */
function setCondition(conditions: Condition[], now: string, type: string, status: string, reason: string, message: string): void {
  const existing = conditions.find((c) => c.type === type);
  if (existing && existing.status === status && existing.reason === reason) {
    existing.message = message;
    return;
  }
  const next = { type, status, reason, message, lastUpdateTime: now, lastTransitionTime: existing?.status === status ? existing.lastTransitionTime : now };
  if (existing) Object.assign(existing, next);
  else conditions.push(next);
}

/** Progressing, as kube-controller-manager reports it: paused, resumed, complete, timed out, or moving. */
function setProgressing(conditions: Condition[], current: Deployment, counts: PodCounts, rsName: string, now: Date): void {
  const stamp = nowTimestamp(now);
  const progressing = conditions.find((c) => c.type === 'Progressing');
  const deadlineMs = (current.spec.progressDeadlineSeconds ?? 600) * 1000;
  const set = (status: string, reason: string, message: string) => setCondition(conditions, stamp, 'Progressing', status, reason, message);
  if (current.spec.paused) set('Unknown', 'DeploymentPaused', 'Deployment is paused');
  else if (progressing?.reason === 'DeploymentPaused') set('Unknown', 'DeploymentResumed', 'Deployment is resumed');
  else if (counts.complete) set('True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`);
  else if (progressing && progressing.reason !== 'NewReplicaSetAvailable' && Date.parse(String(progressing.lastUpdateTime)) + deadlineMs < now.getTime())
    set('False', 'ProgressDeadlineExceeded', `ReplicaSet "${rsName}" has timed out progressing.`);
  else if (!progressing || ['NewReplicaSetAvailable', 'DeploymentResumed'].includes(String(progressing.reason)) || progressing.status === 'False')
    set('True', progressing ? 'ReplicaSetUpdated' : 'NewReplicaSetCreated', `ReplicaSet "${rsName}" is progressing.`);
}

/**
 * The status `current` should have for `counts`, and when to look again: a rollout that is not
 * complete is checked again by its progress deadline or when its next pod becomes available.
 */
export function deploymentStatus(
  current: Deployment,
  counts: PodCounts,
  newRS: ReplicaSet | undefined,
  now: Date,
): { status: NonNullable<Deployment['status']>; requeueAfterMs?: number } {
  const old = current.status ?? {};
  const conditions = (old.conditions ?? []).map((c) => ({ ...c }));
  const { maxUnavailable } = rolloutBounds(current, counts.replicas);
  const minimum = counts.available >= counts.replicas - maxUnavailable;
  setCondition(
    conditions,
    nowTimestamp(now),
    'Available',
    minimum ? 'True' : 'False',
    minimum ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
    minimum ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
  );
  setProgressing(conditions, current, counts, newRS?.metadata.name ?? '', now);
  const status = {
    ...old,
    observedGeneration: current.metadata.generation,
    replicas: counts.active,
    updatedReplicas: counts.updated,
    readyReplicas: counts.ready,
    availableReplicas: counts.available,
    unavailableReplicas: Math.max(0, counts.replicas - counts.available),
    conditions,
  };
  const deadlineMs = (current.spec.progressDeadlineSeconds ?? 600) * 1000;
  const waiting = !counts.complete && !current.spec.paused;
  return { status, requeueAfterMs: waiting ? Math.min(deadlineMs, 60_000, counts.soonest + 10) : undefined };
}

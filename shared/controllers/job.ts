/**
 * The Job controller, as kube-controller-manager's: runs pods from the template until
 * `completions` of them succeed (NonIndexed), or one per index 0..completions-1 (Indexed:
 * `JOB_COMPLETION_INDEX`, the index annotation and label, hostname `<job>-<index>`), at most
 * `parallelism` at a time.
 *
 * - Pods carry the `batch.kubernetes.io/job-tracking` finalizer. A finished pod is first
 *   recorded in `status.uncountedTerminatedPods`, then its finalizer removed, then it is moved
 *   into `succeeded` or `failed`: a controller that stops between two steps counts it once
 *   when it starts again, never twice, never not at all.
 * - A failed pod is replaced after a back-off that doubles with each failure (10 s, 20 s, ...,
 *   6 min at most), worked out from the failed pods themselves, so a restarted controller (or a
 *   function) needs no memory of its own. Past `backoffLimit` failures, or `activeDeadlineSeconds`
 *   after it started, the Job fails; `podFailurePolicy` rules can fail it at once (FailJob), or
 *   not count a failure (Ignore), by exit code or pod condition.
 * - Finishing is in two steps, as since Kubernetes 1.31: `FailureTarget` (or `SuccessCriteriaMet`)
 *   when decided, the remaining pods deleted, then `Failed` (or `Complete`, with completionTime)
 *   once none is left running.
 * - An Indexed Job with `backoffLimitPerIndex` counts failures per index (each pod carries its
 *   index's failure count so far, `batch.kubernetes.io/job-index-failure-count`), backs off per
 *   index, and gives up on an index past its limit or on a FailIndex rule (`failedIndexes`); it
 *   fails once more indexes failed than `maxFailedIndexes`, or, at the end, with any failed.
 * - An Indexed Job's `successPolicy` completes it as soon as a rule is met (succeeded indexes
 *   among a set, or a count of them), its remaining pods stopped.
 * - `suspend` deletes the running pods and holds; resuming starts the clock again.
 * - `ttlSecondsAfterFinished`: the Job (and, by garbage collection, its pods) is deleted that long
 *   after it finished.
 */
import { conditionOf, isTerminal, typed, typedList } from '../api/objects.js';
import { COMPLETION_INDEX } from '../api/kinds/job.js';
import { Registry } from '../api/registry.js';
import { findResource } from '../api/resources.js';
import type { Condition, Job, Pod } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isConflict, isNotFound } from '../errors.js';
import { nowTimestamp } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import { fromLabelSelector } from '../store/selectors.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import { controllerOf, controllerRef, createPodOf, deletePodOf, isPodReady, ownerKeys, slowStart } from './replicaset.js';
import type { Controller, ReconcileResult } from './types.js';

const JOBS = 'jobs.batch';
const JOB_INFO = findResource('batch', 'v1', 'jobs')!;
export const TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
/** On each pod of a Job with backoffLimitPerIndex: how often its index failed before it. */
export const INDEX_FAILURE_COUNT = 'batch.kubernetes.io/job-index-failure-count';
const BURST = 500;

export interface JobControllerOptions {
  /** The wait after a job's first failed pod, doubled for each one after (default 10 s). */
  backoffBaseMs?: number;
  /** The longest wait (default 6 min). */
  backoffMaxMs?: number;
  now?: () => number;
}

type Status = NonNullable<Job['status']>;
interface Finish {
  type: 'Complete' | 'Failed';
  reason: string;
  message: string;
}

const tracked = (p: Pod) => (p.metadata.finalizers ?? []).includes(TRACKING_FINALIZER);
const indexOf = (p: Pod) => Number(p.metadata.annotations?.[COMPLETION_INDEX] ?? Number.NaN);
/** How often the pod's index had failed when the pod failed, itself included. */
const indexFailures = (p: Pod) => Number(p.metadata.annotations?.[INDEX_FAILURE_COUNT] ?? 0) + 1;
const perIndex = (job: Job) => job.spec.completionMode === 'Indexed' && job.spec.backoffLimitPerIndex !== undefined;
const isRunning = (p: Pod) => !isTerminal(p) && !p.metadata.deletionTimestamp;
const hasCondition = (job: Job, type: string) => conditionOf(job.status?.conditions, type)?.status === 'True';

/** When a pod finished: its containers' last finish, else its last condition change, else now. */
function finishedAt(p: Pod, now: number): number {
  const times = (p.status?.containerStatuses ?? []).map((c) => Date.parse(String(c.state?.terminated?.finishedAt ?? ''))).filter((t) => !Number.isNaN(t));
  if (times.length) return Math.max(...times);
  const changed = (p.status?.conditions ?? []).map((c) => Date.parse(String(c.lastTransitionTime ?? ''))).filter((t) => !Number.isNaN(t));
  return changed.length ? Math.max(...changed) : now;
}

/** `0-2,5` for [0, 1, 2, 5]. */
export function formatIndexes(indexes: Iterable<number>): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j;
  }
  return parts.join(',');
}

export function parseIndexes(text: string | undefined): Set<number> {
  const out = new Set<number>();
  for (const part of (text ?? '').split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.add(i);
  }
  return out;
}

/** What a podFailurePolicy says of a failed pod: its rule's action and why, or undefined (count it). */
export function failurePolicyAction(job: Job, pod: Pod): { action: string; message: string } | undefined {
  const rules = job.spec.podFailurePolicy?.rules ?? [];
  for (const [i, rule] of rules.entries()) {
    if (rule.onExitCodes) {
      const { containerName, operator, values } = rule.onExitCodes;
      for (const c of pod.status?.containerStatuses ?? []) {
        if (containerName && c.name !== containerName) continue;
        const code = c.state?.terminated?.exitCode;
        if (code === undefined || code === 0) continue;
        if ((operator === 'In') === values.includes(code)) {
          const message = `Container ${c.name} for pod ${pod.metadata.namespace}/${pod.metadata.name} failed with exit code ${code} matching ${rule.action} rule at index ${i}`;
          return { action: rule.action, message };
        }
      }
    }
    for (const want of rule.onPodConditions ?? []) {
      if (conditionOf(pod.status?.conditions, want.type)?.status === (want.status ?? 'True')) {
        const message = `Pod ${pod.metadata.namespace}/${pod.metadata.name} has condition ${want.type} matching ${rule.action} rule at index ${i}`;
        return { action: rule.action, message };
      }
    }
  }
  return undefined;
}

export class JobController implements Controller {
  readonly name = 'job';
  /** Deadlines and TTLs pass with nothing written: the AWS shape's tick looks again. */
  readonly periodic = true;
  private readonly registry: Registry;
  private readonly events: EventRecorder;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly options: JobControllerOptions = {},
  ) {
    this.registry = new Registry(store);
    this.events = new EventRecorder(store, 'job-controller');
    this.now = options.now ?? Date.now;
  }

  keysFor(event: ChangeEvent): string[] {
    if (event.resource === JOBS) return [`${event.object.metadata.namespace}/${event.object.metadata.name}`];
    if (event.resource !== 'pods') return [];
    return [...ownerKeys(event, 'Job')];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list(JOBS)).items.map((j) => `${j.metadata.namespace}/${j.metadata.name}`);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/');
    const stored = await this.store.get(JOBS, namespace, name).catch(ignoreNotFound);
    if (!stored) return this.releaseOrphans(namespace, name);
    const job = typed(JOBS, stored);
    const pods = await this.podsOf(job);
    if (job.metadata.deletionTimestamp || hasCondition(job, 'Complete') || hasCondition(job, 'Failed')) {
      await this.release(pods.filter((p) => tracked(p) && (isTerminal(p) || p.metadata.deletionTimestamp || job.metadata.deletionTimestamp)));
      return job.metadata.deletionTimestamp ? undefined : this.expire(job);
    }
    const status = await this.account(job, pods);
    if (!status) return; // the Job changed or went: its own event brings it back
    return this.drive(job, pods, status);
  }

  private async podsOf(job: Job): Promise<Pod[]> {
    const selector = fromLabelSelector(job.spec.selector ?? {});
    if (selector.requirements.length === 0) return [];
    const pods = typedList('pods', (await this.store.list('pods', { namespace: job.metadata.namespace, labelSelector: selector })).items);
    return pods.filter((p) => controllerOf(p)?.uid === job.metadata.uid);
  }

  /** Pods of a Job that is gone keep no finalizer of it. */
  private async releaseOrphans(namespace: string, name: string): Promise<void> {
    const pods = typedList('pods', (await this.store.list('pods', { namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` })).items);
    const live = await this.store.get(JOBS, namespace, name).catch(ignoreNotFound);
    await this.release(pods.filter((p) => tracked(p) && controllerOf(p)?.uid !== live?.metadata.uid));
  }

  private async release(pods: Pod[]): Promise<void> {
    await Promise.all(
      pods.map((p) =>
        guaranteedUpdate<Pod>(this.store, 'pods', p.metadata.namespace ?? '', p.metadata.name ?? '', (cur) => {
          if (cur.metadata.uid !== p.metadata.uid || !tracked(cur)) return undefined;
          const finalizers = (cur.metadata.finalizers ?? []).filter((f) => f !== TRACKING_FINALIZER);
          return { ...cur, metadata: { ...cur.metadata, finalizers: finalizers.length ? finalizers : undefined } };
        }).catch(ignoreNotFound),
      ),
    );
  }

  /**
   * Counts the pods that finished since the last look, exactly once: recorded as uncounted,
   * their finalizers removed, then counted. Answers the status to go on from (undefined when
   * the Job changed or went meanwhile).
   */
  private async account(job: Job, pods: Pod[]): Promise<Status | undefined> {
    const status: Status = structuredClone(job.status ?? {});
    const uncounted = { succeeded: [...(status.uncountedTerminatedPods?.succeeded ?? [])], failed: [...(status.uncountedTerminatedPods?.failed ?? [])] };
    const known = new Set([...uncounted.succeeded, ...uncounted.failed]);
    // A pod deleted before it finished counts as failed, as Kubernetes counts it.
    const finished = pods.filter((p) => tracked(p) && !known.has(p.metadata.uid!) && (isTerminal(p) || p.metadata.deletionTimestamp));
    const ignored: Pod[] = [];
    for (const p of finished) {
      if (p.status?.phase === 'Succeeded') uncounted.succeeded.push(p.metadata.uid!);
      // Stopped by a suspension, or a policy's Ignore: not a failure of the Job's.
      else if ((job.spec.suspend && !isTerminal(p)) || failurePolicyAction(job, p)?.action === 'Ignore') ignored.push(p);
      else uncounted.failed.push(p.metadata.uid!);
    }
    if (uncounted.succeeded.length + uncounted.failed.length > known.size) {
      const written = await this.writeStatus(job, { ...status, uncountedTerminatedPods: uncounted });
      if (!written) return undefined;
    }
    const done = new Set([...uncounted.succeeded, ...uncounted.failed]);
    await this.release([...pods.filter((p) => done.has(p.metadata.uid!)), ...ignored]);
    const completed = parseIndexes(status.completedIndexes);
    for (const p of pods) if (uncounted.succeeded.includes(p.metadata.uid!) && job.spec.completionMode === 'Indexed') completed.add(indexOf(p));
    if (perIndex(job)) {
      // An index fails past its own limit, or at once on a FailIndex rule.
      const failedIndexes = parseIndexes(status.failedIndexes);
      for (const p of pods) {
        if (!uncounted.failed.includes(p.metadata.uid!)) continue;
        if (indexFailures(p) > job.spec.backoffLimitPerIndex! || failurePolicyAction(job, p)?.action === 'FailIndex') failedIndexes.add(indexOf(p));
      }
      for (const i of completed) failedIndexes.delete(i);
      status.failedIndexes = formatIndexes(failedIndexes);
    }
    status.succeeded = (status.succeeded ?? 0) + uncounted.succeeded.length;
    status.failed = (status.failed ?? 0) + uncounted.failed.length;
    if (job.spec.completionMode === 'Indexed') status.completedIndexes = formatIndexes([...completed].filter((i) => i < (job.spec.completions ?? 0)));
    status.uncountedTerminatedPods = {};
    return status;
  }

  /** Decides the Job's end, else runs the pods it needs; then writes the status. */
  private async drive(job: Job, pods: Pod[], status: Status): Promise<ReconcileResult | void> {
    const now = this.now();
    const running = pods.filter(isRunning);
    const terminating = pods.filter((p) => p.metadata.deletionTimestamp && !isTerminal(p)).length;
    let requeueAfterMs: number | undefined;
    let created = 0;
    if (job.spec.suspend) {
      await this.deletePods(job, running);
      this.setCondition(status, 'Suspended', 'True', 'JobSuspended', 'Job suspended');
      status.startTime = undefined;
    } else {
      if (hasCondition(job, 'Suspended')) this.setCondition(status, 'Suspended', 'False', 'JobResumed', 'Job resumed');
      status.startTime ??= nowTimestamp();
      const finish = this.finishOf(job, pods, status, now);
      if (finish) {
        // Decided: the pods left are stopped, and the Job ends once none runs.
        this.setCondition(status, finish.type === 'Failed' ? 'FailureTarget' : 'SuccessCriteriaMet', 'True', finish.reason, finish.message);
        await this.deletePods(job, running);
        if (running.length === 0 && terminating === 0) {
          this.setCondition(status, finish.type, 'True', finish.reason, finish.message);
          if (finish.type === 'Complete') status.completionTime = nowTimestamp();
          await this.events.record(job, finish.type === 'Complete' ? 'Normal' : 'Warning', finish.reason, finish.message);
        }
      } else {
        const scaled = await this.scale(job, pods, running, status, now);
        created = scaled.created;
        requeueAfterMs = scaled.waitMs;
        const deadline = job.spec.activeDeadlineSeconds;
        if (deadline !== undefined) {
          const left = Date.parse(status.startTime ?? '') + deadline * 1000 - now;
          requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, Math.max(left, 0) + 10);
        }
      }
    }
    const live = pods.filter(isRunning);
    // Pods made just now are active already: the status says so without waiting for their events.
    status.active = live.length + created;
    status.ready = live.filter(isPodReady).length;
    status.terminating = terminating;
    await this.writeStatus(job, status);
    if (requeueAfterMs !== undefined && requeueAfterMs !== Infinity) return { requeueAfterMs };
  }

  /** Whether the Job is done, and how: failed by policy, back-off limit or deadline; or complete. */
  private finishOf(job: Job, pods: Pod[], status: Status, now: number): Finish | undefined {
    const target = conditionOf(status.conditions, 'FailureTarget') ?? conditionOf(status.conditions, 'SuccessCriteriaMet');
    if (target?.status === 'True')
      return { type: target.type === 'FailureTarget' ? 'Failed' : 'Complete', reason: String(target.reason), message: String(target.message) };
    for (const p of pods.filter((x) => x.status?.phase === 'Failed')) {
      const policy = failurePolicyAction(job, p);
      if (policy?.action === 'FailJob') return { type: 'Failed', reason: 'PodFailurePolicy', message: policy.message };
    }
    if ((status.failed ?? 0) > (job.spec.backoffLimit ?? 6))
      return { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    const failedIndexes = parseIndexes(status.failedIndexes);
    const maxFailed = job.spec.maxFailedIndexes;
    if (maxFailed !== undefined && failedIndexes.size > maxFailed)
      return { type: 'Failed', reason: 'MaxFailedIndexesExceeded', message: 'Job has exceeded the specified maximal number of failed indexes' };
    const deadline = job.spec.activeDeadlineSeconds;
    if (deadline !== undefined && status.startTime && now >= Date.parse(status.startTime) + deadline * 1000)
      return { type: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    const completions = job.spec.completions;
    const succeeded = status.succeeded ?? 0;
    const met = successRuleMet(job, parseIndexes(status.completedIndexes));
    if (met !== undefined) return { type: 'Complete', reason: 'SuccessPolicy', message: `Matched rules at index ${met}` };
    // Every index settled, some of them failed: the Job failed.
    if (failedIndexes.size > 0 && parseIndexes(status.completedIndexes).size + failedIndexes.size >= (completions ?? 0))
      return { type: 'Failed', reason: 'FailedIndexes', message: 'Job has failed indexes' };
    const complete =
      job.spec.completionMode === 'Indexed'
        ? parseIndexes(status.completedIndexes).size >= (completions ?? 0)
        : completions === undefined
          ? succeeded > 0 && pods.filter(isRunning).length === 0
          : succeeded >= completions;
    if (complete) return { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
    return undefined;
  }

  /** Creates the pods wanted (after the back-off, if pods failed) or deletes the surplus: how many it made, and the wait left, if any. */
  private async scale(job: Job, pods: Pod[], running: Pod[], status: Status, now: number): Promise<{ created: number; waitMs?: number }> {
    const parallelism = job.spec.parallelism ?? 1;
    const completions = job.spec.completions;
    const succeeded = status.succeeded ?? 0;
    let missing: number[] = [];
    let want: number;
    if (job.spec.completionMode === 'Indexed') {
      const taken = new Set([...parseIndexes(status.completedIndexes), ...parseIndexes(status.failedIndexes), ...running.map(indexOf)]);
      missing = Array.from({ length: completions ?? 0 }, (_, i) => i).filter((i) => !taken.has(i));
      want = Math.min(parallelism, running.length + missing.length);
    } else want = completions === undefined ? (succeeded > 0 ? 0 : parallelism) : Math.min(parallelism, completions - succeeded);
    const diff = want - running.length;
    if (diff < 0) {
      const newest = [...running].sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)));
      await this.deletePods(job, newest.slice(0, -diff));
      return { created: 0 };
    }
    if (diff === 0) return { created: 0 };
    const failed = pods.filter((p) => p.status?.phase === 'Failed' && failurePolicyAction(job, p)?.action !== 'Ignore');
    if (perIndex(job)) return this.createIndexes(job, missing.slice(0, diff), failed, now);
    const failures = status.failed ?? 0;
    if (failures > 0 && failed.length) {
      const base = this.options.backoffBaseMs ?? 10_000;
      const wait = Math.min(base * 2 ** (failures - 1), this.options.backoffMaxMs ?? 360_000);
      const last = Math.max(...failed.map((p) => finishedAt(p, now)));
      if (now < last + wait) return { created: 0, waitMs: last + wait - now };
    }
    const indexes = missing.slice(0, diff);
    let next = 0;
    const created = await slowStart(Math.min(diff, BURST), () => this.createPod(job, job.spec.completionMode === 'Indexed' ? indexes[next++] : undefined));
    return { created };
  }

  /** The back-off of each index from its own failures: the indexes whose wait is over get pods; the wait left of the others. */
  private async createIndexes(job: Job, indexes: number[], failed: Pod[], now: number): Promise<{ created: number; waitMs?: number }> {
    const ready: { index: number; failures: number }[] = [];
    let waitMs: number | undefined;
    for (const index of indexes) {
      const mine = failed.filter((p) => indexOf(p) === index);
      const failures = Math.max(0, ...mine.map(indexFailures));
      if (failures > 0) {
        const wait = Math.min((this.options.backoffBaseMs ?? 10_000) * 2 ** (failures - 1), this.options.backoffMaxMs ?? 360_000);
        const left = Math.max(...mine.map((p) => finishedAt(p, now))) + wait - now;
        if (left > 0) {
          waitMs = Math.min(waitMs ?? left, left);
          continue;
        }
      }
      ready.push({ index, failures });
    }
    let next = 0;
    const created = await slowStart(Math.min(ready.length, BURST), () => {
      const { index, failures } = ready[next++];
      return this.createPod(job, index, failures);
    });
    return { created, waitMs };
  }

  private async createPod(job: Job, index: number | undefined, failures?: number): Promise<void> {
    const template = structuredClone(job.spec.template);
    const meta = template.metadata ?? {};
    const spec = template.spec;
    let labels = meta.labels;
    let annotations = meta.annotations;
    if (index !== undefined) {
      labels = { ...labels, [COMPLETION_INDEX]: String(index) };
      annotations = { ...annotations, [COMPLETION_INDEX]: String(index) };
      const env = { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } };
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) c.env = [...(c.env ?? []), env];
      spec.hostname ??= `${job.metadata.name}-${index}`;
      if (failures !== undefined) annotations[INDEX_FAILURE_COUNT] = String(failures);
    }
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: index === undefined ? `${job.metadata.name}-` : `${job.metadata.name}-${index}-`,
        namespace: job.metadata.namespace,
        labels,
        annotations,
        finalizers: [TRACKING_FINALIZER],
        ownerReferences: [controllerRef(job, 'batch/v1', 'Job')],
      },
      spec,
    };
    await createPodOf(this.registry, this.events, job, pod);
  }

  private async deletePods(job: Job, pods: Pod[]): Promise<void> {
    await Promise.all(pods.map((p) => deletePodOf(this.registry, this.events, job, p)));
  }

  private setCondition(status: Status, type: string, value: 'True' | 'False', reason: string, message: string): void {
    const conditions = (status.conditions ?? []) as Condition[];
    const old = conditions.find((c) => c.type === type);
    if (old && old.status === value && old.reason === reason) return;
    if (!old && value === 'False') return;
    const now = nowTimestamp();
    const next = { type, status: value, reason, message, lastProbeTime: now, lastTransitionTime: old?.status === value ? old.lastTransitionTime : now };
    status.conditions = [...conditions.filter((c) => c.type !== type), next];
  }

  /** Writes the status if it changed (false when the Job is gone or is another now). */
  private async writeStatus(job: Job, status: Status): Promise<boolean> {
    const clean = Object.fromEntries(Object.entries(status).filter(([, v]) => v !== undefined));
    let ok = true;
    await guaranteedUpdate<Job>(this.store, JOBS, job.metadata.namespace ?? '', job.metadata.name ?? '', (cur) => {
      if (cur.metadata.uid !== job.metadata.uid) {
        ok = false;
        return undefined;
      }
      if (JSON.stringify(cur.status ?? {}) === JSON.stringify(clean)) return undefined;
      return { ...cur, status: clean };
    }).catch((err) => {
      if (!isNotFound(err)) throw err;
      ok = false;
    });
    return ok;
  }

  /** A finished Job with a TTL is deleted once it has passed (its pods go with it); else when. */
  private async expire(job: Job): Promise<ReconcileResult | void> {
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (ttl === undefined) return;
    const finished = (job.status?.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    const at = Date.parse(String(finished?.lastTransitionTime ?? job.status?.completionTime ?? ''));
    if (Number.isNaN(at)) return;
    const left = at + ttl * 1000 - this.now();
    if (left > 0) return { requeueAfterMs: left + 10 };
    await this.registry
      .delete(JOB_INFO, job.metadata.namespace ?? '', job.metadata.name ?? '', { preconditions: { uid: job.metadata.uid }, propagationPolicy: 'Background' })
      .catch(ignore(isNotFound, isConflict));
  }
}

/** The index of the first successPolicy rule the completed indexes meet, if any. */
export function successRuleMet(job: Job, completed: Set<number>): number | undefined {
  const rules = (job.spec.successPolicy?.rules ?? []) as { succeededIndexes?: string; succeededCount?: number }[];
  for (const [i, rule] of rules.entries()) {
    const among = rule.succeededIndexes === undefined ? [...completed] : [...parseIndexes(rule.succeededIndexes)].filter((x) => completed.has(x));
    const need = rule.succeededCount ?? (rule.succeededIndexes === undefined ? Number.POSITIVE_INFINITY : parseIndexes(rule.succeededIndexes).size);
    if (among.length >= need) return i;
  }
  return undefined;
}

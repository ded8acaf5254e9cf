/**
 * The CronJob controller, as kube-controller-manager's: at each time the schedule names (in the
 * CronJob's time zone) it makes a Job from the template, named `<cronjob>-<minutes since the
 * epoch>` so a second look at the same time makes none, unless:
 * - `suspend`;
 * - the time is older than `startingDeadlineSeconds` (missed: the next time is waited for);
 * - `concurrencyPolicy: Forbid` and a Job of it still runs (`Replace` deletes those first).
 * Only the latest missed time is started; more than 100 missed (a control plane down for long)
 * is said in an event, as Kubernetes says it, not looped over. It keeps `status.active`,
 * `lastScheduleTime` and `lastSuccessfulTime`, deletes finished Jobs past the history limits
 * (oldest first), and looks again at the next scheduled time. Time comes from a clock it is
 * given, so tests move it instead of waiting.
 */
import { parseSchedule } from '../api/kinds/cronjob.js';
import { conditionOf, typed, typedList } from '../api/objects.js';
import { Registry } from '../api/registry.js';
import { findResource } from '../api/resources.js';
import type { CronJob, Job } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isAlreadyExists, isConflict, isNotFound } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import { controllerOf, controllerRef } from './replicaset.js';
import type { Controller, ReconcileResult } from './types.js';

const CRONJOBS = 'cronjobs.batch';
const JOBS = findResource('batch', 'v1', 'jobs')!;
export const SCHEDULED_AT = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
const MAX_MISSED = 100;

export interface CronJobControllerOptions {
  now?: () => number;
}

const finishedAs = (job: Job) =>
  conditionOf(job.status?.conditions, 'Complete')?.status === 'True'
    ? 'Complete'
    : conditionOf(job.status?.conditions, 'Failed')?.status === 'True'
      ? 'Failed'
      : undefined;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export class CronJobController implements Controller {
  readonly name = 'cronjob';
  /** Schedules come due with nothing written: the AWS shape's tick looks again. */
  readonly periodic = true;
  private readonly registry: Registry;
  private readonly events: EventRecorder;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    options: CronJobControllerOptions = {},
  ) {
    this.registry = new Registry(store);
    this.events = new EventRecorder(store, 'cronjob-controller');
    this.now = options.now ?? Date.now;
  }

  keysFor(event: ChangeEvent): string[] {
    if (event.resource === CRONJOBS) return [`${event.object.metadata.namespace}/${event.object.metadata.name}`];
    if (event.resource !== JOBS.storeKey) return [];
    const owner = controllerOf(event.object);
    return owner?.kind === 'CronJob' ? [`${event.object.metadata.namespace}/${owner.name}`] : [];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list(CRONJOBS)).items.map((c) => `${c.metadata.namespace}/${c.metadata.name}`);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/');
    const stored = await this.store.get(CRONJOBS, namespace, name).catch(ignoreNotFound);
    if (!stored || stored.metadata.deletionTimestamp) return;
    const cj = typed(CRONJOBS, stored);
    const jobs = typedList(JOBS.storeKey as 'jobs.batch', (await this.store.list(JOBS.storeKey, { namespace })).items).filter(
      (j) => controllerOf(j)?.uid === cj.metadata.uid,
    );
    await this.trimHistory(cj, jobs);
    const running = jobs.filter((j) => !finishedAs(j) && !j.metadata.deletionTimestamp);
    const schedule = parseSchedule(cj.spec.schedule, cj.spec.timeZone);
    if (typeof schedule === 'string') {
      await this.events.record(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec.schedule)} : ${schedule}`);
      return this.writeStatus(cj, running, jobs);
    }
    const now = this.now();
    let made: Job | undefined;
    let scheduledAt: number | undefined;
    if (!cj.spec.suspend) {
      const due = await this.due(cj, schedule, now);
      if (due !== undefined && this.inTime(cj, due, now) && (await this.mayRun(cj, running))) {
        made = await this.makeJob(cj, due);
        scheduledAt = due;
      }
    }
    // The Jobs Replace deleted run no more; the one made runs now.
    const replaced = made && cj.spec.concurrencyPolicy === 'Replace';
    await this.writeStatus(cj, made ? [...(replaced ? [] : running), made] : running, jobs, scheduledAt);
    if (cj.spec.suspend) return;
    const next = schedule.nextRun(new Date(now))?.getTime();
    if (next !== undefined) return { requeueAfterMs: Math.max(next - now, 0) + 100 };
  }

  /** The latest scheduled time not yet started, if any (counting at most 100 of those missed). */
  private async due(cj: CronJob, schedule: Exclude<ReturnType<typeof parseSchedule>, string>, now: number): Promise<number | undefined> {
    const since = Date.parse(String(cj.status?.lastScheduleTime ?? cj.metadata.creationTimestamp ?? ''));
    const deadline = cj.spec.startingDeadlineSeconds;
    // With a deadline, times before it are not looked at: they could not start anyway.
    const from = deadline !== undefined ? Math.max(since, now - deadline * 1000) : since;
    let latest: number | undefined;
    let missed = 0;
    for (let t = schedule.nextRun(new Date(from)); t && t.getTime() <= now; t = schedule.nextRun(t)) {
      latest = t.getTime();
      if (++missed > MAX_MISSED) {
        await this.events.record(
          cj,
          'Warning',
          'TooManyMissedTimes',
          'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew',
        );
        // Only the latest matters: jump to it rather than walk every missed one.
        const back = schedule.previousRuns(1, new Date(now))[0]?.getTime();
        return back !== undefined && back > from ? back : latest;
      }
    }
    return latest;
  }

  /** Whether a Job for `due` may still start: within `startingDeadlineSeconds` of it. */
  private inTime(cj: CronJob, due: number, now: number): boolean {
    const deadline = cj.spec.startingDeadlineSeconds;
    return deadline === undefined || now - due <= deadline * 1000;
  }

  /** The concurrency policy's answer, having deleted what Replace replaces. */
  private async mayRun(cj: CronJob, running: Job[]): Promise<boolean> {
    if (running.length === 0 || (cj.spec.concurrencyPolicy ?? 'Allow') === 'Allow') return true;
    if (cj.spec.concurrencyPolicy === 'Forbid') return false;
    for (const j of running) {
      await this.deleteJob(j);
      await this.events.record(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
    }
    return true;
  }

  private async makeJob(cj: CronJob, due: number): Promise<Job> {
    const template = cj.spec.jobTemplate;
    const name = `${cj.metadata.name}-${Math.floor(due / 60_000)}`;
    const body = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: cj.metadata.namespace,
        labels: template.metadata?.labels,
        annotations: { ...template.metadata?.annotations, [SCHEDULED_AT]: iso(due) },
        ownerReferences: [controllerRef(cj, 'batch/v1', 'CronJob')],
      },
      spec: structuredClone(template.spec),
    };
    try {
      const { object } = await this.registry.create(JOBS, cj.metadata.namespace ?? '', body, { fieldValidation: 'Ignore' });
      await this.events.record(cj, 'Normal', 'SuccessfulCreate', `Created job ${name}`);
      return object as Job;
    } catch (err) {
      // Made already for this time (a second look at it): that one it is.
      if (!isAlreadyExists(err)) throw err;
      return typed('jobs.batch', await this.store.get(JOBS.storeKey, cj.metadata.namespace ?? '', name));
    }
  }

  /** Deletes finished Jobs past the history limits, oldest first. */
  private async trimHistory(cj: CronJob, jobs: Job[]): Promise<void> {
    const byStart = (a: Job, b: Job) =>
      String(a.status?.startTime ?? a.metadata.creationTimestamp).localeCompare(String(b.status?.startTime ?? b.metadata.creationTimestamp));
    for (const [state, limit] of [
      ['Complete', cj.spec.successfulJobsHistoryLimit ?? 3],
      ['Failed', cj.spec.failedJobsHistoryLimit ?? 1],
    ] as const) {
      const done = jobs.filter((j) => finishedAs(j) === state && !j.metadata.deletionTimestamp).sort(byStart);
      for (const j of done.slice(0, Math.max(done.length - limit, 0))) await this.deleteJob(j);
    }
  }

  /** Deletes that very Job (by its uid), its pods after it; one already gone is no error. */
  private async deleteJob(j: Job): Promise<void> {
    await this.registry
      .delete(JOBS, j.metadata.namespace ?? '', j.metadata.name ?? '', { preconditions: { uid: j.metadata.uid }, propagationPolicy: 'Background' })
      .catch(ignore(isNotFound, isConflict));
  }

  private async writeStatus(cj: CronJob, active: Job[], jobs: Job[], scheduledAt?: number): Promise<void> {
    const successes = jobs.filter((j) => finishedAs(j) === 'Complete').map((j) => String(j.status?.completionTime ?? ''));
    const lastSuccessfulTime = successes.sort().at(-1) || cj.status?.lastSuccessfulTime;
    const status = {
      ...(active.length
        ? {
            active: active.map((j) => ({
              kind: 'Job',
              namespace: j.metadata.namespace,
              name: j.metadata.name,
              uid: j.metadata.uid,
              apiVersion: 'batch/v1',
              resourceVersion: j.metadata.resourceVersion,
            })),
          }
        : {}),
      ...(scheduledAt !== undefined
        ? { lastScheduleTime: iso(scheduledAt) }
        : cj.status?.lastScheduleTime
          ? { lastScheduleTime: cj.status.lastScheduleTime }
          : {}),
      ...(lastSuccessfulTime ? { lastSuccessfulTime } : {}),
    };
    await guaranteedUpdate<CronJob>(this.store, CRONJOBS, cj.metadata.namespace ?? '', cj.metadata.name ?? '', (cur) => {
      if (cur.metadata.uid !== cj.metadata.uid) return undefined;
      const strip = (s: unknown) => JSON.stringify(s, (k, v) => (k === 'resourceVersion' ? undefined : v));
      if (strip(cur.status ?? {}) === strip(status)) return undefined;
      return { ...cur, status };
    }).catch(ignoreNotFound);
  }
}

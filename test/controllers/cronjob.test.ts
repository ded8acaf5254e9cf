/**
 * The CronJob controller with a clock the test moves (no waiting for minutes to pass): a Job per
 * scheduled time and never two, Forbid and Replace, a starting deadline, the latest of many
 * missed times started once with Kubernetes' warning, history limits, suspension, time zones;
 * and schedules refused as kube-apiserver refuses them.
 */
import { Cron } from 'croner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import type { CronJob, Job } from '../../shared/api/schemas/index.js';
import { ApiError } from '../../shared/api/status.js';
import { CronJobController, SCHEDULED_AT } from '../../shared/controllers/cronjob.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { Store } from '../../shared/store/types.js';

const CRONJOBS = findResource('batch', 'v1', 'cronjobs')!;
let store: Store;
let registry: Registry;
let clock = 0;
let controller: CronJobController;

beforeAll(async () => {
  store = openSqliteStore({ path: ':memory:' });
  registry = new Registry(store);
  await registry.ensureSystemNamespaces();
  controller = new CronJobController(store, { now: () => clock });
});
afterAll(() => store?.close());

const make = async (name: string, schedule: string, extra: Record<string, unknown> = {}) =>
  (
    await registry.create(CRONJOBS, 'default', {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name },
      spec: {
        schedule,
        ...extra,
        jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } },
      },
    })
  ).object as unknown as CronJob;
const jobsOf = async (name: string) =>
  ((await store.list('jobs.batch', { namespace: 'default' })).items as unknown as Job[]).filter(
    (j) => j.metadata.ownerReferences?.[0]?.name === name && !j.metadata.deletionTimestamp,
  );
const read = async (name: string) => (await store.get('cronjobs.batch', 'default', name)) as unknown as CronJob;
/** The schedule's times after the CronJob was made. */
const times = (cj: CronJob, schedule: string, n: number, timezone?: string) =>
  new Cron(schedule, { paused: true, timezone }).nextRuns(n, new Date(cj.metadata.creationTimestamp!)).map((d) => d.getTime());
const at = async (ms: number, name: string) => {
  clock = ms;
  return controller.reconcile(`default/${name}`);
};
const finish = (job: Job, type: 'Complete' | 'Failed', when: number) =>
  guaranteedUpdate(store, 'jobs.batch', 'default', job.metadata.name!, (j) => ({
    ...j,
    status: {
      startTime: new Date(when - 1000).toISOString(),
      ...(type === 'Complete' ? { completionTime: new Date(when).toISOString() } : {}),
      conditions: [{ type, status: 'True' }],
    },
  }));

describe('CronJobs', () => {
  it('makes one Job per scheduled time, named by it, and none twice; then looks again at the next time', async () => {
    const cj = await make('every5', '*/5 * * * *');
    const [t1, t2] = times(cj, '*/5 * * * *', 2);
    expect(await at(t1 - 1000, 'every5')).toMatchObject({ requeueAfterMs: 1100 });
    expect(await jobsOf('every5')).toHaveLength(0);
    const next = await at(t1 + 1000, 'every5');
    await at(t1 + 2000, 'every5');
    const jobs = await jobsOf('every5');
    expect(jobs.map((j) => j.metadata.name)).toEqual([`every5-${t1 / 60_000}`]);
    expect(jobs[0].metadata.annotations?.[SCHEDULED_AT]).toBe(new Date(t1).toISOString().replace('.000Z', 'Z'));
    expect(jobs[0].spec.template.spec.containers[0].image).toBe('busybox');
    expect(next).toMatchObject({ requeueAfterMs: t2 - (t1 + 1000) + 100 });
    const status = (await read('every5')).status;
    expect(status?.lastScheduleTime).toBe(new Date(t1).toISOString().replace('.000Z', 'Z'));
    expect(status?.active?.map((r) => r.name)).toEqual([`every5-${t1 / 60_000}`]);
  });

  it('Forbid waits for the running Job; Replace deletes it for the new one', async () => {
    const forbid = await make('forbid', '*/5 * * * *', { concurrencyPolicy: 'Forbid' });
    const [f1, f2, f3] = times(forbid, '*/5 * * * *', 3);
    await at(f1 + 1000, 'forbid');
    await at(f2 + 1000, 'forbid');
    expect(await jobsOf('forbid')).toHaveLength(1);
    await finish((await jobsOf('forbid'))[0], 'Complete', f2 + 2000);
    await at(f3 + 1000, 'forbid');
    expect((await jobsOf('forbid')).map((j) => j.metadata.name).sort()).toEqual([`forbid-${f1 / 60_000}`, `forbid-${f3 / 60_000}`]);
    expect((await read('forbid')).status?.lastSuccessfulTime).toBe(new Date(f2 + 2000).toISOString());

    const replace = await make('replace', '*/5 * * * *', { concurrencyPolicy: 'Replace' });
    const [r1, r2] = times(replace, '*/5 * * * *', 2);
    await at(r1 + 1000, 'replace');
    await at(r2 + 1000, 'replace');
    expect((await jobsOf('replace')).map((j) => j.metadata.name)).toEqual([`replace-${r2 / 60_000}`]);
    expect((await read('replace')).status?.active?.map((r) => r.name)).toEqual([`replace-${r2 / 60_000}`]);
  });

  it('skips a time past its starting deadline, and starts only the latest of many missed times, with a warning', async () => {
    const late = await make('late', '*/5 * * * *', { startingDeadlineSeconds: 10 });
    const [l1, l2] = times(late, '*/5 * * * *', 2);
    await at(l1 + 60_000, 'late');
    expect(await jobsOf('late')).toHaveLength(0);
    await at(l2 + 5000, 'late');
    expect((await jobsOf('late')).map((j) => j.metadata.name)).toEqual([`late-${l2 / 60_000}`]);

    const missed = await make('missed', '* * * * *');
    const [m1] = times(missed, '* * * * *', 1);
    const now = m1 + 200 * 60_000 + 30_000;
    await at(now, 'missed');
    expect((await jobsOf('missed')).map((j) => j.metadata.name)).toEqual([`missed-${Math.floor(now / 60_000)}`]);
    const events = (await store.list('events', { namespace: 'default' })).items.filter((e) => (e.involvedObject as { name: string }).name === 'missed');
    expect(events.map((e) => e.reason)).toContain('TooManyMissedTimes');
  });

  it('keeps as many finished Jobs as the history limits say, the newest', async () => {
    const kept = await make('kept', '* * * * *', { successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1 });
    const ts = times(kept, '* * * * *', 4);
    for (const [i, t] of ts.entries()) {
      await at(t + 1000, 'kept');
      const made = (await jobsOf('kept')).find((j) => j.metadata.name === `kept-${t / 60_000}`)!;
      await finish(made, i === 1 ? 'Failed' : 'Complete', t + 2000);
    }
    await at(ts[3] + 3000, 'kept');
    expect((await jobsOf('kept')).map((j) => j.metadata.name).sort()).toEqual([`kept-${ts[1] / 60_000}`, `kept-${ts[3] / 60_000}`]);
  });

  it('makes nothing while suspended, and runs in its time zone', async () => {
    const held = await make('held', '* * * * *', { suspend: true });
    const [h1] = times(held, '* * * * *', 1);
    expect(await at(h1 + 1000, 'held')).toBeUndefined();
    expect(await jobsOf('held')).toHaveLength(0);

    const tokyo = await make('tokyo', '0 9 * * *', { timeZone: 'Asia/Tokyo' });
    const [k1] = times(tokyo, '0 9 * * *', 1, 'Asia/Tokyo');
    expect(new Date(k1).getUTCHours()).toBe(0);
    await at(k1 + 1000, 'tokyo');
    expect((await jobsOf('tokyo'))[0].metadata.annotations?.[SCHEDULED_AT]).toMatch(/T00:00:00Z$/);
  });

  it('refuses schedules Kubernetes refuses, saying why', async () => {
    const refused = async (schedule: string, extra: Record<string, unknown> = {}) => {
      const err = await make(`bad-${Math.random().toString(36).slice(2, 8)}`, schedule, extra).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      return (err as ApiError).toStatus().message;
    };
    expect(await refused('61 * * * *')).toContain('spec.schedule: Invalid value: "61 * * * *"');
    expect(await refused('0 0 * * * *')).toContain('expected exactly 5 fields, found 6');
    expect(await refused('TZ=UTC 0 * * * *')).toContain('cannot use TZ or CRON_TZ in schedule, use timeZone field instead');
    expect(await refused('@hourly', { timeZone: 'Mars/Olympus' })).toContain('spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone');
    expect(await refused('@hourly', { concurrencyPolicy: 'Sometimes' })).toContain('spec.concurrencyPolicy: Unsupported value: "Sometimes"');
  });
});

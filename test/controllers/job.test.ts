/**
 * The Job controller on simulated nodes (their pods run for `sim.skiff.dev/run-ms` and exit with
 * `sim.skiff.dev/exit-code`): completions at a parallelism, back-off growing between failures up
 * to the limit, Indexed Jobs (per-index back-off limits, max failed indexes, success policies),
 * pod failure policies, deadlines, suspension, TTL, and each finished
 * pod counted exactly once even when the controller stopped half-way through counting it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResource } from '../../shared/api/resources.js';
import type { Job, Pod } from '../../shared/api/schemas/index.js';
import { JobController, TRACKING_FINALIZER, formatIndexes, parseIndexes } from '../../shared/controllers/job.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { startSimCluster, type SimCluster, until } from '../support/sim-cluster.js';

const JOBS = findResource('batch', 'v1', 'jobs')!;
// Pods' finish times are whole seconds, as in Kubernetes: a wait is known to within one.
const BACKOFF_MS = 2000;
let sim: SimCluster;

beforeAll(async () => {
  sim = await startSimCluster({ nodes: 3, job: { backoffBaseMs: BACKOFF_MS } });
});
afterAll(() => sim?.stop());

function job(name: string, spec: Record<string, unknown>, pod: { runMs?: number; exitCode?: number; failingIndexes?: string } = {}) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: {
      ...spec,
      template: {
        metadata: {
          annotations: {
            'sim.skiff.dev/run-ms': String(pod.runMs ?? 50),
            'sim.skiff.dev/exit-code': String(pod.exitCode ?? 0),
            ...(pod.failingIndexes ? { 'sim.skiff.dev/failing-indexes': pod.failingIndexes } : {}),
          },
        },
        spec: { restartPolicy: 'Never', containers: [{ name: 'work', image: 'busybox:1.36', resources: { requests: { cpu: '10m' } } }] },
      },
    },
  };
}

const create = async (body: object) => (await sim.registry.create(JOBS, 'default', body)).object as unknown as Job;
const read = async (name: string) => (await sim.store.get('jobs.batch', 'default', name)) as unknown as Job;
const podsOf = async (name: string) =>
  (await sim.store.list('pods', { namespace: 'default', labelSelector: `batch.kubernetes.io/job-name=${name}` })).items as unknown as Pod[];
const condition = (j: Job, type: string) => j.status?.conditions?.find((c) => c.type === type && c.status === 'True');
const finished = (name: string, type: 'Complete' | 'Failed', timeoutMs = 30_000) =>
  until(
    `${name} ${type}`,
    async () => {
      const j = await read(name);
      return condition(j, type) && j;
    },
    timeoutMs,
  );

describe('Jobs', () => {
  it('runs 10 completions at parallelism 3, never more at once, and completes with every pod counted once', async () => {
    const made = await create(job('ten', { completions: 10, parallelism: 3 }, { runMs: 300 }));
    expect(made.spec.selector?.matchLabels?.['batch.kubernetes.io/controller-uid']).toBe(made.metadata.uid);
    let most = 0;
    const sampler = setInterval(async () => {
      const running = (await podsOf('ten')).filter((p) => p.status?.phase === 'Running' || !p.status?.phase).length;
      most = Math.max(most, running);
    }, 50);
    const done = await finished('ten', 'Complete').finally(() => clearInterval(sampler));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThanOrEqual(2);
    expect(done.status).toMatchObject({ succeeded: 10, active: 0, failed: 0 });
    expect(condition(done, 'SuccessCriteriaMet')?.reason).toBe('CompletionsReached');
    expect(done.status?.completionTime).toBeTruthy();
    const pods = await podsOf('ten');
    expect(pods.filter((p) => p.status?.phase === 'Succeeded')).toHaveLength(10);
    expect(pods.every((p) => !(p.metadata.finalizers ?? []).includes(TRACKING_FINALIZER))).toBe(true);
  });

  it('replaces failed pods after a back-off that doubles, and fails at the backoff limit', async () => {
    await create(job('flaky', { backoffLimit: 2 }, { exitCode: 1 }));
    const seen = new Map<string, number>();
    const watcher = setInterval(async () => {
      for (const p of await podsOf('flaky')) if (!seen.has(p.metadata.name!)) seen.set(p.metadata.name!, Date.now());
    }, 25);
    const failed = await finished('flaky', 'Failed').finally(() => clearInterval(watcher));
    expect(condition(failed, 'Failed')).toMatchObject({ reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' });
    expect(failed.status?.failed).toBe(3);
    const times = [...seen.values()].sort((a, b) => a - b);
    expect(times).toHaveLength(3);
    // The waits between failures: about 2 s, then about 4 s.
    const [first, second] = [times[1] - times[0], times[2] - times[1]];
    expect(first).toBeGreaterThanOrEqual(BACKOFF_MS - 1000);
    expect(second).toBeGreaterThanOrEqual(2 * BACKOFF_MS - 1000);
    expect(second).toBeGreaterThan(first);
  });

  it('gives an Indexed Job’s pods their index, once each, and records the completed ones', async () => {
    await create(job('indexed', { completions: 4, parallelism: 2, completionMode: 'Indexed' }));
    const done = await finished('indexed', 'Complete');
    expect(done.status?.completedIndexes).toBe('0-3');
    const pods = await podsOf('indexed');
    const indexes = pods.map((p) => Number(p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'])).sort();
    expect(indexes).toEqual([0, 1, 2, 3]);
    for (const p of pods) {
      const index = p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'];
      expect(p.metadata.labels?.['batch.kubernetes.io/job-completion-index']).toBe(index);
      expect(p.spec.hostname).toBe(`indexed-${index}`);
      expect(p.metadata.name).toMatch(new RegExp(`^indexed-${index}-`));
      expect(p.spec.containers[0].env).toContainEqual({
        name: 'JOB_COMPLETION_INDEX',
        valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } },
      });
    }
  });

  it('backoffLimitPerIndex: an index fails alone past its own limit, the others complete, and the Job fails with FailedIndexes', async () => {
    await create(
      job('per-index', { completions: 4, parallelism: 4, completionMode: 'Indexed', backoffLimitPerIndex: 1 }, { exitCode: 1, failingIndexes: '1' }),
    );
    const failed = await finished('per-index', 'Failed');
    expect(condition(failed, 'Failed')).toMatchObject({ reason: 'FailedIndexes', message: 'Job has failed indexes' });
    expect(failed.status).toMatchObject({ completedIndexes: '0,2-3', failedIndexes: '1', failed: 2, succeeded: 3 });
    // Each try of index 1 carries how often it had failed before; the second waited a back-off.
    const tries = (await podsOf('per-index')).filter((p) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'] === '1');
    expect(tries.map((p) => p.metadata.annotations?.['batch.kubernetes.io/job-index-failure-count']).sort()).toEqual(['0', '1']);
  });

  it('maxFailedIndexes: more failed indexes than allowed fail the Job at once', async () => {
    await create(
      job(
        'max-failed',
        { completions: 3, parallelism: 1, completionMode: 'Indexed', backoffLimitPerIndex: 0, maxFailedIndexes: 0 },
        { exitCode: 1, failingIndexes: '0' },
      ),
    );
    const failed = await finished('max-failed', 'Failed');
    expect(condition(failed, 'Failed')?.reason).toBe('MaxFailedIndexesExceeded');
    expect(failed.status?.failedIndexes).toBe('0');
    expect(await podsOf('max-failed')).toHaveLength(1);
  });

  it('successPolicy: the Job completes once the named indexes succeeded, its other pods stopped', async () => {
    const policy = { rules: [{ succeededIndexes: '0-2' }] };
    await create(job('enough', { completions: 5, parallelism: 5, completionMode: 'Indexed', successPolicy: policy }, { exitCode: 1, failingIndexes: '3,4' }));
    const done = await finished('enough', 'Complete');
    expect(condition(done, 'SuccessCriteriaMet')).toMatchObject({ reason: 'SuccessPolicy', message: 'Matched rules at index 0' });
    expect(condition(done, 'Complete')?.reason).toBe('SuccessPolicy');
    expect(done.status?.completedIndexes).toBe('0-2');
    expect((await podsOf('enough')).filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp)).toEqual([]);
  });

  it('refuses per-index limits and success policies outside Indexed Jobs, in kube-apiserver’s words', async () => {
    const refused = await create(
      job('not-indexed', { completions: 2, backoffLimitPerIndex: 1, maxFailedIndexes: 3, successPolicy: { rules: [{ succeededCount: 1 }] } }),
    ).then(
      () => undefined,
      (err: { message: string }) => err.message,
    );
    expect(refused).toContain('spec.backoffLimitPerIndex: Forbidden: requires indexed completion mode');
    expect(refused).toContain('spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions');
    expect(refused).toContain('spec.successPolicy: Invalid value:');
    expect(refused).toContain('requires indexed completion mode');
  });

  it('fails at once on a FailJob rule’s exit code; an Ignore rule’s failures do not count', async () => {
    const rules = (action: string, code: number) => ({ rules: [{ action, onExitCodes: { operator: 'In', values: [code] } }] });
    await create(job('fatal', { backoffLimit: 5, podFailurePolicy: rules('FailJob', 42) }, { exitCode: 42 }));
    const failed = await finished('fatal', 'Failed');
    expect(condition(failed, 'Failed')?.reason).toBe('PodFailurePolicy');
    expect(condition(failed, 'Failed')?.message).toMatch(
      /^Container work for pod default\/fatal-\w+ failed with exit code 42 matching FailJob rule at index 0$/,
    );
    expect(await podsOf('fatal')).toHaveLength(1);

    await create(job('shrug', { backoffLimit: 0, podFailurePolicy: rules('Ignore', 7) }, { exitCode: 7 }));
    await until('three pods tried', async () => (await podsOf('shrug')).length >= 3);
    const j = await read('shrug');
    expect(j.status?.failed ?? 0).toBe(0);
    expect(condition(j, 'Failed')).toBeUndefined();
    await sim.registry.delete(JOBS, 'default', 'shrug', { propagationPolicy: 'Background' });
  });

  it('fails a Job active past its deadline, stopping its pods', async () => {
    await create(job('slow', { activeDeadlineSeconds: 1 }, { runMs: 60_000 }));
    const failed = await finished('slow', 'Failed');
    expect(condition(failed, 'Failed')).toMatchObject({ reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' });
    expect(condition(failed, 'FailureTarget')?.reason).toBe('DeadlineExceeded');
    await until('its pod gone', async () => (await podsOf('slow')).length === 0);
  });

  it('holds a suspended Job without pods, and runs it once resumed', async () => {
    await create(job('held', { suspend: true, completions: 2 }));
    const held = await until('Suspended', async () => {
      const j = await read('held');
      return condition(j, 'Suspended') && j;
    });
    expect(condition(held, 'Suspended')?.reason).toBe('JobSuspended');
    expect(held.status?.startTime).toBeUndefined();
    expect(await podsOf('held')).toHaveLength(0);
    await guaranteedUpdate(sim.store, 'jobs.batch', 'default', 'held', (j) => ({ ...j, spec: { ...(j.spec as object), suspend: false } }));
    const done = await finished('held', 'Complete');
    expect(done.status?.conditions?.find((c) => c.type === 'Suspended')).toMatchObject({ status: 'False', reason: 'JobResumed' });
  });

  it('deletes a finished Job, and its pods with it, once its TTL has passed', async () => {
    await create(job('brief', { ttlSecondsAfterFinished: 1 }));
    await finished('brief', 'Complete');
    await until('the Job gone', async () => !(await sim.store.get('jobs.batch', 'default', 'brief').catch(() => undefined)), 15_000);
    await until('its pods gone', async () => (await podsOf('brief')).length === 0, 15_000);
  });

  it('counts a pod recorded as uncounted once, however often the count is resumed', async () => {
    const j = await create(job('resumed', { completions: 2, suspend: true }));
    // Two pods that finished: one already recorded (its finalizer gone, not yet counted), one not yet seen.
    const podOf = (n: number, finalizers: string[]) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `resumed-${n}`,
        namespace: 'default',
        labels: j.spec.template.metadata?.labels,
        finalizers,
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'resumed', uid: j.metadata.uid!, controller: true }],
      },
      spec: { restartPolicy: 'Never', containers: [{ name: 'work', image: 'busybox:1.36' }] },
      status: { phase: 'Succeeded' },
    });
    const a = await sim.store.create('pods', podOf(0, []));
    await sim.store.create('pods', podOf(1, [TRACKING_FINALIZER]));
    await guaranteedUpdate(sim.store, 'jobs.batch', 'default', 'resumed', (cur) => ({
      ...cur,
      status: { ...(cur.status as object), uncountedTerminatedPods: { succeeded: [a.metadata.uid!] } },
    }));
    const controller = new JobController(sim.store);
    for (let i = 0; i < 3; i++) await controller.reconcile('default/resumed');
    const counted = await read('resumed');
    expect(counted.status?.succeeded).toBe(2);
    expect(counted.status?.uncountedTerminatedPods ?? {}).toEqual({});
    expect((await podsOf('resumed')).every((p) => !(p.metadata.finalizers ?? []).length)).toBe(true);
    await sim.registry.delete(JOBS, 'default', 'resumed', { propagationPolicy: 'Background' });
  });

  it('writes completed indexes as Kubernetes does', () => {
    expect(formatIndexes([5, 0, 1, 2, 7, 8])).toBe('0-2,5,7-8');
    expect([...parseIndexes('0-2,5,7-8')]).toEqual([0, 1, 2, 5, 7, 8]);
    expect(formatIndexes([])).toBe('');
  });
});

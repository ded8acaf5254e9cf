/**
 * Jobs at scale (issue 15): 10,000 single-pod Jobs on 1,000 `sim` nodes, from the first create to
 * every Job Complete, and the Job controller's work per Job (reconciles, and the writes of Jobs and
 * their pods); side by side in the same run, Deployments holding the same number of pods, to
 * every pod Running. Each on a fresh cluster of the simulation shape (a SQLite file, the
 * in-process change feed, the controllers of `skiff up`); sim pods of a Job exit 0 at once.
 *
 *   npx tsx bench/jobs/run.ts [--jobs 10000] [--nodes 1000] [--no-write]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane } from '../../shared/control-plane.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { Store } from '../../shared/store/types.js';
import { machineInfo, machineMarkdown, markdownTable, round, writeResults } from '../support/report.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const JOBS = arg('jobs', 10_000);
const NODES = arg('nodes', 1000);
const TIMEOUT_S = arg('timeout', 900);
const WRITE = !process.argv.includes('--no-write');
const REPLICAS = 100;

interface Phase {
  seconds: number;
  done: boolean;
  /** Store writes seen, by resource. */
  writes: Record<string, number>;
  reconciles: number;
}

/** A fresh cluster: `create` makes the objects, `finished` says when they are all done. */
async function phase(
  name: string,
  create: (registry: Registry) => Promise<void>,
  finished: (store: Store) => Promise<boolean>,
  controller: string,
): Promise<Phase> {
  const dir = mkdtempSync(join(tmpdir(), `skiff-bench-${name}-`));
  const store = openSqliteStore({ path: join(dir, 'skiff.db') });
  const registry = new Registry(store);
  await registry.ensureSystemNamespaces();
  const cloud = new SimCloudProvider(store, { leaseIntervalMs: 10_000 });
  for (let i = 0; i < NODES; i++) await cloud.create({ name: `node-${i}`, instanceType: 'sim.large', zone: ['sim-a', 'sim-b', 'sim-c'][i % 3] });
  const plane = await startControlPlane({ store, log: () => undefined });
  let reconciles = 0;
  const counted = plane.controllers.find((c) => c.name === controller)!;
  const reconcile = counted.reconcile.bind(counted);
  counted.reconcile = (key) => {
    reconciles++;
    return reconcile(key);
  };
  const writes: Record<string, number> = {};
  const sub = store.subscribe((events) => {
    for (const e of events) writes[e.resource] = (writes[e.resource] ?? 0) + 1;
  });
  const start = performance.now();
  await create(registry);
  let done = false;
  while (!done && performance.now() - start < TIMEOUT_S * 1000) {
    await new Promise((r) => setTimeout(r, 250));
    done = await finished(store);
  }
  const seconds = (performance.now() - start) / 1000;
  sub.close();
  await plane.stop();
  await cloud.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`${name}: ${done ? 'done' : 'NOT done'} in ${round(seconds, 1)} s, ${reconciles} ${controller} reconciles, writes ${JSON.stringify(writes)}`);
  return { seconds, done, writes, reconciles };
}

const template = (labels: Record<string, string>, restartPolicy: string) => ({
  metadata: { labels },
  spec: { restartPolicy, containers: [{ name: 'c', image: 'app:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
});

async function main() {
  const machine = machineInfo();
  console.log(machineMarkdown(machine));
  const jobs = findResource('batch', 'v1', 'jobs')!;
  const deployments = findResource('apps', 'v1', 'deployments')!;
  const job = await phase(
    'jobs',
    async (registry) => {
      for (let i = 0; i < JOBS; i++)
        await registry.create(jobs, 'default', { metadata: { name: `job-${i}` }, spec: { template: template({ batch: 'yes' }, 'Never') } });
    },
    async (store) =>
      (await store.list('jobs.batch', { namespace: 'default' })).items.filter((j) =>
        ((j.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some(
          (c) => c.type === 'Complete' && c.status === 'True',
        ),
      ).length === JOBS,
    'job',
  );
  const deploymentCount = Math.ceil(JOBS / REPLICAS);
  const deployment = await phase(
    'deployments',
    async (registry) => {
      for (let d = 0; d < deploymentCount; d++)
        await registry.create(deployments, 'default', {
          metadata: { name: `app-${d}` },
          spec: { replicas: REPLICAS, selector: { matchLabels: { app: `app-${d}` } }, template: template({ app: `app-${d}` }, 'Always') },
        });
    },
    async (store) =>
      (await store.list('pods', { namespace: 'default' })).items.filter((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running').length >=
      deploymentCount * REPLICAS,
    'replicaset',
  );
  const per = (n: number) => round(n / JOBS, 2);
  const table = markdownTable(
    ['figure', `${JOBS} single-pod Jobs`, `${deploymentCount} Deployments x ${REPLICAS} replicas`],
    [
      [
        'first create to all done',
        job.done ? `${round(job.seconds, 1)} s` : 'not reached',
        deployment.done ? `${round(deployment.seconds, 1)} s` : 'not reached',
      ],
      ['pods/s', round(JOBS / job.seconds, 0), round((deploymentCount * REPLICAS) / deployment.seconds, 0)],
      ['controller reconciles per pod', per(job.reconciles), per(deployment.reconciles)],
      [
        'writes of the workload objects per pod',
        per(job.writes['jobs.batch'] ?? 0),
        per((deployment.writes['deployments.apps'] ?? 0) + (deployment.writes['replicasets.apps'] ?? 0)),
      ],
      ['writes of pods per pod', per(job.writes.pods ?? 0), per(deployment.writes.pods ?? 0)],
      ['ratio of times (Jobs / Deployments)', round(job.seconds / deployment.seconds, 2), ''],
    ],
  );
  console.log(`\n${table}`);
  if (WRITE)
    writeResults(
      `jobs-${JOBS}`,
      { machine, jobs: JOBS, nodes: NODES, job, deployment },
      [
        '# Jobs benchmark',
        '',
        machineMarkdown(machine),
        '',
        `Simulation shape, a fresh cluster each (a SQLite file, the in-process change feed, the controllers of \`skiff up\`, ${NODES} \`sim\` nodes whose pods run at once; a Job's pod exits 0 at once). Done means every Job Complete (its pod Succeeded, counted, its finalizer gone), or every Deployment pod Running. The two runs are one after the other in one process.`,
        '',
        table,
      ].join('\n'),
    );
  process.exit(job.done && deployment.done ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

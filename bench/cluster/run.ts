/**
 * Whole-cluster benchmark (issue 4): Deployments on simulated nodes, from the first create to
 * every pod Running and every Deployment Available, on the simulation shape (SQLite in memory,
 * in-process change feed, `sim` nodes). Prints pods/s over time and create-to-Running latency.
 *
 *   npx tsx bench/cluster/run.ts [--deployments 1500] [--replicas 100] [--nodes 5000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane } from '../../shared/control-plane.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import { machineInfo, machineMarkdown, markdownTable, median, percentile, round, writeResults } from '../support/report.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const DEPLOYMENTS = arg('deployments', 1500);
const REPLICAS = arg('replicas', 100);
const NODES = arg('nodes', 5000);
const TIMEOUT_S = arg('timeout', 600);
const TOTAL = DEPLOYMENTS * REPLICAS;
/** Whole runs, each in a fresh process, one after the other; the report gives their median. */
const RUNS = arg('runs', 1);
const WRITE = !process.argv.includes('--no-write');

async function main() {
  const machine = machineInfo();
  console.log(machineMarkdown(machine));
  console.log(`${DEPLOYMENTS} Deployments x ${REPLICAS} replicas = ${TOTAL} pods on ${NODES} sim nodes`);
  // A SQLite file, as `skiff up` keeps it: the change log lives on disk, not in the heap.
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-cluster-'));
  const store = openSqliteStore({ path: join(dir, 'skiff.db') });
  const registry = new Registry(store);
  await registry.ensureSystemNamespaces();
  // Leases renewed every 10 s, as kubelets do: at 5,000 nodes that is 500 writes/s of background load.
  const cloud = new SimCloudProvider(store, { leaseIntervalMs: 10_000 });
  for (let i = 0; i < NODES; i++) await cloud.create({ name: `node-${i}`, instanceType: 'sim.large', zone: ['sim-a', 'sim-b', 'sim-c'][i % 3] });
  const errors = new Map<string, number>();
  const plane = await startControlPlane({
    store,
    log: (line) => {
      const kind = line.replace(/[a-z0-9-]+\/[a-z0-9-]+/g, '<key>').replace(/\d+/g, 'N');
      errors.set(kind, (errors.get(kind) ?? 0) + 1);
    },
  });

  const createdAt = new Map<string, number>();
  const latencies: number[] = [];
  let running = 0;
  let peakRss = 0;
  const sub = store.subscribe((events) => {
    for (const e of events) {
      if (e.resource !== 'pods') continue;
      const uid = e.object.metadata.uid!;
      if (e.type === 'ADDED') createdAt.set(uid, performance.now());
      else if (
        e.type === 'MODIFIED' &&
        (e.object.status as { phase?: string })?.phase === 'Running' &&
        (e.prevObject?.status as { phase?: string })?.phase !== 'Running'
      ) {
        running++;
        const t = createdAt.get(uid);
        if (t !== undefined) latencies.push(performance.now() - t);
      }
    }
  });
  const deployments = findResource('apps', 'v1', 'deployments')!;
  const start = performance.now();
  const timeline: { second: number; running: number; podsPerSec: number }[] = [];
  let last = 0;
  const ticker = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const second = Math.round((performance.now() - start) / 1000);
    if (second > (timeline.at(-1)?.second ?? 0)) {
      timeline.push({ second, running, podsPerSec: running - last });
      console.log(
        `  ${String(second).padStart(4)} s  ${String(running).padStart(7)} running  (+${running - last}/s)  rss ${round(process.memoryUsage().rss / 2 ** 30, 2)} GiB`,
      );
      last = running;
    }
  }, 250);
  for (let d = 0; d < DEPLOYMENTS; d++) {
    await registry.create(deployments, 'default', {
      metadata: { name: `app-${d}` },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: { app: `app-${d}` } },
        template: {
          metadata: { labels: { app: `app-${d}` } },
          spec: { containers: [{ name: 'c', image: 'app:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
        },
      },
    });
  }
  const deadline = start + TIMEOUT_S * 1000;
  let available = 0;
  while (performance.now() < deadline) {
    if (running >= TOTAL) {
      available = (await store.list('deployments.apps', { namespace: 'default' })).items.filter(
        (d) => (d.status as { availableReplicas?: number } | undefined)?.availableReplicas === REPLICAS,
      ).length;
      if (available === DEPLOYMENTS) break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (performance.now() - start) / 1000;
  clearInterval(ticker);
  sub.close();
  const done = running >= TOTAL && available === DEPLOYMENTS;
  const table = markdownTable(
    ['figure', 'value'],
    [
      ['pods', TOTAL],
      ['nodes', NODES],
      [
        'first create to all Running and Available',
        done ? `${round(seconds, 1)} s` : `not reached in ${TIMEOUT_S} s (${running} running, ${available} available)`,
      ],
      ['pods/s overall', round(running / seconds, 0)],
      ['create-to-Running p50 / p99', `${round(percentile(latencies, 50) / 1000, 2)} s / ${round(percentile(latencies, 99) / 1000, 2)} s`],
      ['peak RSS', `${round(peakRss / 2 ** 30, 2)} GiB`],
    ],
  );
  console.log(`\n${table}`);
  if (errors.size) console.log('controller errors (retried):', Object.fromEntries(errors));
  console.log(
    `RESULT ${JSON.stringify({ seconds, done, peakRss, latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99), timeline })}`,
  );
  if (WRITE)
    writeResults(
      `cluster-${TOTAL}`,
      {
        machine,
        deployments: DEPLOYMENTS,
        replicas: REPLICAS,
        nodes: NODES,
        seconds,
        done,
        running,
        available,
        peakRss,
        latencyP50Ms: percentile(latencies, 50),
        latencyP99Ms: percentile(latencies, 99),
        timeline,
      },
      [
        '# Cluster benchmark',
        '',
        machineMarkdown(machine),
        '',
        `Simulation shape: a SQLite file, the in-process change feed, the controllers of \`skiff up\`, and ${NODES} \`sim\` nodes whose kubelets run a bound pod at once. ${DEPLOYMENTS} Deployments of ${REPLICAS} replicas created through the API's registry.`,
        '',
        table,
        '',
        `Pods Running per second over time: ${timeline.map((t) => `${t.second}s:${t.podsPerSec}`).join(' ')}`,
      ].join('\n'),
    );
  await plane.stop();
  await cloud.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

interface RunResult {
  timeline: { second: number; podsPerSec: number }[];
  seconds: number;
  done: boolean;
  peakRss: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

/** `--runs N`: N fresh processes in turn, then the median of each figure. */
async function multi(): Promise<void> {
  const machine = machineInfo();
  const runs: RunResult[] = [];
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--runs' && all[i - 1] !== '--runs');
  for (let i = 0; i < RUNS; i++) {
    console.log(`run ${i + 1} of ${RUNS}`);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args, '--no-write'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout.on('data', (d) => {
        text += String(d);
        process.stdout.write(d);
      });
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`run ${i + 1} exited ${code}`))));
    });
    runs.push(JSON.parse(/^RESULT (.*)$/m.exec(out)![1]) as RunResult);
  }
  const med = (f: (r: RunResult) => number) => median(runs.map(f));
  const table = markdownTable(
    ['figure', `median of ${RUNS} runs`, 'each run'],
    [
      ['pods', TOTAL, ''],
      ['nodes', NODES, ''],
      [
        'first create to all Running and Available',
        `${round(
          med((r) => r.seconds),
          1,
        )} s`,
        runs.map((r) => (r.done ? `${round(r.seconds, 1)} s` : 'not reached')).join(', '),
      ],
      ['pods/s overall', round(TOTAL / med((r) => r.seconds), 0), runs.map((r) => round(TOTAL / r.seconds, 0)).join(', ')],
      [
        'create-to-Running p50 / p99',
        `${round(med((r) => r.latencyP50Ms) / 1000, 2)} s / ${round(med((r) => r.latencyP99Ms) / 1000, 2)} s`,
        `${runs.map((r) => `${round(r.latencyP99Ms / 1000, 2)} s`).join(', ')} (p99)`,
      ],
      ['peak RSS', `${round(med((r) => r.peakRss) / 2 ** 30, 2)} GiB`, runs.map((r) => `${round(r.peakRss / 2 ** 30, 2)} GiB`).join(', ')],
    ],
  );
  console.log(`\n${table}`);
  writeResults(
    `cluster-${TOTAL}`,
    { machine, deployments: DEPLOYMENTS, replicas: REPLICAS, nodes: NODES, runs },
    [
      '# Cluster benchmark',
      '',
      machineMarkdown(machine),
      '',
      `Simulation shape: a SQLite file (as \`skiff up\` keeps it), the in-process change feed, the controllers of \`skiff up\`, and ${NODES} \`sim\` nodes whose kubelets renew their Leases every 10 s and run a bound pod at once. ${DEPLOYMENTS} Deployments of ${REPLICAS} replicas created through the API's registry. ${RUNS} runs, one after the other, each in a fresh process.`,
      '',
      table,
      '',
      `Pods Running per second over time, in the median run: ${[...runs]
        .sort((a, b) => a.seconds - b.seconds)
        [Math.floor(runs.length / 2)].timeline.map((t) => `${t.second}s:${t.podsPerSec}`)
        .join(' ')}`,
    ].join('\n'),
  );
}

(RUNS > 1 ? multi().then(() => process.exit(0)) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * API benchmark (issue 3): p50/p99 latency and throughput of create, get, list (1,000 pods)
 * and patch at 1, 16 and 64 concurrent clients, with autocannon on loopback against the
 * embedded shape in another process; then watch fan-out, 100 watchers each receiving 10,000
 * events, with delivery latency from the write being issued.
 *
 * Lists are asked for as plain JSON and, as kubectl and client-go ask, with
 * `Accept-Encoding: gzip`. With `--baseline DIR` (a checkout of an older commit, with
 * node_modules), every row is also run against that commit's server, side by side in the same
 * run: both servers up at once, each row's runs interleaved. A baseline can be made with
 * `git archive <commit> | tar -x -C DIR && echo <commit> > DIR/COMMIT && ln -s $PWD/node_modules DIR/`.
 *
 *   npx tsx bench/api/run.ts [--quick] [--baseline DIR] [--only CALL]
 */
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchServer, type BenchServer, type Target } from '../support/server.js';
import { machineInfo, machineMarkdown, markdownTable, median, percentile, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));
const DURATION = quick ? 2 : 3;
/** Each row is run this many times; the figures reported are the medians. */
const REPEATS = quick ? 1 : 3;
const CONCURRENCY = [1, 16, 64];
const WATCHERS = quick ? 20 : 100;
const WATCH_EVENTS = quick ? 1000 : 10_000;

function call(t: Target, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      t.url + path,
      {
        method,
        ca: t.ca,
        headers: { authorization: `Bearer ${t.token}`, 'content-type': contentType, ...(data ? { 'content-length': String(Buffer.byteLength(data)) } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const onlyAt = process.argv.indexOf('--only');
/** Rows whose call starts with this (`--only patch`); the watch fan-out runs only without it. */
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
const baselineAt = process.argv.indexOf('--baseline');
const baselineDir = baselineAt > 0 ? process.argv[baselineAt + 1] : undefined;

/** The bench server of this checkout, or of another one (its bench/api/server.ts). */
function startServer(checkout?: string): Promise<BenchServer> {
  return startBenchServer(checkout ? join(checkout, 'bench', 'api', 'server.ts') : join(here, 'server.ts'), { cwd: checkout });
}

interface Scenario {
  name: string;
  single: boolean;
  request: (t: Target, counter: () => number) => autocannon.Request;
}

const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'bench' } },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
});

const scenarios: Scenario[] = [
  {
    name: 'create',
    single: true,
    request: (_t, counter) => ({
      method: 'POST',
      path: '/api/v1/namespaces/bench/configmaps',
      setupRequest: (req: autocannon.Request) => ({ ...req, body: JSON.stringify({ metadata: { name: `cm-${counter()}` }, data: { key: 'value' } }) }),
    }),
  },
  { name: 'get', single: true, request: () => ({ method: 'GET', path: '/api/v1/namespaces/bench/configmaps/target-0' }) },
  {
    name: 'patch',
    single: true,
    request: (_t, counter) => ({
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      setupRequest: (req: autocannon.Request) => {
        const n = counter();
        return { ...req, path: `/api/v1/namespaces/bench/configmaps/target-${n % 64}`, body: JSON.stringify({ data: { n: String(n) } }) };
      },
    }),
  },
  { name: 'list 1,000 pods', single: false, request: () => ({ method: 'GET', path: '/api/v1/namespaces/bench/pods' }) },
  {
    name: 'list 1,000 pods, gzip',
    single: false,
    request: () => ({ method: 'GET', path: '/api/v1/namespaces/bench/pods', headers: { 'accept-encoding': 'gzip' } }),
  },
];

/** One counter for the whole run, so names created by different rows never collide. */
let n = 0;
const counter = () => n++;

async function runScenario(t: Target, scenario: Scenario, connections: number) {
  const base = scenario.request(t, counter);
  const result = await autocannon({
    url: t.url,
    connections,
    duration: DURATION,
    headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json', accept: 'application/json' },
    requests: [base],
  });
  const ok = result['2xx'];
  const bad = result.non2xx + result.errors + result.timeouts;
  return { scenario: scenario.name, connections, p50: result.latency.p50, p99: result.latency.p99, reqPerSec: round(result.requests.average, 0), ok, bad };
}

async function watchFanOut(t: Target) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let received = 0;
  const streams: { close: () => void }[] = [];
  const rv = JSON.parse((await call(t, 'GET', '/api/v1/namespaces/fanout/configmaps')).text).metadata.resourceVersion;
  await Promise.all(
    Array.from(
      { length: WATCHERS },
      () =>
        new Promise<void>((resolve, reject) => {
          const req = request(
            `${t.url}/api/v1/namespaces/fanout/configmaps?watch=1&resourceVersion=${rv}`,
            { ca: t.ca, headers: { authorization: `Bearer ${t.token}` } },
            (res) => {
              let buffer = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                buffer += chunk;
                let nl: number;
                while ((nl = buffer.indexOf('\n')) >= 0) {
                  const line = buffer.slice(0, nl);
                  buffer = buffer.slice(nl + 1);
                  const name = /"name":"(ev-\d+)"/.exec(line)?.[1];
                  if (name) {
                    latencies.push(performance.now() - sentAt.get(name)!);
                    received++;
                  }
                }
              });
              resolve();
            },
          );
          req.on('error', reject);
          req.end();
          streams.push({ close: () => req.destroy() });
        }),
    ),
  );
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < WATCH_EVENTS; i = next++) {
        const name = `ev-${i}`;
        sentAt.set(name, performance.now());
        const r = await call(t, 'POST', '/api/v1/namespaces/fanout/configmaps', { metadata: { name }, data: { i: String(i) } });
        if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`);
      }
    }),
  );
  const expected = WATCHERS * WATCH_EVENTS;
  const deadline = performance.now() + 120_000;
  while (received < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - start) / 1000;
  for (const s of streams) s.close();
  return {
    watchers: WATCHERS,
    eventsEach: WATCH_EVENTS,
    delivered: received,
    expected,
    deliveriesPerSec: round(received / seconds, 0),
    p50: round(percentile(latencies, 50), 1),
    p99: round(percentile(latencies, 99), 1),
  };
}

async function seed(target: Target): Promise<void> {
  await call(target, 'POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
  await call(target, 'POST', '/api/v1/namespaces', { metadata: { name: 'fanout' } });
  for (let i = 0; i < 64; i++) await call(target, 'POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: `target-${i}` }, data: { n: '0' } });
  for (let i = 0; i < 1000; i += 50)
    await Promise.all(Array.from({ length: 50 }, (_, j) => call(target, 'POST', '/api/v1/namespaces/bench/pods', pod(`pod-${i + j}`))));
}

type Row = Awaited<ReturnType<typeof runScenario>> & { server: string };

function summarize(runs: Awaited<ReturnType<typeof runScenario>>[], server: string): Row {
  const r = {
    ...runs[0],
    server,
    p50: median(runs.map((x) => x.p50)),
    p99: median(runs.map((x) => x.p99)),
    reqPerSec: median(runs.map((x) => x.reqPerSec)),
    ok: runs.reduce((a, x) => a + x.ok, 0),
    bad: runs.reduce((a, x) => a + x.bad, 0),
  };
  console.log(
    `  ${server.padEnd(10)} ${r.scenario.padEnd(22)} ${String(r.connections).padStart(3)} clients  p50 ${r.p50} ms  p99 ${r.p99} ms  ${r.reqPerSec} req/s  (${r.ok} ok, ${r.bad} failed)`,
  );
  return r;
}

/**
 * One row on every server given: their runs interleaved (baseline, this, baseline, this ...),
 * so a burst of noise on the machine falls on both alike.
 */
async function measure(servers: { name: string; target: Target }[], scenario: Scenario, connections: number): Promise<Row[]> {
  const runs = servers.map(() => [] as Awaited<ReturnType<typeof runScenario>>[]);
  for (let i = 0; i < REPEATS; i++) for (const [k, s] of servers.entries()) runs[k].push(await runScenario(s.target, scenario, connections));
  return servers.map((s, k) => summarize(runs[k], s.name));
}

async function main() {
  const machine = machineInfo();
  console.log(machineMarkdown(machine));
  // With a baseline, both servers run at once and every row is measured on both, interleaved.
  const baseline = baselineDir ? await startServer(baselineDir) : undefined;
  const { target, stop } = await startServer();
  try {
    if (baseline) await seed(baseline.target);
    await seed(target);
    const servers = [...(baseline ? [{ name: 'baseline', target: baseline.target }] : []), { name: 'this', target }];
    const before: Row[] = [];
    const rows: Row[] = [];
    for (const scenario of scenarios.filter((x) => !only || x.name.startsWith(only))) {
      for (const connections of CONCURRENCY) {
        const measured = await measure(servers, scenario, connections);
        rows.push(measured.at(-1)!);
        if (baseline) before.push(measured[0]);
      }
    }
    await baseline?.stop();
    // A look at some rows: printed, not written over the results.
    if (only) return;
    console.log(`  watch fan-out: ${WATCHERS} watchers x ${WATCH_EVENTS} events ...`);
    const fanOut = await watchFanOut(target);
    console.log(
      `  watch fan-out: delivered ${fanOut.delivered}/${fanOut.expected}, ${fanOut.deliveriesPerSec} deliveries/s, p50 ${fanOut.p50} ms, p99 ${fanOut.p99} ms`,
    );
    const writes64 = rows.find((r) => r.scenario === 'create' && r.connections === 64)!.reqPerSec;
    const worstSingleP99 = Math.max(...rows.filter((r) => r.connections === 64 && scenarios.find((s) => s.name === r.scenario)!.single).map((r) => r.p99));
    const table = markdownTable(
      ['call', 'clients', 'p50 ms', 'p99 ms', 'req/s', 'ok', 'failed'],
      rows.map((r) => [r.scenario, r.connections, r.p50, r.p99, r.reqPerSec, r.ok, r.bad]),
    );
    const beforeAfter = before.map((b) => {
      const a = rows.find((r) => r.scenario === b.scenario && r.connections === b.connections)!;
      return [b.scenario, b.connections, b.p99, a.p99, b.reqPerSec, a.reqPerSec, `${round(a.reqPerSec / b.reqPerSec, 1)}x`];
    });
    const comparison = before.length
      ? [
          '',
          `Side by side in this run: the baseline is commit ${baselineCommit()}, its own server running beside this one on the same machine, each row's runs interleaved (baseline, this, baseline, ...).`,
          '',
          markdownTable(['call', 'clients', 'p99 ms before', 'p99 ms now', 'req/s before', 'req/s now', 'ratio'], beforeAfter),
        ]
      : [];
    const markdown = [
      '# API benchmark',
      '',
      machineMarkdown(machine),
      '',
      `autocannon on loopback, each row the median of ${REPEATS} runs of ${DURATION} s, against the embedded shape (HTTPS, bearer token, SQLite with durable commits) running in its own process.`,
      '',
      table,
      '',
      `Single-object calls at 64 clients: worst p99 ${worstSingleP99} ms (target < 20 ms). Creates at 64 clients: ${writes64} writes/s (target >= 3,000).`,
      '',
      `Watch fan-out: ${fanOut.watchers} watchers x ${fanOut.eventsEach} events: delivered ${fanOut.delivered}/${fanOut.expected}, ${fanOut.deliveriesPerSec} deliveries/s, latency from write issued p50 ${fanOut.p50} ms, p99 ${fanOut.p99} ms (target p99 < 50 ms).`,
      ...comparison,
    ].join('\n');
    writeResults(
      'api',
      { machine, durationSeconds: DURATION, rows, before, fanOut, targets: { singleP99At64Ms: worstSingleP99, writesPerSecAt64: writes64 } },
      markdown,
    );
  } finally {
    await baseline?.stop();
    await stop();
  }
}

/** The baseline's commit: its git HEAD, or a COMMIT file beside its code (a `git archive` of it). */
function baselineCommit(): string {
  try {
    return execFileSync('git', ['-C', baselineDir!, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    const file = join(baselineDir!, 'COMMIT');
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : baselineDir!;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

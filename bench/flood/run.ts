/**
 * Flood benchmark (issue 9): one request that asks for a great many pods must not take the
 * control plane down. A ReplicaSet of N replicas on a two-node cluster; then its deletion
 * (the garbage collector removes its pods); then N bare pods removed by one deletecollection.
 * Throughout, /healthz is asked every 20 ms; its p50/p99 are reported per phase.
 *
 *   npx tsx bench/flood/run.ts [--pods 10000]
 */
import { Agent, request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchServer, type BenchServer, type Target } from '../support/server.js';
import { machineInfo, machineMarkdown, markdownTable, percentile, round, writeResults } from '../support/report.js';

const here = dirname(fileURLToPath(import.meta.url));
const argIndex = process.argv.indexOf('--pods');
const N = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 10_000;
/** Each phase gives up after this long (the figure then says so). */
const PHASE_LIMIT_MS = 300_000;

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/** One request; a kept-alive connection the server closed meanwhile is retried once. */
async function call(t: Target, method: string, path: string, body?: unknown, timeoutMs = PHASE_LIMIT_MS): Promise<{ status: number; text: string }> {
  try {
    return await callOnce(t, method, path, body, timeoutMs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
    return callOnce(t, method, path, body, timeoutMs);
  }
}

function callOnce(t: Target, method: string, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = {
      authorization: `Bearer ${t.token}`,
      'content-type': 'application/json',
      ...(data ? { 'content-length': String(Buffer.byteLength(data)) } : {}),
    };
    const req = request(t.url + path, { method, ca: t.ca, agent, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

function startServer(): Promise<BenchServer> {
  // FLOOD_PROFILE=<dir> writes a CPU profile of the server there.
  const nodeArgs = process.env.FLOOD_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.FLOOD_PROFILE] : [];
  return startBenchServer(join(here, 'server.ts'), { nodeArgs });
}

/** Asks /healthz every 20 ms on its own connection; `take()` returns the latencies since the last take. */
function healthProbe(t: Target) {
  const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  let samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        const req = request(`${t.url}/healthz`, { ca: t.ca, agent: probeAgent }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', () => resolve());
        req.end();
      });
      samples.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    take(): number[] {
      const out = samples;
      samples = [];
      return out;
    },
    async stop() {
      running = false;
      await loop;
      probeAgent.destroy();
    },
  };
}

async function podCount(t: Target): Promise<number> {
  const list = JSON.parse((await call(t, 'GET', '/api/v1/namespaces/default/pods?limit=1')).text) as {
    items: unknown[];
    metadata: { remainingItemCount?: number };
  };
  return list.items.length + (list.metadata.remainingItemCount ?? 0);
}

/** Polls until `done` or the phase limit; the elapsed ms, or undefined on giving up. */
async function timeUntil(done: () => Promise<boolean>, started = performance.now()): Promise<number | undefined> {
  while (performance.now() - started < PHASE_LIMIT_MS) {
    if (await done()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}

const replicaSet = (replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name: 'flood' },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'flood' } },
    template: { metadata: { labels: { app: 'flood' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
  },
});

const { target, stop } = await startServer();
const health = healthProbe(target);
const rows: { phase: string; seconds?: number; healthP50: number | string; healthP99: number | string; healthMax: number | string }[] = [];
const record = (phase: string, ms: number | undefined) => {
  const h = health.take();
  // A phase shorter than one probe has no samples of its own.
  const stat = (value: number) => (h.length ? round(value, 1) : '-');
  const row = {
    phase,
    seconds: ms === undefined ? undefined : round(ms / 1000, 2),
    healthP50: stat(percentile(h, 50)),
    healthP99: stat(percentile(h, 99)),
    healthMax: stat(Math.max(...h)),
  };
  rows.push(row);
  console.log(
    `${phase}: ${row.seconds ?? `gave up after ${PHASE_LIMIT_MS / 1000}`} s, /healthz p50 ${row.healthP50} ms, p99 ${row.healthP99} ms, max ${row.healthMax} ms`,
  );
};
try {
  health.take();
  let started = performance.now();
  await call(target, 'POST', '/apis/apps/v1/namespaces/default/replicasets', replicaSet(N));
  record(`ReplicaSet of ${N}: all pods created`, await timeUntil(async () => (await podCount(target)) >= N, started));

  started = performance.now();
  await call(target, 'DELETE', '/apis/apps/v1/namespaces/default/replicasets/flood');
  record(`ReplicaSet deleted: all ${N} pods gone`, await timeUntil(async () => (await podCount(target)) === 0, started));

  for (let i = 0; i < N; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, N - i) }, (_, j) =>
        call(target, 'POST', '/api/v1/namespaces/default/pods', {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `bare-${i + j}` },
          spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
        }),
      ),
    );
  }
  health.take();
  started = performance.now();
  const answer = await call(target, 'DELETE', '/api/v1/namespaces/default/pods');
  const returned = performance.now() - started;
  record(`deletecollection of ${N} pods: answered (${answer.status})`, returned);
  record(`deletecollection of ${N} pods: all gone`, await timeUntil(async () => (await podCount(target)) === 0, started));
} finally {
  await health.stop();
  agent.destroy();
  await stop();
}

const machine = machineInfo();
writeResults(
  `flood-${N}`,
  { machine, pods: N, rows },
  [
    `# Flood: ${N} pods from one request`,
    '',
    machineMarkdown(machine),
    '',
    'A ReplicaSet of N replicas on a two-node sim cluster (220 pod slots), its deletion, then N bare pods and one deletecollection. /healthz asked every 20 ms throughout (its own connection).',
    '',
    markdownTable(
      ['phase', 'seconds', '/healthz p50 ms', 'p99 ms', 'max ms'],
      rows.map((r) => [r.phase, r.seconds ?? `> ${PHASE_LIMIT_MS / 1000}`, r.healthP50, r.healthP99, r.healthMax]),
    ),
  ].join('\n'),
);

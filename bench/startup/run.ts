/**
 * Startup benchmark (issue 5), for each runtime: `npm start` to a usable API; pod startup
 * latency (create to Running and Ready, as a watch sees it) for 100 pods over 3 local nodes,
 * created at 20 pods/s; and the idle memory and CPU of the control plane and of one kubelet,
 * with no pods and with the 100 pods running. The docker runtime runs on a private engine with
 * the busybox image imported (present, as the target assumes).
 *
 *   npx tsx bench/startup/run.ts [--pods 100] [--runs process@20,docker@20,docker@5]
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ApiClient } from '../../kubelet/api-client.js';
import { DockerRuntime } from '../../kubelet/runtime/docker.js';
import { BUSYBOX_IMAGE, importBusyboxImage, startDockerEngine, type DockerEngine } from '../../emulators/docker-engine.js';
import { machineInfo, machineMarkdown, markdownTable, percentile, round, writeResults } from '../support/report.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const PODS = Number(arg('pods', '100'));
/** runtime@rate pairs: pods per second each run creates. */
const RUNS = arg('runs', 'process@20,docker@20,docker@10,docker@5')
  .split(',')
  .map((r) => {
    const [runtime, rate] = r.split('@');
    return { runtime: runtime as 'process' | 'docker', rate: Number(rate ?? 20) };
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  runtime: string;
  rate: number;
  /** Docker only: 20 containers started at once straight through the Engine API, per second. */
  engineStartsPerSec?: number;
  startToApiMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  idle: Usage;
  loaded: Usage;
}
interface Usage {
  planeRssMiB: number;
  planeCpuPct: number;
  kubeletRssMiB: number;
  kubeletCpuPct: number;
}

const ticks = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
};
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Memory now, and CPU used over `ms`, of both processes. */
async function usage(planePid: number, kubeletPid: number, ms = 10_000): Promise<Usage> {
  const [p0, k0] = [ticks(planePid), ticks(kubeletPid)];
  await sleep(ms);
  const [p1, k1] = [ticks(planePid), ticks(kubeletPid)];
  return {
    planeRssMiB: round(rssMiB(planePid), 0),
    planeCpuPct: round(((p1 - p0) / 100 / (ms / 1000)) * 100, 2),
    kubeletRssMiB: round(rssMiB(kubeletPid), 0),
    kubeletCpuPct: round(((k1 - k0) / 100 / (ms / 1000)) * 100, 2),
  };
}

async function run(runtime: 'process' | 'docker', rate: number): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), `skiff-bench-startup-${runtime}-`));
  let engine: DockerEngine | undefined;
  let engineStartsPerSec: number | undefined;
  if (runtime === 'docker') {
    engine = await startDockerEngine();
    importBusyboxImage(engine);
    // The engine's own pace on this machine, side by side: 20 starts at once, no kubelet.
    const raw = new DockerRuntime({ socketPath: engine.socketPath, node: 'bench-raw' });
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        raw.start({
          podUid: `raw-${i}`,
          podNamespace: 'bench',
          podName: `raw-${i}`,
          name: 'main',
          attempt: 0,
          image: BUSYBOX_IMAGE,
          command: ['sleep', '3600'],
          args: [],
          env: {},
        }),
      ),
    );
    engineStartsPerSec = round(20 / ((performance.now() - t0) / 1000), 1);
    for (const c of await raw.list()) {
      await raw.stop(c.id, 0);
      await raw.remove(c.id);
    }
  }
  const args = [
    'start',
    '--',
    '--data-dir',
    join(dir, 'data'),
    '--port',
    '0',
    '--nodes',
    '3',
    '--runtime',
    runtime,
    ...(engine ? ['--docker-socket', engine.socketPath] : []),
  ];
  const started = performance.now();
  const child: ChildProcess = spawn('npm', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const kubeconfigPath = join(dir, 'data', 'kubeconfig');
  let api: ApiClient | undefined;
  // Usable: an authenticated list answers. Polled from the moment `npm start` is run.
  while (!api) {
    if (child.exitCode !== null) throw new Error(`skiff up exited:\n${out}`);
    const m = /api\s+(https:\/\/\S+)/.exec(out);
    if (m && existsSync(kubeconfigPath)) {
      const config = parseYaml(readFileSync(kubeconfigPath, 'utf8')) as { users: { user: { token: string } }[] };
      const client = new ApiClient({ server: m[1], token: config.users[0].user.token, ca: readFileSync(join(dir, 'data', 'pki', 'ca.crt'), 'utf8') });
      try {
        await client.get('/api/v1/namespaces');
        api = client;
      } catch {
        client.close();
      }
    }
    if (!api) await sleep(10);
  }
  const startToApiMs = performance.now() - started;
  while (!/Skiff is up/.test(out)) await sleep(50);
  // npm, its shell and tsx's launcher match too: the process that does the work is the largest.
  const largest = (pattern: string) =>
    execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number)
      .sort((a, b) => rssMiB(b) - rssMiB(a))[0];
  const planePid = largest(`cli/skiff.ts up --data-dir ${join(dir, 'data')}`);
  const kubeletPid = largest(`kubelet/main.ts .*--data-dir ${join(dir, 'data', 'nodes', 'local-0')}`);
  await sleep(3000);
  const idle = await usage(planePid, kubeletPid);

  // Pod startup: a watch from now; each pod's create time is when its POST was sent.
  const list = await api.get<{ metadata: { resourceVersion: string } }>('/api/v1/namespaces/default/pods');
  const sent = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const abort = new AbortController();
  const watching = api.watch<{ metadata: { name: string }; status?: { phase?: string; conditions?: { type: string; status: string }[] } }>(
    `/api/v1/namespaces/default/pods?watch=true&resourceVersion=${list.metadata.resourceVersion}`,
    (e) => {
      const p = e.object;
      if (p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !readyAt.has(p.metadata.name))
        readyAt.set(p.metadata.name, performance.now());
    },
    abort.signal,
  );
  const image = runtime === 'docker' ? BUSYBOX_IMAGE : 'busybox';
  for (let i = 0; i < PODS; i++) {
    const name = `startup-${i}`;
    sent.set(name, performance.now());
    void api.request('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image, command: ['sleep', '3600'] }] },
    });
    await sleep(1000 / rate);
  }
  const deadline = performance.now() + 120_000;
  while (readyAt.size < PODS && performance.now() < deadline) await sleep(50);
  const latencies = [...sent].filter(([n]) => readyAt.has(n)).map(([n, t]) => readyAt.get(n)! - t);
  if (latencies.length < PODS) console.log(`only ${latencies.length} of ${PODS} pods became Ready in time`);
  await sleep(3000);
  const loaded = await usage(planePid, kubeletPid);
  abort.abort();
  await watching.catch(() => undefined);
  await api.request('DELETE', '/api/v1/namespaces/default/pods');
  const emptyBy = performance.now() + 60_000;
  while ((await api.get<{ items: unknown[] }>('/api/v1/namespaces/default/pods')).items.length > 0 && performance.now() < emptyBy) await sleep(200);
  api.close();
  const exited = child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
  return {
    runtime,
    rate,
    engineStartsPerSec,
    startToApiMs: round(startToApiMs, 0),
    p50Ms: round(percentile(latencies, 50), 0),
    p99Ms: round(percentile(latencies, 99), 0),
    maxMs: round(Math.max(...latencies), 0),
    idle,
    loaded,
  };
}

async function main() {
  const machine = machineInfo();
  console.log(machineMarkdown(machine));
  const results: Figures[] = [];
  for (const { runtime, rate } of RUNS) {
    console.log(`\n${runtime} runtime: npm start with 3 nodes, then ${PODS} pods at ${rate}/s`);
    const r = await run(runtime, rate);
    console.log(JSON.stringify(r));
    results.push(r);
  }
  const table = markdownTable(
    [
      'runtime',
      'pods created per second',
      'engine alone: starts/s',
      '`npm start` to usable API',
      'create to Running+Ready p50 / p99 / max',
      'control plane idle: RSS, CPU',
      'one kubelet idle: RSS, CPU',
      `control plane with ${PODS} pods: RSS, CPU`,
      `one kubelet with its pods: RSS, CPU`,
    ],
    results.map((r) => [
      r.runtime,
      r.rate,
      r.engineStartsPerSec ?? '',
      `${(r.startToApiMs / 1000).toFixed(2)} s`,
      `${r.p50Ms} / ${r.p99Ms} / ${r.maxMs} ms`,
      `${r.idle.planeRssMiB} MiB, ${r.idle.planeCpuPct}%`,
      `${r.idle.kubeletRssMiB} MiB, ${r.idle.kubeletCpuPct}%`,
      `${r.loaded.planeRssMiB} MiB, ${r.loaded.planeCpuPct}%`,
      `${r.loaded.kubeletRssMiB} MiB, ${r.loaded.kubeletCpuPct}%`,
    ]),
  );
  console.log(`\n${table}`);
  writeResults(
    'startup',
    { machine, pods: PODS, results },
    [
      '# Startup benchmark',
      '',
      machineMarkdown(machine),
      '',
      `\`npm start\` (skiff up, 3 local nodes) measured from the command to the first authenticated list that answers. Then ${PODS} pods (one \`sleep\` container each, image present) created at the given rate; latency from each POST to the watch event showing the pod Running and Ready. CPU is a percentage of one core over 10 s; "idle" is before any pod, "with pods" while the ${PODS} pods run.`,
      '',
      table,
      '',
      'Target: p99 under 1 s (the Kubernetes SLO is 5 s). "Engine alone" is how many containers per second the Docker engine starts on this machine with no kubelet involved (20 at once through its API), measured in the same run: pods created faster than that queue in the engine.',
    ].join('\n'),
  );
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

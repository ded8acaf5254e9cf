/**
 * Traffic through a Service (issue 14), side by side in one run on `skiff up` (two local
 * kubelets, process runtime): HTTP requests a second and latency straight to a pod and through
 * its Service's ClusterIP (the kubelets' node proxy), through skiff up's Ingress controller, and
 * through nginx from Debian's packages, with autocannon, rounds alternating; and the time from a
 * new pod turning Ready to its first request through the ClusterIP.
 *
 *   npx tsx bench/network/run.ts [--quick]
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { up } from '../../cli/up.js';
import { freePort } from '../../emulators/free-port.js';
import { nodeServers } from '../../test/support/manifests.js';
import { machineInfo, markdownTable, median, percentile, resultsPage, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const DURATION = quick ? 3 : 10;
const CONNECTIONS = 16;
const READY_SAMPLES = quick ? 3 : 10;

const SERVER = ['const name = process.env.POD_NAME;', 'require("http").createServer((q, s) => s.end(name)).listen(8080, process.env.POD_IP);'].join(' ');

const deployment = nodeServers('web', SERVER, { replicas: 1, grace: 2, readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } });

/** One GET's body (undefined on an error), with a Host header when given. */
function get(host: string, port: number, hostHeader?: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 2000, headers: hostHeader ? { host: hostHeader } : {} }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function load(url: string, headers: Record<string, string> = {}) {
  // In a worker thread: this process's own thread serves the API and the Ingress controller.
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers, workers: 1 });
  return { reqPerSec: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx };
}

/**
 * nginx from Debian's packages (installed when missing, as root), one worker, as a reverse proxy
 * to the pod with keep-alive to it: what the Ingress controller is measured against.
 */
function startNginx(dir: string, backend: string, port: number): ChildProcess | undefined {
  if (spawnSync('sh', ['-c', 'command -v nginx']).status !== 0) {
    if (process.getuid?.() !== 0) return undefined;
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-light'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (spawnSync('sh', ['-c', 'command -v nginx']).status !== 0) return undefined;
  }
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  upstream pod { server ${backend}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://pod; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  );
  return spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-network-'));
  const ingressPort = await freePort();
  const running = await up(
    {
      dataDir: join(dir, 'data'),
      port: 0,
      host: '127.0.0.1',
      nodes: 2,
      runtime: 'process',
      leaseIntervalMs: 2000,
      ingressPorts: { http: ingressPort, https: 0 },
    },
    () => undefined,
  );
  // Not execFileSync: the API answering kubectl runs in this process.
  const env = { ...process.env, KUBECONFIG: running.kubeconfigPath };
  const kubectl = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile('kubectl', args, { env }, (err, out, errOut) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${errOut}`)) : resolve(out.trim()))),
    );
  const wait = async (what: string, check: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + 120_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await new Promise<void>((resolve, reject) =>
      execFile('kubectl', ['apply', '-f', '-'], { env }, (err) => (err ? reject(err) : resolve())).stdin?.end(JSON.stringify(deployment)),
    );
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=120s');
    await kubectl('expose', 'deployment', 'web', '--port=80', '--target-port=8080');
    const clusterIP = await kubectl('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}');
    const podIP = await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].status.podIP}');
    const podName = await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}');
    await wait('the ClusterIP answering', async () => (await get(clusterIP, 80)) !== undefined);

    await kubectl('create', 'ingress', 'web', '--rule=bench.local/*=web:80');
    const host = { host: 'bench.local' };
    await wait('the Ingress answering', async () => (await get('127.0.0.1', ingressPort, host.host)) === podName);
    const nginxPort = await freePort();
    const nginx = startNginx(dir, `${podIP}:8080`, nginxPort);
    if (nginx) await wait('nginx answering', async () => (await get('127.0.0.1', nginxPort)) !== undefined);

    const direct: Awaited<ReturnType<typeof load>>[] = [];
    const proxied: Awaited<ReturnType<typeof load>>[] = [];
    const ingressed: Awaited<ReturnType<typeof load>>[] = [];
    const nginxed: Awaited<ReturnType<typeof load>>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      console.log(`round ${round + 1}/${ROUNDS}: straight to the pod, through the ClusterIP, through the Ingress, through nginx ...`);
      direct.push(await load(`http://${podIP}:8080/`));
      proxied.push(await load(`http://${clusterIP}/`));
      ingressed.push(await load(`http://127.0.0.1:${ingressPort}/`, host));
      if (nginx) nginxed.push(await load(`http://127.0.0.1:${nginxPort}/`));
    }
    nginx?.kill();

    // Ready to traffic: a second replica, then back to one, each time with a new pod. When a pod
    // turns Ready is seen on a watch (ms precision), while requests go to the ClusterIP every ms.
    const readyAt = new Map<string, number>();
    const token = await kubectl('config', 'view', '--raw', '-o', 'jsonpath={.users[0].user.token}');
    const ca = Buffer.from(await kubectl('config', 'view', '--raw', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority-data}'), 'base64');
    const watch = httpsGet(
      `${running.url}/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb`,
      { ca, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let pending = '';
        res.on('data', (chunk) => {
          pending += chunk;
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const event = JSON.parse(pending.slice(0, nl));
            pending = pending.slice(nl + 1);
            const pod = event.object;
            const ready = pod?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
            if (ready && !readyAt.has(pod.metadata.name)) readyAt.set(pod.metadata.name, performance.now());
          }
        });
      },
    );
    const pods = async () => (await kubectl('get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}')).split(' ').filter(Boolean);
    const delays: number[] = [];
    for (let i = 0; i < READY_SAMPLES; i++) {
      const before = new Set(await pods());
      await kubectl('scale', 'deployment/web', '--replicas=2');
      let fresh = '';
      let servedAt = 0;
      await wait('the new pod served', async () => {
        fresh ||= (await pods()).find((p) => !before.has(p)) ?? '';
        for (let k = 0; k < 20 && fresh && !servedAt; k++) if ((await get(clusterIP, 80)) === fresh) servedAt = performance.now();
        return servedAt > 0 && readyAt.has(fresh);
      });
      delays.push(Math.max(0, servedAt - (readyAt.get(fresh) as number)));
      await kubectl('scale', 'deployment/web', '--replicas=1');
      await wait('one pod left', async () => (await pods()).length === 1);
    }
    watch.destroy();

    const row = (name: string, runs: typeof direct) => [
      name,
      round(median(runs.map((r) => r.reqPerSec)), 0),
      round(median(runs.map((r) => r.p50)), 1),
      round(median(runs.map((r) => r.p99)), 1),
      runs.reduce((a, r) => a + r.errors, 0),
    ];
    const table = markdownTable(
      ['path', 'requests/s (median)', 'p50 ms', 'p99 ms', 'errors'],
      [
        row('straight to the pod', direct),
        row('through the ClusterIP', proxied),
        row('through the Ingress', ingressed),
        ...(nginx ? [row('through nginx (Debian, 1 worker)', nginxed)] : []),
      ],
    );
    const ratio = round(median(proxied.map((r) => r.reqPerSec)) / median(direct.map((r) => r.reqPerSec)), 2);
    const vsNginx = nginx ? round(median(ingressed.map((r) => r.reqPerSec)) / median(nginxed.map((r) => r.reqPerSec)), 2) : undefined;
    const p99VsNginx = nginx ? round(median(ingressed.map((r) => r.p99)) / Math.max(1, median(nginxed.map((r) => r.p99))), 2) : undefined;
    const readyTable = markdownTable(
      ['Ready to first request through the ClusterIP', 'ms'],
      [
        ['p50', round(percentile(delays, 50), 0)],
        ['p99 (max of the samples)', round(percentile(delays, 99), 0)],
        ['samples', delays.length],
      ],
    );
    console.log(table);
    console.log(`through the ClusterIP / straight: ${ratio} of the requests a second`);
    if (nginx) console.log(`the Ingress / nginx: ${vsNginx} of the requests a second, p99 ${p99VsNginx}x`);
    console.log(readyTable);
    const machine = machineInfo();
    writeResults(
      quick ? 'network-quick' : 'network',
      {
        machine,
        rounds: ROUNDS,
        durationSeconds: DURATION,
        connections: CONNECTIONS,
        direct,
        proxied,
        ingressed,
        nginxed,
        ratio,
        vsNginx,
        p99VsNginx,
        readyToTrafficMs: delays,
      },
      resultsPage(
        'Traffic through a Service',
        machine,
        [
          `\`skiff up\`, two local kubelets, process runtime; one replica of a Node.js HTTP server. autocannon (in a worker thread of the process that runs skiff up), ${CONNECTIONS} connections, ${DURATION} s a run, ${ROUNDS} rounds alternating straight to the pod, through the ClusterIP (the kubelets' node proxy, TCP in user space), through the Ingress (skiff up's controller, HTTP in one Node.js process) and through nginx from Debian's packages (one worker, keep-alive to the pod).`,
          `Through the ClusterIP the server answers ${ratio} of the requests a second it answers straight.`,
          'Ready to traffic: a new replica is made; the time from when a watch sees its Ready condition turn True to the first request through the ClusterIP that it answers (requests go one after another, a few a millisecond).',
          nginx
            ? `The Ingress answers ${vsNginx} of nginx's requests a second (the target: at least 0.5), its p99 ${p99VsNginx} times nginx's (the target: at most 2).`
            : 'nginx was not there to measure against (not installed, and not root to install it).',
        ],
        `${table}\n\n${readyTable}`,
      ),
    );
  } finally {
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * Traffic through a Service (issue 14), side by side in one run on `skiff up` (two local
 * kubelets, process runtime): HTTP requests a second and latency straight to a pod and through
 * its Service's ClusterIP (the kubelets' node proxy), with autocannon, rounds alternating; and
 * the time from a new pod turning Ready to its first request through the ClusterIP. The Ingress
 * rows (and nginx beside them) come with the Ingress controller.
 *
 *   npx tsx bench/network/run.ts [--quick]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { up } from '../../cli/up.js';
import { nodeServers } from '../../test/support/manifests.js';
import { machineInfo, markdownTable, median, percentile, resultsPage, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const DURATION = quick ? 3 : 10;
const CONNECTIONS = 16;
const READY_SAMPLES = quick ? 3 : 10;

const SERVER = ['const name = process.env.POD_NAME;', 'require("http").createServer((q, s) => s.end(name)).listen(8080, process.env.POD_IP);'].join(' ');

const deployment = nodeServers('web', SERVER, { replicas: 1, grace: 2, readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } });

function get(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function load(url: string) {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION });
  return { reqPerSec: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-network-'));
  const running = await up({ dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', nodes: 2, runtime: 'process', leaseIntervalMs: 2000 }, () => undefined);
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
    await wait('the ClusterIP answering', async () => (await get(clusterIP, 80)) !== undefined);

    const direct: Awaited<ReturnType<typeof load>>[] = [];
    const proxied: Awaited<ReturnType<typeof load>>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      console.log(`round ${round + 1}/${ROUNDS}: straight to the pod, then through the ClusterIP ...`);
      direct.push(await load(`http://${podIP}:8080/`));
      proxied.push(await load(`http://${clusterIP}/`));
    }

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
      [row('straight to the pod', direct), row('through the ClusterIP', proxied)],
    );
    const ratio = round(median(proxied.map((r) => r.reqPerSec)) / median(direct.map((r) => r.reqPerSec)), 2);
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
    console.log(readyTable);
    const machine = machineInfo();
    writeResults(
      quick ? 'network-quick' : 'network',
      { machine, rounds: ROUNDS, durationSeconds: DURATION, connections: CONNECTIONS, direct, proxied, ratio, readyToTrafficMs: delays },
      resultsPage(
        'Traffic through a Service',
        machine,
        [
          `\`skiff up\`, two local kubelets, process runtime; one replica of a Node.js HTTP server. autocannon, ${CONNECTIONS} connections, ${DURATION} s a run, ${ROUNDS} rounds alternating straight to the pod and through the ClusterIP (the kubelets' node proxy, TCP in user space).`,
          `Through the ClusterIP the server answers ${ratio} of the requests a second it answers straight.`,
          'Ready to traffic: a new replica is made; the time from when a watch sees its Ready condition turn True to the first request through the ClusterIP that it answers (requests go one after another, a few a millisecond).',
          'Not yet measured: the Ingress, and nginx beside it (no Ingress controller yet).',
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

/**
 * The control loop, the embedded shape beside the AWS shape on this machine, in one run
 * (issue 12): each cluster has 10 simulated nodes, and the API takes the writes.
 *
 * - pod create-to-Running: 100 pods created through the API at 10 pods/s; for each, the time
 *   from its create request to the first watch event that shows it Running (scheduled, bound,
 *   started by its node). p50 and p99.
 * - stream lag, write to reconcile done: a Deployment's replicas changed through the API; the
 *   time until its ReplicaSet says the same replicas (the write went through the change feed to
 *   the deployment controller, which wrote the ReplicaSet). p50 and p99 over 40 changes, 2 a
 *   second.
 *
 * The AWS shape here is the four functions in the Lambda runner, DynamoDB Local's stream and
 * its mapping (polled 4 times a second, as Lambda polls), the SQS emulator: its figures are this
 * machine's emulators, not AWS's.
 *
 *   npx tsx bench/aws-local/loop.ts [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upAwsLocal } from '../../cli/aws-local.js';
import { startApiServer } from '../../functions/api/server.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane } from '../../shared/control-plane.js';
import { createStore } from '../../shared/store/factory.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { Store } from '../../shared/store/types.js';
import { machineInfo, markdownTable, percentile, resultsPage, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const PODS = quick ? 30 : 100;
const PODS_PER_SECOND = 10;
const SCALES = quick ? 10 : 40;
const NODES = 10;

interface Cluster {
  shape: string;
  url: string;
  token: string;
  ca: string;
  stop(): Promise<void>;
}

async function simNodes(store: Store): Promise<SimCloudProvider> {
  const cloud = new SimCloudProvider(store, { leaseIntervalMs: 10_000 });
  for (let i = 0; i < NODES; i++) await cloud.create({ name: `sim-${i}`, instanceType: 'sim.large', zone: ['sim-a', 'sim-b', 'sim-c'][i % 3] });
  return cloud;
}

/** A cluster of a shape: where its API is, and what to stop, in order. */
function cluster(shape: string, api: { url: string; token: string; ca: string }, stops: (() => Promise<void>)[]): Cluster {
  return {
    shape,
    ...api,
    async stop() {
      for (const stop of stops) await stop();
    },
  };
}

async function embedded(dir: string): Promise<Cluster> {
  const store = openSqliteStore({ path: join(dir, 'embedded.db') });
  const server = await startApiServer({ store, dataDir: join(dir, 'embedded'), port: 0 });
  const plane = await startControlPlane({ store });
  const cloud = await simNodes(store);
  return cluster('embedded', { url: server.url, token: server.adminToken, ca: server.caCert }, [
    () => plane.stop(),
    () => cloud.close(),
    () => server.close(),
    () => store.close(),
  ]);
}

async function awsLocal(dir: string): Promise<Cluster> {
  const running = await upAwsLocal({ dataDir: join(dir, 'aws'), port: 0, host: '127.0.0.1', nodes: 0, runtime: 'process', inMemory: true }, () => undefined);
  const store = await createStore(running.storeUrl);
  const cloud = await simNodes(store);
  return cluster('aws-local', { url: running.url, token: running.adminToken, ca: running.caCert }, [
    () => cloud.close(),
    () => store.close(),
    () => running.stop(),
  ]);
}

function send(c: Cluster, agent: Agent, method: string, path: string, body?: object, contentType = 'application/json'): Promise<any> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${c.token}` };
    if (text !== undefined) Object.assign(headers, { 'content-type': contentType, 'content-length': String(Buffer.byteLength(text)) });
    const req = request(`${c.url}${path}`, { method, headers, agent }, (res) => {
      let out = '';
      res.on('data', (d) => (out += d));
      res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve(JSON.parse(out)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${out}`))));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** A watch from `resourceVersion`: each event to `onEvent`, until stopped. */
function watch(c: Cluster, path: string, resourceVersion: string, onEvent: (type: string, object: any) => void): () => void {
  const req = request(`${c.url}${path}?watch=1&resourceVersion=${resourceVersion}`, { headers: { authorization: `Bearer ${c.token}` }, ca: c.ca }, (res) => {
    let buffered = '';
    res.on('data', (d) => {
      buffered += d;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) {
          const event = JSON.parse(line);
          onEvent(event.type, event.object);
        }
      }
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  return () => req.destroy();
}

async function createToRunning(c: Cluster, agent: Agent): Promise<number[]> {
  const ns = '/api/v1/namespaces/default/pods';
  const list = await send(c, agent, 'GET', ns);
  const sent = new Map<string, number>();
  const running = new Map<string, number>();
  const stop = watch(c, ns, list.metadata.resourceVersion, (_type, pod) => {
    const name = pod.metadata.name;
    if (pod.status?.phase === 'Running' && sent.has(name) && !running.has(name)) running.set(name, performance.now() - (sent.get(name) as number));
  });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: PODS }, async (_, i) => {
      await new Promise((r) => setTimeout(r, started + (i * 1000) / PODS_PER_SECOND - performance.now()));
      const name = `load-${i}`;
      sent.set(name, performance.now());
      await send(c, agent, 'POST', ns, { metadata: { name }, spec: { containers: [{ name: 'c', image: 'app:v1' }] } });
    }),
  );
  const deadline = Date.now() + 120_000;
  while (running.size < PODS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  stop();
  if (running.size < PODS) throw new Error(`${c.shape}: ${running.size}/${PODS} pods Running after 2 minutes`);
  return [...running.values()];
}

async function streamLag(c: Cluster, agent: Agent): Promise<number[]> {
  const deployments = '/apis/apps/v1/namespaces/default/deployments';
  await send(c, agent, 'POST', deployments, {
    metadata: { name: 'lag' },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'lag' } },
      template: { metadata: { labels: { app: 'lag' } }, spec: { containers: [{ name: 'c', image: 'app:v1' }] } },
    },
  });
  const sets = '/apis/apps/v1/namespaces/default/replicasets';
  const until = async (check: () => boolean) => {
    const deadline = Date.now() + 60_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${c.shape}: the ReplicaSet did not follow`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  let replicas = -1;
  const list = await send(c, agent, 'GET', sets);
  const stop = watch(c, sets, list.metadata.resourceVersion, (_type, rs) => {
    if (rs.metadata.labels?.app === 'lag') replicas = rs.spec.replicas;
  });
  await until(() => replicas === 0);
  const lags: number[] = [];
  for (let i = 1; i <= SCALES; i++) {
    // Between 0 and 1: the pods come and go too, as a scale brings them.
    const want = i % 2;
    const at = performance.now();
    await send(c, agent, 'PATCH', `${deployments}/lag`, { spec: { replicas: want } }, 'application/merge-patch+json');
    await until(() => replicas === want);
    lags.push(performance.now() - at);
    await new Promise((r) => setTimeout(r, 500));
  }
  stop();
  return lags;
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-loop-'));
  const rows: { shape: string; measure: string; samples: number; p50: number; p99: number }[] = [];
  try {
    for (const start of [embedded, awsLocal]) {
      const c = await start(dir);
      const agent = new Agent({ keepAlive: true, ca: c.ca, maxSockets: 32 });
      try {
        const row = (measure: string, samples: number[]) =>
          rows.push({ shape: c.shape, measure, samples: samples.length, p50: round(percentile(samples, 50)), p99: round(percentile(samples, 99)) });
        console.log(`${c.shape}: ${PODS} pods at ${PODS_PER_SECOND}/s ...`);
        row('pod create-to-Running (ms)', await createToRunning(c, agent));
        console.log(`${c.shape}: ${SCALES} scales for the stream lag ...`);
        row('write to reconcile done (ms)', await streamLag(c, agent));
      } finally {
        agent.destroy();
        await c.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const table = markdownTable(
    ['shape', 'measure', 'samples', 'p50', 'p99'],
    rows.map((r) => [r.shape, r.measure, String(r.samples), String(r.p50), String(r.p99)]),
  );
  console.log(table);
  const machine = machineInfo();
  writeResults(
    quick ? 'aws-local-loop-quick' : 'aws-local-loop',
    { machine, pods: PODS, podsPerSecond: PODS_PER_SECOND, scales: SCALES, nodes: NODES, rows },
    resultsPage(
      'The control loop: embedded beside aws-local',
      machine,
      [
        `${NODES} simulated nodes per cluster; ${PODS} pods created through the API at ${PODS_PER_SECOND}/s; ${SCALES} Deployment scales, 2 a second.`,
        "The aws-local figures are this machine's emulators (DynamoDB Local, the stream mapping polling 4 times a second, the Lambda runner), not AWS's.",
      ],
      table,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

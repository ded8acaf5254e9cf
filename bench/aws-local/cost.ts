/**
 * The AWS shape's cost model, from what was measured here (issue 12). The functions run in the
 * Lambda runner over DynamoDB Local behind a capacity meter (emulators/capacity-meter.ts): each
 * phase counts DynamoDB's consumed read and write units as the engine reports them, each
 * function's invocations and durations, and SQS requests. Prices (us-east-1, on demand) turn
 * those into a monthly bill for:
 *
 * - an idle cluster (the tick every minute, and the fixed parts: NAT, KMS key, alarms);
 * - 10 nodes with 100 pods and 1,000 API calls an hour;
 * - 1,000 pod starts;
 *
 * beside the EKS control plane's fixed $0.10 an hour. Durations are this machine's (a child
 * process per environment, DynamoDB Local in Java): AWS's would differ, and the model says which
 * figure drives each line, so it can be redone with AWS's numbers.
 *
 *   npx tsx bench/aws-local/cost.ts [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AwsLocalRunning, upAwsLocal } from '../../cli/aws-local.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { createStore } from '../../shared/store/factory.js';
import { machineInfo, machineMarkdown, markdownTable, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const NODES = 10;
const NODE_WINDOW_MS = quick ? 20_000 : 60_000;
const API_CALLS = quick ? 60 : 200;
const PODS = quick ? 30 : 100;
const TICKS = quick ? 3 : 6;
const MONTH_HOURS = 730;

/** us-east-1 list prices, on demand (2026). */
export const PRICES = {
  lambdaGbSecond: 0.0000166667,
  lambdaPerMillionRequests: 0.2,
  dynamoPerMillionWriteUnits: 0.625,
  dynamoPerMillionReadUnits: 0.125,
  sqsPerMillionRequests: 0.4,
  apiGatewayRestPerMillionRequests: 3.5,
  kmsKeyPerMonth: 1,
  alarmPerMonth: 0.1,
  /** Two NAT instances (t4g.nano, one per zone) and their public IPv4 addresses. */
  natPerHour: 2 * (0.0042 + 0.005),
  eksControlPlanePerHour: 0.1,
};
/** The memory infra/functions.ts gives each function, in GB. */
const MEMORY_GB = { api: 1, stream: 0.5, queue: 0.5, tick: 0.5 };

interface Usage {
  writeUnits: number;
  readUnits: number;
  dynamoRequests: number;
  sqsRequests: number;
  invocations: Record<string, number>;
  /** GB-seconds per function, billed (each invocation rounded up to 1 ms). */
  gbSeconds: Record<string, number>;
  apiRequests: number;
}

/** What was used since `mark()`. */
function meterOf(running: AwsLocalRunning) {
  const u = running.usage;
  let base = { sqs: 0, durations: {} as Record<string, number> };
  const mark = () => {
    u.meter?.reset();
    base = { sqs: u.sqsRequests.length, durations: Object.fromEntries(Object.entries(u.functions).map(([k, s]) => [k, s.durationMs.length])) };
  };
  const read = (apiRequests: number): Usage => {
    const totals = u.meter?.totals() ?? { writeUnits: 0, readUnits: 0, requests: 0 };
    const invocations: Record<string, number> = {};
    const gbSeconds: Record<string, number> = {};
    for (const [name, stats] of Object.entries(u.functions)) {
      const durations = stats.durationMs.slice(base.durations[name]);
      invocations[name] = durations.length;
      gbSeconds[name] = durations.reduce((sum, ms) => sum + Math.ceil(ms) / 1000, 0) * MEMORY_GB[name as keyof typeof MEMORY_GB];
    }
    return { ...totals, dynamoRequests: totals.requests, sqsRequests: u.sqsRequests.length - base.sqs, invocations, gbSeconds, apiRequests };
  };
  return { mark, read };
}

function dollars(u: Usage): number {
  const invocations = Object.values(u.invocations).reduce((a, b) => a + b, 0);
  const gbs = Object.values(u.gbSeconds).reduce((a, b) => a + b, 0);
  return (
    gbs * PRICES.lambdaGbSecond +
    (invocations / 1e6) * PRICES.lambdaPerMillionRequests +
    (u.writeUnits / 1e6) * PRICES.dynamoPerMillionWriteUnits +
    (u.readUnits / 1e6) * PRICES.dynamoPerMillionReadUnits +
    (u.sqsRequests / 1e6) * PRICES.sqsPerMillionRequests +
    (u.apiRequests / 1e6) * PRICES.apiGatewayRestPerMillionRequests
  );
}

const scale = (u: Usage, factor: number): Usage => ({
  writeUnits: u.writeUnits * factor,
  readUnits: u.readUnits * factor,
  dynamoRequests: u.dynamoRequests * factor,
  sqsRequests: u.sqsRequests * factor,
  apiRequests: u.apiRequests * factor,
  invocations: Object.fromEntries(Object.entries(u.invocations).map(([k, v]) => [k, v * factor])),
  gbSeconds: Object.fromEntries(Object.entries(u.gbSeconds).map(([k, v]) => [k, v * factor])),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function send(running: AwsLocalRunning, agent: Agent, method: string, path: string, body?: object): Promise<number> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${running.adminToken}` };
    if (text !== undefined)
      Object.assign(headers, {
        'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
        'content-length': String(Buffer.byteLength(text)),
      });
    const req = request(`${running.url}${path}`, { method, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** A mix of what CI pipelines and people send: reads, lists, patches, creates and deletes. */
async function apiMix(running: AwsLocalRunning, agent: Agent): Promise<void> {
  const cms = '/api/v1/namespaces/default/configmaps';
  for (let i = 0; i < API_CALLS; i += 10) {
    const name = `mix-${i}`;
    await send(running, agent, 'POST', cms, { metadata: { name }, data: { n: String(i) } });
    for (let j = 0; j < 4; j++) await send(running, agent, 'GET', `${cms}/${name}`);
    for (let j = 0; j < 3; j++) await send(running, agent, 'GET', cms);
    await send(running, agent, 'PATCH', `${cms}/${name}`, { data: { n: `${i}!` } });
    await send(running, agent, 'DELETE', `${cms}/${name}`);
  }
}

async function podStarts(running: AwsLocalRunning, agent: Agent, store: Awaited<ReturnType<typeof createStore>>): Promise<void> {
  for (let i = 0; i < PODS; i++) {
    await send(running, agent, 'POST', '/api/v1/namespaces/default/pods', {
      metadata: { name: `start-${i}` },
      spec: { containers: [{ name: 'c', image: 'app:v1' }] },
    });
    await sleep(100);
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const pods = (await store.list('pods', { namespace: 'default' })).items;
    if (pods.filter((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running').length >= PODS) break;
    if (Date.now() > deadline) throw new Error('pods did not all start');
    await sleep(200);
  }
}

async function measure() {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-cost-'));
  const running = await upAwsLocal(
    { dataDir: join(dir, 'aws'), port: 0, host: '127.0.0.1', nodes: 0, runtime: 'process', inMemory: true, meter: true, tickIntervalMs: 5000 },
    () => undefined,
  );
  const store = await createStore(running.storeUrl);
  const agent = new Agent({ keepAlive: true, ca: running.caCert });
  const meter = meterOf(running);
  try {
    await send(running, agent, 'GET', '/api/v1/namespaces'); // the API's first cold start makes the system objects
    await sleep(3000);
    console.log(`idle: ${TICKS} ticks ...`);
    meter.mark();
    await sleep(TICKS * 5000);
    const idle = meter.read(0);
    const ticks = idle.invocations.tick || 1;

    console.log(`${NODES} nodes renewing their Leases for ${NODE_WINDOW_MS / 1000} s ...`);
    const cloud = new SimCloudProvider(store, { leaseIntervalMs: 10_000 });
    for (let i = 0; i < NODES; i++) await cloud.create({ name: `sim-${i}`, instanceType: 'sim.large', zone: 'sim-a' });
    await sleep(15_000);
    meter.mark();
    await sleep(NODE_WINDOW_MS);
    const nodes = meter.read(0);

    console.log(`${API_CALLS} API calls ...`);
    meter.mark();
    await apiMix(running, agent);
    await sleep(3000);
    const api = meter.read(API_CALLS);

    console.log(`${PODS} pod starts ...`);
    meter.mark();
    await podStarts(running, agent, store);
    await sleep(3000);
    const pods = meter.read(PODS);
    await cloud.close();
    return {
      perTick: scale(idle, 1 / ticks),
      nodesPerHour: scale(nodes, (3600_000 / NODE_WINDOW_MS) * (1 / NODES)),
      perApiCall: scale(api, 1 / API_CALLS),
      perPodStart: scale(pods, 1 / PODS),
    };
  } finally {
    agent.destroy();
    await store.close();
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const m = await measure();
  const fixed = MONTH_HOURS * PRICES.natPerHour + PRICES.kmsKeyPerMonth + 3 * PRICES.alarmPerMonth;
  const idleMonth = dollars(scale(m.perTick, MONTH_HOURS * 60)) + fixed;
  // A kubelet renews its Lease through the API every 10 s (360 calls an hour), beside what the
  // controllers do with each renewal (measured with simulated nodes writing the table).
  const nodeMonth = dollars(scale(m.nodesPerHour, MONTH_HOURS)) + dollars(scale(m.perApiCall, 360 * MONTH_HOURS));
  // Today's kubelet holds its pod watch through the API function: one invocation always running.
  const watchMonth = MONTH_HOURS * 3600 * MEMORY_GB.api * PRICES.lambdaGbSecond;
  // The alternative: a kubelet that lists its pods every 10 s (360 more calls an hour).
  const pollMonth = dollars(scale(m.perApiCall, 360 * MONTH_HOURS));
  const callsMonth = dollars(scale(m.perApiCall, 1000 * MONTH_HOURS));
  const busy = idleMonth + NODES * (nodeMonth + watchMonth) + callsMonth;
  const busyPolling = idleMonth + NODES * (nodeMonth + pollMonth) + callsMonth;
  const per1000Pods = dollars(scale(m.perPodStart, 1000));
  const eks = MONTH_HOURS * PRICES.eksControlPlanePerHour;
  const usd = (n: number) => `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`;
  const measured = markdownTable(
    ['unit', 'write units', 'read units', 'SQS requests', 'invocations', 'GB-s', 'cost'],
    (
      [
        ['a tick', m.perTick],
        ['a node for an hour (controllers only)', m.nodesPerHour],
        ['an API call', m.perApiCall],
        ['a pod start', m.perPodStart],
      ] as [string, Usage][]
    ).map(([name, u]) => [
      name,
      round(u.writeUnits, 2),
      round(u.readUnits, 2),
      round(u.sqsRequests, 2),
      Object.entries(u.invocations)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${round(v, 2)}`)
        .join(', '),
      round(
        Object.values(u.gbSeconds).reduce((a, b) => a + b, 0),
        4,
      ),
      usd(dollars(u)),
    ]),
  );
  const bill = markdownTable(
    ['cluster', 'per month'],
    [
      ['idle (tick every minute; NAT, KMS key and alarms fixed)', usd(idleMonth)],
      [`${NODES} nodes, 100 pods, 1,000 API calls an hour (each kubelet holds a pod watch through the API function, as today)`, usd(busy)],
      [`the same, with kubelets listing their pods every 10 s instead of watching`, usd(busyPolling)],
      ['per 1,000 pod starts', usd(per1000Pods)],
      ['EKS control plane alone ($0.10 an hour)', usd(eks)],
    ],
  );
  console.log(measured);
  console.log(bill);
  const machine = machineInfo();
  writeResults(
    quick ? 'aws-cost-quick' : 'aws-cost',
    {
      machine,
      prices: PRICES,
      memoryGb: MEMORY_GB,
      measured: m,
      monthly: { idleMonth, nodeMonth, watchMonth, pollMonth, callsMonth, busy, busyPolling, per1000Pods, eks },
    },
    [
      '# The AWS shape: a cost model from measured use',
      '',
      machineMarkdown(machine),
      '',
      'Measured on aws-local: DynamoDB units as DynamoDB Local reports them, invocations and durations in the Lambda runner, SQS requests at the emulator. Priced at us-east-1 on-demand list prices (`PRICES` in bench/aws-local/cost.ts).',
      '',
      measured,
      '',
      bill,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * The AWS shape on this machine beside the embedded shape, in one run (issue 12):
 *
 * - each function bundled as it would be deployed (esbuild, ESM, minified, tree-shaken SDK):
 *   the bundle's size (target under 2 MB);
 * - the API function's init duration (Lambda's "Init Duration": loading the bundle, its
 *   top-level work against the table included) over cold starts (target under 300 ms);
 * - API p50/p99 and throughput of a get and a create at 1 and 16 clients, against the
 *   embedded server and against the API function in the Lambda runner behind the Function URL
 *   front over DynamoDB Local, rows interleaved.
 *
 * The AWS-shape latencies are those of the emulators on this machine (DynamoDB Local in Java,
 * a child process per execution environment with an IPC hop), not AWS's: they show what
 * `--shape aws-local` costs, and they move when the code does.
 *
 *   npx tsx bench/aws-local/run.ts [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDynamoDbLocal } from '../../emulators/dynamodb-local.js';
import { startFunctionUrl } from '../../emulators/function-url.js';
import { LambdaFunction } from '../../emulators/lambda-runner.js';
import { ensureTls } from '../../functions/api/tls.js';
import { StoreTokens } from '../../shared/auth/store-tokens.js';
import { openDynamoStore } from '../../shared/store/dynamodb.js';
import { type Target, startBenchServer } from '../support/server.js';
import { bundleFunction } from '../../emulators/bundle.js';
import { machineInfo, machineMarkdown, markdownTable, median, percentile, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const DURATION_MS = quick ? 2000 : 5000;
const REPEATS = quick ? 1 : 3;
const COLD_STARTS = quick ? 3 : 7;
const FUNCTIONS = ['functions/api/lambda.ts', 'functions/stream/handler.ts', 'functions/queue/handler.ts', 'functions/tick/handler.ts'];
const work = mkdtempSync(join(tmpdir(), 'skiff-bench-aws-'));
/** What was started, stopped in reverse order on the way out, whichever way that is. */
const cleanups: (() => Promise<void>)[] = [];
async function cleanUp(): Promise<void> {
  for (const stop of cleanups.splice(0).reverse()) await stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}

/** The function as it would be deployed: one minified ESM file. */
function bundle(entry: string): Promise<{ path: string; bytes: number }> {
  return bundleFunction(entry, join(work, `${entry.replaceAll('/', '_')}.mjs`));
}

function call(t: Target, agent: Agent, method: string, path: string, body?: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = request(
      t.url + path,
      {
        method,
        agent,
        ca: t.ca,
        headers: { authorization: `Bearer ${t.token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

let serial = 0;
const ROWS = [
  { name: 'get', run: (t: Target, a: Agent) => call(t, a, 'GET', '/api/v1/namespaces/default/configmaps/target') },
  {
    name: 'create',
    run: (t: Target, a: Agent) =>
      call(t, a, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ metadata: { name: `cm-${serial++}` }, data: { k: 'v' } })),
  },
];

/** `clients` loops of requests for the duration: latencies and throughput. */
async function load(t: Target, row: (typeof ROWS)[number], clients: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients, ca: t.ca });
  const latencies: number[] = [];
  let bad = 0;
  const end = Date.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        const started = performance.now();
        const status = await row.run(t, agent).catch(() => 0);
        latencies.push(performance.now() - started);
        if (status < 200 || status >= 300) bad++;
      }
    }),
  );
  agent.destroy();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSec: latencies.length / (DURATION_MS / 1000), bad };
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  console.log('bundling the functions ...');
  const bundles: Record<string, { path: string; bytes: number }> = {};
  for (const fn of FUNCTIONS) bundles[fn] = await bundle(fn);

  const local = await startDynamoDbLocal();
  cleanups.push(() => local.stop());
  const env = {
    SKIFF_STORE_URL: local.storeUrl('skiff-state'),
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  const store = await openDynamoStore({ tableName: 'skiff-state', endpoint: local.endpoint, region: 'us-east-1', createTable: true });
  const { token } = await new StoreTokens(store).issue('bench', ['system:masters']);
  await store.close();

  console.log(`init duration over ${COLD_STARTS} cold starts of the bundled API function ...`);
  const cold = new LambdaFunction({
    name: 'api-cold',
    module: bundles['functions/api/lambda.ts'].path,
    timeoutMs: 60_000,
    coldStartEvery: 1,
    concurrency: 1,
    env,
  });
  const event = {
    version: '2.0',
    rawPath: '/version',
    rawQueryString: '',
    headers: {},
    requestContext: { http: { method: 'GET', path: '/version' } },
    isBase64Encoded: false,
  };
  for (let i = 0; i < COLD_STARTS; i++)
    await new Promise<void>((done) =>
      cold
        .invokeStream(event)
        .on('close', () => done())
        .resume(),
    );
  await cold.close();
  // The first cold start makes the system namespaces and roles; the rest find them.
  const initMs = cold.stats.initMs.slice(1);

  const api = new LambdaFunction({ name: 'api', module: bundles['functions/api/lambda.ts'].path, timeoutMs: 900_000, concurrency: 16, env });
  cleanups.push(() => api.close());
  const tls = ensureTls(join(work, 'pki'));
  const url = await startFunctionUrl(api, { tls });
  cleanups.push(() => url.close());
  const aws: Target = { url: url.url, token, ca: tls.caCert };
  const embeddedServer = await startBenchServer(resolve('bench/api/server.ts'));
  cleanups.push(() => embeddedServer.stop());
  const embedded = embeddedServer.target;
  const targets: [string, Target][] = [
    ['embedded', embedded],
    ['aws-local', aws],
  ];
  for (const [, t] of targets) {
    const agent = new Agent({ keepAlive: true, ca: t.ca });
    await call(t, agent, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ metadata: { name: 'target' }, data: { k: 'v' } }));
    agent.destroy();
  }

  const results: { shape: string; call: string; clients: number; p50: number; p99: number; perSec: number; bad: number }[] = [];
  for (const row of ROWS) {
    for (const clients of [1, 16]) {
      const runs: Record<string, Awaited<ReturnType<typeof load>>[]> = { embedded: [], 'aws-local': [] };
      for (let r = 0; r < REPEATS; r++) for (const [shape, t] of targets) runs[shape].push(await load(t, row, clients));
      for (const [shape] of targets) {
        const rs = runs[shape];
        const result = {
          shape,
          call: row.name,
          clients,
          p50: round(median(rs.map((x) => x.p50))),
          p99: round(median(rs.map((x) => x.p99))),
          perSec: round(median(rs.map((x) => x.perSec)), 0),
          bad: rs.reduce((a, x) => a + x.bad, 0),
        };
        results.push(result);
        console.log(`${row.name} at ${clients}: ${shape} p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.perSec}/s`);
      }
    }
  }
  await cleanUp();

  const machine = machineInfo();
  const data = {
    machine,
    bundles: Object.fromEntries(Object.entries(bundles).map(([k, v]) => [k, v.bytes])),
    initMs: { median: round(median(initMs)), all: initMs.map((x) => round(x)) },
    latency: results,
  };
  const md = [
    '# The AWS shape on this machine, beside the embedded shape',
    '',
    machineMarkdown(machine),
    '',
    '## Bundles (esbuild, ESM, minified; target under 2 MB)',
    '',
    markdownTable(
      ['function', 'bytes', 'MB'],
      Object.entries(bundles).map(([k, v]) => [k, v.bytes, round(v.bytes / 1024 / 1024, 2)]),
    ),
    '',
    `## API function init duration (target under 300 ms)`,
    '',
    `Median over ${initMs.length} cold starts (the first, which makes the system namespaces and roles, left out): **${data.initMs.median} ms** (all: ${data.initMs.all.join(', ')} ms). It includes the top-level work against DynamoDB Local: the namespaces, roles and signing keys read.`,
    '',
    '## API latency, side by side (medians of the runs, interleaved)',
    '',
    markdownTable(
      ['call', 'clients', 'shape', 'p50 ms', 'p99 ms', 'req/s', 'non-2xx'],
      results.map((r) => [r.call, r.clients, r.shape, r.p50, r.p99, r.perSec, r.bad]),
    ),
    '',
    "The aws-local figures are the emulators' on this machine: DynamoDB Local (Java) and one child process per execution environment with an IPC hop per invocation, on the same 2 cores as the load. They are not AWS's figures.",
  ].join('\n');
  writeResults('aws-local', data, md);
  console.log(md);
}

main().catch(async (err) => {
  console.error(err);
  await cleanUp();
  process.exit(1);
});

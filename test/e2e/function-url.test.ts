/**
 * The API function as it runs in AWS, on this machine: the Lambda runner (an execution
 * environment per child process, cold starts, timeouts) behind a Function URL front in
 * RESPONSE_STREAM mode, over DynamoDB Local. The real kubectl reads, writes and watches through
 * it, a watch streaming events as they happen; a cold start on every invocation changes no
 * result; an invocation past its timeout is killed and the next one starts cold.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFunctionUrl, type FunctionUrl } from '../../emulators/function-url.js';
import { LambdaFunction } from '../../emulators/lambda-runner.js';
import { ensureTls } from '../../functions/api/tls.js';
import { StoreTokens } from '../../shared/auth/store-tokens.js';
import { openDynamoStore } from '../../shared/store/dynamodb.js';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../emulators/dynamodb-local.js';
import { until } from '../support/until.js';

/** The admin's token, kept in the table as the API function reads it. */
let TOKEN: string;
let dir: string;
let local: DynamoDbLocal;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-function-url-'));
  local = await startDynamoDbLocal();
  // The table is the infrastructure's to make; the functions never make it.
  const store = await openDynamoStore({ tableName: 'skiff-state', endpoint: local.endpoint, region: 'us-east-1', createTable: true });
  TOKEN = (await new StoreTokens(store).issue('ci', ['system:masters'])).token;
  await store.close();
}, 90_000);
afterAll(async () => {
  for (const o of opened.reverse()) await o.close();
  await local?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function apiFunction(extra: Partial<ConstructorParameters<typeof LambdaFunction>[0]> = {}): LambdaFunction {
  const fn = new LambdaFunction({
    name: 'skiff-api',
    module: resolve('functions/api/lambda.ts'),
    timeoutMs: 60_000,
    env: {
      SKIFF_STORE_URL: local.storeUrl('skiff-state'),
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      SKIFF_MAX_WATCH_SECONDS: '20',
    },
    ...extra,
  });
  opened.push(fn);
  return fn;
}

interface Front {
  url: FunctionUrl;
  kubectl(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** A long-running kubectl (a watch): its output as it comes, until stopped. */
  follow(args: string[], onText: (text: string) => void): { stop(): Promise<void> };
}

async function front(fn: LambdaFunction, kind: 'function-url' | 'rest-api' = 'function-url'): Promise<Front> {
  const tls = ensureTls(join(dir, 'pki'));
  const url = await startFunctionUrl(fn, { tls, front: kind });
  opened.push(url);
  const kubeconfig = join(dir, `kubeconfig-${opened.length}`);
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'lambda', cluster: { server: url.url, 'certificate-authority-data': Buffer.from(tls.caCert).toString('base64') } }],
      users: [{ name: 'ci', user: { token: TOKEN } }],
      contexts: [{ name: 'lambda', context: { cluster: 'lambda', user: 'ci' } }],
      'current-context': 'lambda',
    }),
  );
  const env = { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'kube-cache') };
  const follow = (args: string[], onText: (text: string) => void) => {
    const k = spawn('kubectl', args, { env });
    k.stdout.on('data', (d) => onText(String(d)));
    const closed = new Promise<void>((r) => k.once('close', () => r()));
    return {
      stop: async () => {
        k.kill('SIGINT');
        await closed;
      },
    };
  };
  const kubectl = (args: string[], timeoutMs = 60_000) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      const k = spawn('kubectl', args, { env });
      let stdout = '';
      let stderr = '';
      k.stdout.on('data', (d) => (stdout += String(d)));
      k.stderr.on('data', (d) => (stderr += String(d)));
      const timer = setTimeout(() => k.kill('SIGINT'), timeoutMs);
      k.on('close', (code) => {
        clearTimeout(timer);
        done({ code: code ?? -1, stdout, stderr });
      });
    });
  return { url, kubectl, follow };
}

describe('the API function behind a Function URL', () => {
  it('kubectl reads and writes through it, and a watch streams events as they happen', async () => {
    const fn = apiFunction();
    const { kubectl, follow } = await front(fn);
    const namespaces = await kubectl(['get', 'namespaces', '-o', 'name']);
    expect(namespaces.code, namespaces.stderr).toBe(0);
    expect(namespaces.stdout).toContain('namespace/kube-system');
    expect((await kubectl(['create', 'configmap', 'via-lambda', '--from-literal=shape=aws'])).code).toBe(0);
    const got = await kubectl(['get', 'configmap', 'via-lambda', '-o', 'jsonpath={.data.shape}']);
    expect(got.stdout).toBe('aws');

    let watched = '';
    const watch = follow(['get', 'configmaps', '-w', '-o', 'name'], (text) => (watched += text));
    await until('the watch to list what there is', async () => watched.includes('via-lambda'), 30_000);
    const created = await kubectl(['create', 'configmap', 'seen-live', '--from-literal=a=b']);
    expect(created.code).toBe(0);
    await until('the new configmap streamed to the watch', async () => watched.includes('seen-live'), 30_000);
    await watch.stop();
    expect(fn.stats.timeouts).toBe(0);
  }, 120_000);

  it('a cold start on every invocation changes no result', async () => {
    const fn = apiFunction({ coldStartEvery: 1 });
    const { kubectl } = await front(fn);
    expect((await kubectl(['create', 'namespace', 'cold'])).code).toBe(0);
    const got = await kubectl(['get', 'namespace', 'cold', '-o', 'jsonpath={.status.phase}']);
    expect(got.stdout).toBe('Active');
    expect(fn.stats.coldStarts).toBe(fn.stats.invocations);
    expect(fn.stats.invocations).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('warm environments keep their state; an invocation past its timeout is killed, and the next starts cold', async () => {
    const fn = new LambdaFunction({ name: 'counter', module: resolve('test/fixtures/lambda/counter.ts'), timeoutMs: 1500, concurrency: 1 });
    opened.push(fn);
    const first = (await fn.invoke({})) as { invocations: number; remainingMs: number; pid: number };
    const second = (await fn.invoke({})) as { invocations: number; pid: number };
    expect([first.invocations, second.invocations]).toEqual([1, 2]);
    expect(second.pid).toBe(first.pid);
    expect(first.remainingMs).toBeGreaterThan(0);
    expect(first.remainingMs).toBeLessThanOrEqual(1500);
    await expect(fn.invoke({ sleepMs: 5000 })).rejects.toThrow('Task timed out after 1.50 seconds');
    const after = (await fn.invoke({})) as { invocations: number; pid: number };
    expect(after.invocations).toBe(1);
    expect(after.pid).not.toBe(first.pid);
    expect(fn.stats).toMatchObject({ coldStarts: 2, timeouts: 1 });
  }, 60_000);

  it('closing refuses the invocations waiting for an environment, and starts none for them', async () => {
    const fn = new LambdaFunction({ name: 'counter', module: resolve('test/fixtures/lambda/counter.ts'), timeoutMs: 30_000, concurrency: 1 });
    opened.push(fn);
    const busy = fn.invoke({ sleepMs: 20_000 }).catch((err: Error) => err);
    // The one environment is busy; these wait for it.
    const waiting = [fn.invoke({}), fn.invoke({})].map((p) => p.catch((err: Error) => err));
    await until('the environment started and busy', async () => fn.stats.initMs.length === 1, 30_000);
    await fn.close();
    for (const err of await Promise.all(waiting)) expect(String(err)).toContain('function counter is closed');
    expect(String(await busy)).toContain('exited during the invocation');
    expect(fn.stats.coldStarts).toBe(1);
  }, 60_000);
});

describe('the API function behind API Gateway REST (the cloud front)', () => {
  it('kubectl works with the stage in the server URL, REST proxy events, and a streamed watch', async () => {
    const fn = apiFunction();
    const { url, kubectl, follow } = await front(fn, 'rest-api');
    expect(url.url).toMatch(/\/k8s$/);
    const namespaces = await kubectl(['get', 'namespaces', '-o', 'name']);
    expect(namespaces.code, namespaces.stderr).toBe(0);
    expect(namespaces.stdout).toContain('namespace/kube-system');
    expect((await kubectl(['create', 'configmap', 'via-rest', '--from-literal=front=rest-api'])).code).toBe(0);
    // Query parameters (a label selector, a field selector) reach the function as REST sends them.
    expect((await kubectl(['label', 'configmap', 'via-rest', 'tier=edge'])).code).toBe(0);
    const selected = await kubectl(['get', 'configmaps', '-l', 'tier=edge', '--field-selector', 'metadata.name=via-rest', '-o', 'name']);
    expect(selected.stdout.trim()).toBe('configmap/via-rest');

    let watched = '';
    const watch = follow(['get', 'configmaps', '-w', '-o', 'name'], (text) => (watched += text));
    await until('the watch to list what there is', async () => watched.includes('via-rest'), 30_000);
    expect((await kubectl(['create', 'configmap', 'rest-live', '--from-literal=a=b'])).code).toBe(0);
    await until('the new configmap streamed to the watch', async () => watched.includes('rest-live'), 30_000);
    await watch.stop();
    expect(fn.stats.timeouts).toBe(0);
  }, 120_000);
});

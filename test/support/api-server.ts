/**
 * Starts the API server over a fresh SQLite store in a temp dir, and runs the real kubectl
 * against it with its own kubeconfig and discovery cache. Under SKIFF_TEST_SHAPE=aws-local
 * (the vitest project of that name), the same clusters are the AWS shape on this machine
 * (test/support/aws-local-cluster.ts), so the same test files run against both.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../functions/api/server.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane } from '../../shared/control-plane.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { Store } from '../../shared/store/types.js';
import { startAwsLocalCluster } from './aws-local-cluster.js';
import { TEST_SHAPE } from './shape.js';
import { KUBELET_COMMAND } from '../../kubelet/local-provider.js';

export interface TestCluster {
  server: ApiServer;
  store: Store;
  dir: string;
  /** Runs kubectl; resolves with its output whatever the exit code. */
  kubectl(args: string[], options?: { input?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<KubectlResult>;
  /** Runs kubectl and throws unless it exits 0; returns stdout. */
  kubectlOk(args: string[], options?: { input?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<string>;
  /** An HTTPS request to the API with the admin token (or `token`, or none with token: ''). */
  api(path: string, init?: ApiRequest): Promise<ApiResponse>;
  stop(): Promise<void>;
}

export interface ApiRequest {
  method?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  token?: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * What a launch script (`kubeletUserData`) needs to join `cluster` with a bootstrap token: this
 * checkout's kubelet, the API and its CA.
 */
export function joining(cluster: TestCluster, bootstrapToken: string): { kubelet: string; server: string; caCert: string; bootstrapToken: string } {
  return { kubelet: KUBELET_COMMAND, server: cluster.server.url, caCert: cluster.server.caCert, bootstrapToken };
}

export async function startTestCluster(options: Partial<ApiServerOptions> = {}): Promise<TestCluster> {
  if (TEST_SHAPE === 'aws-local') return startAwsLocalCluster(options);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-api-test-'));
  const store = options.store ?? openSqliteStore({ path: join(dir, 'skiff.db') });
  const server = await startApiServer({ store, dataDir: join(dir, 'data'), port: 0, ...options });
  return {
    ...clientsFor(server, dir),
    server,
    store,
    dir,
    async stop() {
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** kubectl (its own kubeconfig and discovery cache) and HTTPS requests against an API. */
export function clientsFor(
  server: Pick<ApiServer, 'url' | 'kubeconfigPath' | 'adminToken' | 'caCert'>,
  dir: string,
): Pick<TestCluster, 'kubectl' | 'kubectlOk' | 'api'> {
  const env = { ...process.env, KUBECONFIG: server.kubeconfigPath, KUBECACHEDIR: join(dir, 'kube-cache'), HOME: dir };
  const kubectl: TestCluster['kubectl'] = (args, opts = {}) =>
    new Promise((resolve) => {
      const child = spawn('kubectl', args, { env: { ...env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += String(d)));
      child.stderr.on('data', (d) => (stderr += String(d)));
      // The AWS shape on a loaded machine: a kubectl that waits (delete, wait) is given longer.
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? (TEST_SHAPE === 'aws-local' ? 90_000 : 30_000));
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(opts.input ?? '');
    });
  const kubectlOk: TestCluster['kubectlOk'] = async (args, opts) => {
    const r = await kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  };
  const api: TestCluster['api'] = (path, init = {}) =>
    new Promise((resolve, reject) => {
      const token = init.token ?? server.adminToken;
      const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers };
      // Node sends DELETE and GET bodies without a length unless told: say it.
      if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
      const req = request(server.url + path, { method: init.method ?? 'GET', headers, ca: server.caCert }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`request to ${path} timed out`)));
      req.end(init.body);
    });
  return { kubectl, kubectlOk, api };
}

/** An API server with the controllers of `skiff up` running on `nodes` simulated nodes. */
export interface ControlledCluster extends TestCluster {
  cloud: SimCloudProvider;
}

export async function startControlledCluster(nodes = 2): Promise<ControlledCluster> {
  const cluster = await startTestCluster();
  const cloud = new SimCloudProvider(cluster.store, { leaseIntervalMs: 60_000 });
  for (let i = 0; i < nodes; i++) await cloud.create({ name: `sim-${i}`, instanceType: 'sim.large', zone: 'sim-a' });
  // In the AWS shape the functions are the controllers: nothing more runs here.
  const plane = TEST_SHAPE === 'aws-local' ? undefined : await startControlPlane({ store: cluster.store });
  return {
    ...cluster,
    cloud,
    async stop() {
      await plane?.stop();
      await cloud.close();
      await cluster.stop();
    },
  };
}

/**
 * kubectl against a test cluster with its input: `ok` answers stdout (or throws with stderr),
 * `refused` asserts it failed and answers its stderr, trimmed.
 */
export function kubectlCalls(cluster: () => TestCluster) {
  const ok = (args: string[], input?: string) => cluster().kubectlOk(args, { input });
  const refused = async (args: string[], input?: string) => {
    const r = await cluster().kubectl(args, { input });
    if (r.code === 0) throw new Error(`kubectl ${args.join(' ')} succeeded, where it should have been refused: ${r.stdout}`);
    return r.stderr.trim();
  };
  return { ok, refused };
}

/**
 * `skiff up` as a user runs it, for end-to-end tests: the real CLI in a child process on a temp
 * data directory and a free port, and the real kubectl against the kubeconfig it writes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { claimLoopbackSlot } from './loopback-slots.js';
import { until } from './until.js';

export interface SkiffUp {
  child: ChildProcess;
  /**
   * The first three parts of its service range (`127.96.<k>`): a /24 of its own, so that clusters
   * of tests running at once on this machine never share a ClusterIP (their proxies would answer
   * for each other), the kubernetes Service's `.1` and cluster DNS's `.10` least of all. Its pods'
   * addresses are as much its own (test/support/loopback-slots.ts).
   */
  servicePrefix: string;
  /** Where its nodes' pod ranges come from: a /16 of its own, likewise. */
  clusterCidr: string;
  kubeconfig: string;
  output(): string;
  /** Runs kubectl against this cluster. */
  kubectl(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

let started = 0;

export function startSkiffUp(dataDir: string, args: string[] = []): Promise<SkiffUp> {
  const slot = claimLoopbackSlot();
  const { servicePrefix } = slot;
  const ranges = [
    ...(args.includes('--service-cidr') ? [] : ['--service-cidr', `${servicePrefix}.0/24`]),
    ...(args.includes('--cluster-cidr') ? [] : ['--cluster-cidr', slot.clusterCidr]),
  ];
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/skiff.ts', 'up', '--data-dir', dataDir, '--port', '0', ...ranges, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  void exited.then(() => slot.release());
  return new Promise((resolve, reject) => {
    // The AWS shape starts DynamoDB Local, four functions and the relay: on a loaded machine, slower.
    const limitMs = args.includes('aws-local') ? 150_000 : 60_000;
    const timer = setTimeout(() => reject(new Error(`skiff up did not come up within ${limitMs / 1000} s:\n${out}`)), limitMs);
    const check = setInterval(() => {
      const m = /export KUBECONFIG=(\S+)/.exec(out);
      if (!m) return;
      clearInterval(check);
      clearTimeout(timer);
      const kubeconfig = m[1];
      resolve({
        child,
        servicePrefix,
        clusterCidr: args.includes('--cluster-cidr') ? args[args.indexOf('--cluster-cidr') + 1] : slot.clusterCidr,
        kubeconfig,
        output: () => out,
        kubectl: (kargs, options = {}) =>
          new Promise((done) => {
            const k = spawn('kubectl', kargs, { env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dataDir, '..', 'kube-cache') } });
            let stdout = '';
            let stderr = '';
            k.stdout.on('data', (d) => (stdout += String(d)));
            k.stderr.on('data', (d) => (stderr += String(d)));
            const t = options.timeoutMs ? setTimeout(() => k.kill('SIGINT'), options.timeoutMs) : undefined;
            k.on('close', (code) => {
              clearTimeout(t);
              done({ code: code ?? -1, stdout, stderr });
            });
            k.stdin.end(options.input);
          }),
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    }, 50);
    child.once('exit', (code) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`skiff up exited ${code}:\n${out}`));
    });
  });
}

/**
 * One `skiff up` for all of a test file's cases (call at the file's top level): started before
 * them on a data dir under `dir`, stopped after them, `dir` then removed.
 */
export function skiffUpForFile(prefix: string, args: string[]): { dir: string; cluster: () => SkiffUp } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let cluster: SkiffUp | undefined;
  beforeAll(async () => {
    cluster = await startSkiffUp(join(dir, 'data'), args);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
  return {
    dir,
    cluster: () => {
      if (!cluster) throw new Error('skiff up has not started');
      return cluster;
    },
  };
}

/** kubectl against the cluster (a long time limit: CI machines are slow), and `ok`: its stdout, or a throw with its stderr. */
export function kubectlOf(cluster: () => SkiffUp) {
  const kubectl = (args: string[], input?: string) => cluster().kubectl(args, { input, timeoutMs: 90_000 });
  const ok = async (args: string[], input?: string) => {
    const r = await kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return { kubectl, ok };
}

/** `until`, polling at a pace that suits a kubectl call per look. */
export const eventually = <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> => until(what, check, timeoutMs, 200);

/**
 * Looks a Service's name up from a pod (busybox's nslookup, asking the kube-dns Service's address,
 * as a process-runtime pod must: it shares the host's resolver) until the answer holds the
 * Service's address (a node's DNS learns a new Service within its proxy's poll), and answers what
 * it printed last, with the Service's and kube-dns's addresses.
 */
export async function lookUp(cluster: SkiffUp, name: string): Promise<{ output: string; clusterIP: string; dnsIP: string }> {
  const [service, namespace] = name.split('.');
  const clusterIP = (await cluster.kubectl(['get', 'svc', '-n', namespace, service, '-o', 'jsonpath={.spec.clusterIP}'])).stdout.trim();
  const dnsIP = (await cluster.kubectl(['get', 'svc', '-n', 'kube-system', 'kube-dns', '-o', 'jsonpath={.spec.clusterIP}'])).stdout.trim();
  let output = '';
  for (let attempt = 0; attempt < 6 && !output.includes(clusterIP); attempt++) {
    const probe = `dns-probe-${started++}`;
    const run = await cluster.kubectl(['run', probe, '--image=busybox', '--restart=Never', '--command', '--', 'busybox', 'nslookup', name, dnsIP]);
    if (run.code !== 0) throw new Error(`kubectl run ${probe}: ${run.stderr}`);
    await eventually(`${probe} done`, async () =>
      ['Succeeded', 'Failed'].includes((await cluster.kubectl(['get', 'pod', probe, '-o', 'jsonpath={.status.phase}'])).stdout),
    );
    output = (await cluster.kubectl(['logs', probe])).stdout;
    await cluster.kubectl(['delete', 'pod', probe, '--wait=false']);
  }
  return { output, clusterIP, dnsIP };
}

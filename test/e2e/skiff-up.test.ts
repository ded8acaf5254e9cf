/**
 * `skiff up` (what `npm start` runs): it prints how to reach it, kubectl works against it,
 * it stops on SIGTERM, and started again on the same data directory it has its state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'skiff-up-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(): Promise<{ child: ChildProcess; output: () => string; kubeconfig: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/skiff.ts', 'up', '--data-dir', join(dir, 'data'), '--port', '0', '--nodes', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`skiff up did not come up:\n${out}`)), 30_000);
    const check = setInterval(() => {
      const m = /export KUBECONFIG=(\S+)/.exec(out);
      if (m) {
        clearInterval(check);
        clearTimeout(timer);
        resolve({ child, output: () => out, kubeconfig: m[1] });
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`skiff up exited ${code}:\n${out}`));
    });
  });
}

function kubectl(kubeconfig: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('kubectl', args, { env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'cache') } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('skiff up', () => {
  it('comes up, serves kubectl, stops on SIGTERM, and keeps its state across a restart', async () => {
    const first = await start();
    expect(first.output()).toMatch(/api\s+https:\/\/127\.0\.0\.1:\d+/);
    const created = await kubectl(first.kubeconfig, ['create', 'configmap', 'kept', '--from-literal=survives=restart']);
    expect(created.code, created.stderr).toBe(0);
    // The controllers run: a Deployment gets its ReplicaSet and pods, which wait for workers
    // (none here: `--nodes 0`; test/e2e/local-workers.test.ts runs pods).
    expect((await kubectl(first.kubeconfig, ['create', 'deployment', 'web', '--image=nginx:1.25', '--replicas=2'])).code).toBe(0);
    const deadline = Date.now() + 15_000;
    let pods = '';
    while (Date.now() < deadline) {
      pods = (await kubectl(first.kubeconfig, ['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.status.conditions[0].message}{"\\n"}{end}']))
        .stdout;
      if (pods.trim().split('\n').filter(Boolean).length === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(pods.trim().split('\n')).toEqual(['no nodes available to schedule pods', 'no nodes available to schedule pods']);
    expect((await kubectl(first.kubeconfig, ['get', 'rs', '-o', 'name'])).stdout).toMatch(/^replicaset\.apps\/web-[a-z0-9]+$/m);
    expect(await stop(first.child)).toBe(0);
    expect(first.output()).toContain('stopped');

    const second = await start();
    try {
      const got = await kubectl(second.kubeconfig, ['get', 'configmap', 'kept', '-o', 'jsonpath={.data.survives}']);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout).toBe('restart');
      // The same kubeconfig (CA and token) still works after the restart.
      expect(second.kubeconfig).toBe(first.kubeconfig);
    } finally {
      await stop(second.child);
    }
  }, 90_000);

  it('refuses address ranges it cannot use, naming them, before it starts anything', async () => {
    const refused = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'cli/skiff.ts', 'up', '--data-dir', join(dir, 'refused'), '--port', '0', ...args]);
        let out = '';
        child.stderr.on('data', (d) => (out += String(d)));
        child.once('exit', (code) => resolve({ code, out }));
      });
    const narrow = await refused(['--cluster-cidr', '127.16.0.0/26']);
    expect(narrow).toEqual({ code: 1, out: 'skiff: the cluster range "127.16.0.0/26" must be /24 or wider: each node takes a /24 of it\n' });
    const garbled = await refused(['--service-cidr', '127.96.0/16']);
    expect(garbled).toEqual({ code: 1, out: 'skiff: the service range "127.96.0/16" is not an IPv4 CIDR of /8 to /30\n' });
  }, 30_000);
});

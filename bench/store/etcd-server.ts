/**
 * Runs a real etcd (Debian's etcd-server) on loopback ports with a private data dir and
 * fsync on, the way Kubernetes runs it: the yardstick the store benchmark compares with.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../emulators/free-port.js';

export interface EtcdServer {
  endpoint: string;
  stop(): Promise<void>;
}

function hasEtcd(): boolean {
  try {
    execSync('command -v etcd', { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
}

/** Installs etcd-server when it is missing and we are root; throws with a clear reason otherwise. */
export function ensureEtcdInstalled(): void {
  if (hasEtcd()) return;
  if (process.getuid?.() !== 0) throw new Error('etcd is not installed (Debian package etcd-server) and we are not root to install it');
  execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server', {
    stdio: 'inherit',
    shell: '/bin/sh',
  });
}

export async function startEtcd(): Promise<EtcdServer> {
  ensureEtcdInstalled();
  const dataDir = mkdtempSync(join(tmpdir(), 'skiff-bench-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc: ChildProcess = spawn(
    'etcd',
    [
      '--name',
      'bench',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `bench=${peer}`,
      '--log-level',
      'error',
      '--quota-backend-bytes',
      String(8 * 2 ** 30),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d) => (stderr += String(d)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`etcd exited with ${proc.exitCode}: ${stderr.slice(-2000)}`);
    try {
      const res = await fetch(`${client}/health`);
      if (res.ok && ((await res.json()) as { health?: string }).health === 'true') break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`etcd did not become healthy: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint: client,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

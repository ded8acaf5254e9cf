/**
 * A private Docker engine for the tests and for aws-local's ECS emulator: Debian's dockerd with its own socket, data-root and
 * exec-root under a temp dir, so it never touches a system engine, and a busybox image made by
 * `docker import` of a tarball built from Debian's busybox-static (no registry is reachable).
 *
 * The engine runs without a bridge or iptables rules (`--bridge=none`): containers use the
 * host's network namespace, so everything a test reaches stays on loopback.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BUSYBOX_IMAGE = 'skiff-test/busybox:1';

const BUSYBOX_BINARY = '/bin/busybox';

export interface DockerEngine {
  socketPath: string;
  /** `DOCKER_HOST` value for the docker CLI. */
  host: string;
  /** Runs the docker CLI against this engine; returns stdout. */
  docker(args: string[], input?: Buffer): string;
  stop(): Promise<void>;
}

/** One call of the Engine API on its unix socket: the status and the parsed JSON answer (if any). */
export function engineApi(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const headers = payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {};
    const req = request({ socketPath, path, method, timeout: 10_000, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`docker ${method} ${path} timed out`)));
    req.end(payload);
  });
}

const ping = async (socketPath: string) => (await engineApi(socketPath, 'GET', '/_ping')).status;

/** Starts dockerd in a fresh temp dir and waits until it answers. */
export async function startDockerEngine(): Promise<DockerEngine> {
  if (!existsSync('/usr/sbin/dockerd') && !existsSync('/usr/bin/dockerd')) {
    throw new Error('dockerd is not installed: `npm test` installs Debian docker.io when run as root');
  }
  const root = mkdtempSync(join(tmpdir(), 'skiff-dockerd-'));
  const socketPath = join(root, 'docker.sock');
  const host = `unix://${socketPath}`;
  const proc: ChildProcess = spawn(
    'dockerd',
    [
      '--host',
      host,
      '--data-root',
      join(root, 'data'),
      '--exec-root',
      join(root, 'exec'),
      '--pidfile',
      join(root, 'docker.pid'),
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: false },
  );
  let log = '';
  proc.stderr?.on('data', (d) => (log = (log + String(d)).slice(-8000)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`dockerd exited with ${proc.exitCode}:\n${log}`);
    try {
      if ((await ping(socketPath)) === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`dockerd did not answer within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const docker = (args: string[], input?: Buffer) =>
    execFileSync('docker', ['-H', host, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    socketPath,
    host,
    docker,
    async stop() {
      try {
        const ids = docker(['ps', '-aq']).split('\n').filter(Boolean);
        if (ids.length) docker(['rm', '-f', ...ids]);
        // A bridge network's interface outlives the engine: remove the networks while it runs.
        docker(['network', 'prune', '-f']);
      } catch {
        /* the engine may already be gone */
      }
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      // Overlay mounts under data-root must go before the folder can.
      try {
        execFileSync('sh', ['-c', `grep -o '${root}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`], { stdio: 'ignore' });
      } catch {
        /* nothing mounted */
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Makes `BUSYBOX_IMAGE` in the engine: a root filesystem holding the static busybox with a
 * link per applet (sh, sleep, echo, cat, httpd, nc, wget, ...), imported as one layer.
 */
export function importBusyboxImage(engine: DockerEngine, tag = BUSYBOX_IMAGE): string {
  if (!existsSync(BUSYBOX_BINARY)) throw new Error(`${BUSYBOX_BINARY} is missing: install Debian busybox-static`);
  const work = mkdtempSync(join(tmpdir(), 'skiff-busybox-'));
  try {
    const rootfs = join(work, 'rootfs');
    for (const dir of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'var/www']) mkdirSync(join(rootfs, dir), { recursive: true });
    copyFileSync(BUSYBOX_BINARY, join(rootfs, 'bin/busybox'));
    const applets = execFileSync(BUSYBOX_BINARY, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const applet of applets) {
      if (applet !== 'busybox') symlinkSync('busybox', join(rootfs, 'bin', applet));
    }
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    const tarball = join(work, 'rootfs.tar');
    execFileSync('tar', ['-C', rootfs, '-cf', tarball, '.']);
    engine.docker(['import', '--change', 'ENV PATH=/bin', '--change', 'CMD ["sh"]', tarball, tag]);
    return tag;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

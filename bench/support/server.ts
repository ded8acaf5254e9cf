/**
 * A benchmark's server in its own process, so it has a core to itself: runs `script` (a
 * bench's server.ts) with a fresh temp data directory, reads the target (URL, token, CA) from
 * its first line of output, and stops it (SIGTERM, SIGKILL after 10 s) and its directory.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Target {
  url: string;
  token: string;
  ca: string;
}

export interface BenchServer {
  target: Target;
  stop(): Promise<void>;
}

export async function startBenchServer(
  script: string,
  options: { cwd?: string; nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
  });
  const target = await new Promise<Target>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as Target);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return {
    target,
    async stop() {
      // Stopping twice is stopping once.
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

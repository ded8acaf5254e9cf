/**
 * The `process` runtime: each container is a host process in its own process group, started
 * by a detached shim (`process-shim.mjs`) that writes its timestamped output and its exit code
 * into the container's state folder. Everything lives under `root`, one folder per container,
 * so a restarted kubelet finds what it started (`list`). The image is not used: a process
 * container runs its `command` and `args` on the host. Memory limits are not enforced.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContainerSpec, ContainerStatus, LogOptions, Runtime } from './types.js';

const SHIM = join(dirname(fileURLToPath(import.meta.url)), 'process-shim.mjs');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ProcessRuntime implements Runtime {
  readonly name = 'process';

  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  private dir(id: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new Error(`not a container id: ${id}`);
    return join(this.root, id);
  }

  async start(spec: ContainerSpec): Promise<ContainerStatus> {
    if (spec.command.length + spec.args.length === 0) throw new Error(`container ${spec.name}: the process runtime needs a command (it does not read images)`);
    const id = `${spec.podUid}_${spec.name}_${spec.attempt}`;
    const dir = this.dir(id);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    writeFileSync(join(dir, 'started'), new Date().toISOString());
    writeFileSync(join(dir, 'container.log'), '');
    const shim = spawn(process.execPath, [SHIM, dir], { detached: true, stdio: 'ignore' });
    shim.unref();
    const deadline = Date.now() + 10_000;
    while (!existsSync(join(dir, 'pid')) && !existsSync(join(dir, 'exit.json'))) {
      if (Date.now() > deadline) throw new Error(`container ${spec.name} did not start within 10 s`);
      await sleep(5);
    }
    return this.inspect(id);
  }

  async inspect(id: string): Promise<ContainerStatus> {
    const dir = this.dir(id);
    if (!existsSync(join(dir, 'spec.json'))) throw new Error(`no container ${id}`);
    const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')) as ContainerSpec;
    const startedAt = readFileSync(join(dir, 'started'), 'utf8');
    const pid = existsSync(join(dir, 'pid')) ? Number(readFileSync(join(dir, 'pid'), 'utf8')) : undefined;
    if (existsSync(join(dir, 'exit.json'))) {
      const exit = JSON.parse(readFileSync(join(dir, 'exit.json'), 'utf8')) as { exitCode: number; signal?: string; finishedAt: string };
      return { id, spec, state: 'exited', exitCode: exit.exitCode, signal: exit.signal, startedAt, finishedAt: exit.finishedAt, pid };
    }
    if (pid !== undefined && !alive(pid)) {
      // The process and its shim are gone without a record (the machine restarted): it exited.
      return { id, spec, state: 'exited', exitCode: 137, startedAt, finishedAt: new Date().toISOString(), pid };
    }
    return { id, spec, state: 'running', startedAt, pid };
  }

  async stop(id: string, gracePeriodMs: number): Promise<ContainerStatus> {
    let status = await this.inspect(id);
    if (status.state === 'exited' || status.pid === undefined) return status;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-status.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + gracePeriodMs;
    while ((status = await this.inspect(id)).state === 'running' && Date.now() < deadline) await sleep(20);
    if (status.state === 'running') {
      signal('SIGKILL');
      for (let i = 0; i < 250 && (status = await this.inspect(id)).state === 'running'; i++) await sleep(20);
    }
    return status;
  }

  async remove(id: string): Promise<void> {
    const dir = this.dir(id);
    if (!existsSync(dir)) return;
    const status = await this.inspect(id).catch(() => undefined);
    if (status?.state === 'running') throw new Error(`container ${id} is running: stop it first`);
    rmSync(dir, { recursive: true, force: true });
  }

  async list(): Promise<ContainerStatus[]> {
    const out: ContainerStatus[] = [];
    for (const id of readdirSync(this.root)) {
      if (existsSync(join(this.root, id, 'spec.json'))) out.push(await this.inspect(id));
    }
    return out;
  }

  async logs(id: string, options: LogOptions = {}): Promise<string> {
    const text = readFileSync(join(this.dir(id), 'container.log'), 'utf8');
    let lines = text.split('\n').filter(Boolean);
    if (options.sinceSeconds !== undefined) {
      const since = Date.now() - options.sinceSeconds * 1000;
      lines = lines.filter((l) => Date.parse(l.slice(0, l.indexOf(' '))) >= since);
    }
    if (options.tailLines !== undefined) lines = options.tailLines > 0 ? lines.slice(-options.tailLines) : [];
    if (!options.timestamps) lines = lines.map((l) => l.slice(l.indexOf(' ') + 1));
    return lines.length ? lines.join('\n') + '\n' : '';
  }
}

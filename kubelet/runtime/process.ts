/**
 * The `process` runtime: each container is a host process in its own process group, started
 * by a detached shim (`process-shim.mjs`) that writes its timestamped output and its exit code
 * into the container's state folder. Everything lives under `root`, one folder per container,
 * so a restarted kubelet finds what it started (`list`). The image is not used: a process
 * container runs its `command` and `args` on the host. Its volumes are bind-mounted in a mount
 * namespace of its own (util-linux `unshare`) when the kubelet runs as root, and refused with
 * the reason otherwise; the service-account token and resolv.conf, which every pod has, are
 * then only named in `SKIFF_MOUNTS`. Memory limits are not enforced.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostSession } from './host-session.js';
import {
  DEFAULT_LOG_MAX_BYTES,
  SecurityRefusal,
  type ContainerSpec,
  type ContainerStatus,
  type ExecResult,
  type LogOptions,
  type Runtime,
  type StreamOptions,
  type StreamSession,
  type Usage,
} from './types.js';

/** Set by the kubelet's one-file build (kubelet/bundle.ts): the shim's source, which has no file beside the bundle. */
declare const SKIFF_PROCESS_SHIM_SOURCE: string | undefined;

/** The shim's file: beside this module, or written out once from the bundle's copy. */
function shimFile(): string {
  if (typeof SKIFF_PROCESS_SHIM_SOURCE === 'undefined') return join(dirname(fileURLToPath(import.meta.url)), 'process-shim.mjs');
  const file = join(dirname(fileURLToPath(import.meta.url)), 'skiff-process-shim.mjs');
  if (!existsSync(file) || readFileSync(file, 'utf8') !== SKIFF_PROCESS_SHIM_SOURCE) writeFileSync(file, SKIFF_PROCESS_SHIM_SOURCE);
  return file;
}
const SHIM = shimFile();

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

  /**
   * The user a container's process runs as, or the refusal of what this runtime cannot give: a
   * host process has no read-only root, no capabilities to add and no no_new_privs to set; it
   * can change its user only when the kubelet runs as root, and then root has every capability,
   * so dropping them is possible only by not being root.
   */
  private userFor(spec: ContainerSpec): { uid: number; gid: number } | undefined {
    const s = spec.security ?? {};
    const self = process.getuid?.() ?? 0;
    const refuse = (why: string) => new SecurityRefusal(`the process runtime cannot give container ${spec.name} ${why}`);
    if (s.readOnlyRootFilesystem) throw refuse('a read-only root filesystem');
    if (s.privileged) throw refuse('privileged mode');
    if (s.capabilities?.add?.length) throw refuse(`the capabilities ${s.capabilities.add.join(', ')}`);
    if (s.allowPrivilegeEscalation === false) throw refuse('allowPrivilegeEscalation: false (no_new_privs)');
    if (s.runAsUser !== undefined && s.runAsUser !== self && self !== 0)
      throw refuse(`runAsUser ${s.runAsUser}: the kubelet runs as ${self}, not as root, and cannot change user`);
    const uid = s.runAsUser ?? self;
    if (s.runAsNonRoot && uid === 0) throw new SecurityRefusal(`container has runAsNonRoot and image will run as root (container: ${spec.name})`);
    if (s.capabilities?.drop?.length && uid === 0) throw refuse('dropped capabilities while running as root');
    if (self !== 0 || s.runAsUser === undefined) return undefined;
    // Without runAsGroup, the user's number for its group too: never root's group by default.
    return { uid, gid: s.runAsGroup ?? uid };
  }

  async start(asked: ContainerSpec): Promise<ContainerStatus> {
    const spec = { ...withMountsInEnv(asked), bind: bindsOf(asked) };
    if (spec.command.length + spec.args.length === 0) throw new Error(`container ${spec.name}: the process runtime needs a command (it does not read images)`);
    const user = this.userFor(spec);
    const id = `${spec.podUid}_${spec.name}_${spec.attempt}`;
    const dir = this.dir(id);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'spec.json'), JSON.stringify({ logMaxBytes: DEFAULT_LOG_MAX_BYTES, ...spec, user }));
    writeFileSync(join(dir, 'started'), new Date().toISOString());
    writeFileSync(join(dir, 'container.log'), '');
    const shim = spawn(process.execPath, [SHIM, dir], { detached: true, stdio: 'ignore' });
    shim.unref();
    writeFileSync(join(dir, 'shim.pid'), String(shim.pid));
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
    const shimPid = existsSync(join(dir, 'shim.pid')) ? Number(readFileSync(join(dir, 'shim.pid'), 'utf8')) : undefined;
    // The process has ended but its shim is still writing the exit record: running a moment more.
    if (pid !== undefined && !alive(pid) && !(shimPid !== undefined && alive(shimPid))) {
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
    this.removeMountPoints(id);
    rmSync(dir, { recursive: true, force: true });
  }

  /**
   * The mount points the shim made on the host for this container (`created.json`), removed
   * while empty and no other container of this runtime made them too.
   */
  private removeMountPoints(id: string): void {
    const made = (c: string): string[] => {
      try {
        return JSON.parse(readFileSync(join(this.root, c, 'created.json'), 'utf8')) as string[];
      } catch {
        return [];
      }
    };
    const others = new Set(
      readdirSync(this.root)
        .filter((c) => c !== id)
        .flatMap(made),
    );
    for (const path of made(id).reverse()) {
      if (others.has(path) || mountedElsewhere(path)) continue;
      try {
        if (statSync(path).isDirectory()) rmdirSync(path);
        else if (statSync(path).size === 0) rmSync(path);
      } catch {
        /* not empty, or gone */
      }
    }
  }

  async list(): Promise<ContainerStatus[]> {
    const out: ContainerStatus[] = [];
    for (const id of readdirSync(this.root)) {
      if (existsSync(join(this.root, id, 'spec.json'))) out.push(await this.inspect(id));
    }
    return out;
  }

  async logs(id: string, options: LogOptions = {}): Promise<string> {
    const dir = this.dir(id);
    const rotated = join(dir, 'container.log.1');
    const text = (existsSync(rotated) ? readFileSync(rotated, 'utf8') : '') + readFileSync(join(dir, 'container.log'), 'utf8');
    return formatLines(text.split('\n').filter(Boolean), options);
  }

  async followLogs(id: string, options: LogOptions, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
    const file = join(this.dir(id), 'container.log');
    const first = await this.logs(id, options);
    if (first) onText(first);
    let offset = statSync(file).size;
    let partial = '';
    while (!signal.aborted) {
      const exited = (await this.inspect(id)).state === 'exited';
      let size = 0;
      try {
        size = statSync(file).size;
      } catch {
        return; // removed
      }
      if (size < offset) offset = 0; // rotated: the new file starts over
      if (size > offset) {
        const buffer = readFileSync(file).subarray(offset, size);
        offset = size;
        const text = partial + buffer.toString('utf8');
        const end = text.lastIndexOf('\n');
        partial = text.slice(end + 1);
        const lines = text
          .slice(0, end + 1)
          .split('\n')
          .filter(Boolean);
        const out = formatLines(lines, { timestamps: options.timestamps });
        if (out) onText(out);
      } else if (exited) {
        return;
      }
      await sleep(100);
    }
  }

  /** The CPU time and resident memory of the container's process group: its process and all it started. */
  async usage(id: string): Promise<Usage | undefined> {
    const status = await this.inspect(id);
    if (status.state !== 'running' || status.pid === undefined) return undefined;
    return processGroupUsage(status.pid);
  }

  /** A command run in a container has its environment, on the host's PATH and HOME. */
  private execEnv(spec: ContainerSpec): Record<string, string> {
    return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...spec.env };
  }

  async exec(id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
    const status = await this.inspect(id);
    if (status.state !== 'running') return { exitCode: 126, output: `container ${status.spec.name} is not running`, timedOut: false };
    return runCommand(inNamespace(status, command), { cwd: status.spec.workingDir || undefined, env: this.execEnv(status.spec) }, timeoutMs);
  }

  async execStream(id: string, command: string[], options: StreamOptions): Promise<StreamSession> {
    const status = await this.inspect(id);
    if (status.state !== 'running') throw new Error(`container ${status.spec.name} is not running`);
    return hostSession(inNamespace(status, command), { cwd: status.spec.workingDir || undefined, env: this.execEnv(status.spec) }, options);
  }

  /**
   * `kubectl attach`: the container's output from now on, and, when the pod asked for `stdin`,
   * what the caller types, written into the FIFO the shim feeds the process from. No terminal:
   * a host process runs without one.
   */
  async attach(id: string, options: StreamOptions): Promise<StreamSession> {
    const status = await this.inspect(id);
    if (status.state !== 'running') throw new Error(`container ${status.spec.name} is not running`);
    const stdout = new PassThrough();
    const abort = new AbortController();
    const followed = this.followLogs(id, { tailLines: 0 }, (text) => stdout.write(text), abort.signal)
      .catch(() => undefined)
      .finally(() => stdout.end());
    const fifo = join(this.root, id, 'stdin');
    const stdin = options.stdin && status.spec.stdin && existsSync(fifo) ? createWriteStream(fifo) : undefined;
    stdin?.on('error', () => undefined);
    return {
      stdin,
      stdout,
      resize: () => undefined,
      exited: followed.then(async () => (await this.inspect(id).catch(() => undefined))?.exitCode ?? 0),
      close: () => {
        abort.abort();
        stdin?.end();
      },
    };
  }
}

const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** /proc's CPU times are in clock ticks (USER_HZ, 100 on Linux); resident sizes in pages of 4 KiB. */
const TICK_NS = 1e7;
const PAGE_BYTES = 4096;

/** The last read of /proc, by process group: one read serves every container a sample asks about. */
let groupsRead: { at: number; groups: Map<number, Usage> } | undefined;

/** CPU time (user and system) and resident memory summed per process group, from one pass over /proc. */
function processGroups(): Map<number, Usage> {
  if (groupsRead && Date.now() - groupsRead.at < 200) return groupsRead.groups;
  const groups = new Map<number, Usage>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // After `pid (comm)`: state ppid pgrp ... utime (14th field) stime (15th) ... rss (24th).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    const group = groups.get(pgrp) ?? { cpuNanos: 0, memoryBytes: 0 };
    group.cpuNanos += (Number(fields[11]) + Number(fields[12])) * TICK_NS;
    group.memoryBytes += Number(fields[21]) * PAGE_BYTES;
    groups.set(pgrp, group);
  }
  groupsRead = { at: Date.now(), groups };
  return groups;
}

/** The CPU time (user and system) and resident memory of every process in the group `pgid`. */
function processGroupUsage(pgid: number): Usage {
  return processGroups().get(pgid) ?? { cpuNanos: 0, memoryBytes: 0 };
}

/**
 * Whether `path` is a mount point in some process's mount namespace: a container of any kubelet
 * on this host binding a volume there. Removing it then (an empty folder, as the host sees it)
 * would detach that container's volume, so it stays until the last such container goes.
 */
function mountedElsewhere(path: string): boolean {
  const seen = new Set<string>();
  const field = ` ${path.replace(/ /g, '\\040')} `;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const ns = readlinkSync(`/proc/${pid}/ns/mnt`);
      if (seen.has(ns)) continue;
      seen.add(ns);
      if (readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(field)) return true;
    } catch {
      /* gone, or not ours to read */
    }
  }
  return false;
}

/**
 * The mounts the shim binds in the process's own mount namespace. Without root there is none
 * to make: the service-account token and resolv.conf (every pod has them) are only named in
 * `SKIFF_MOUNTS`, and any other volume is refused, with the reason.
 */
function bindsOf(spec: ContainerSpec): ContainerSpec['bind'] {
  const wanted = (spec.mounts ?? []).filter((m) => !m.hostKeepsOwn);
  if (process.getuid?.() === 0) return wanted.length ? wanted : undefined;
  const refused = wanted.find((m) => m.containerPath !== TOKEN_PATH);
  if (refused)
    throw new SecurityRefusal(
      `the process runtime cannot mount a volume at ${refused.containerPath} for container ${spec.name}: bind mounts need a mount namespace of the container's own, which needs the kubelet to run as root`,
    );
  return undefined;
}

/** A command run in a container with mounts of its own runs in its mount namespace. */
function inNamespace(status: ContainerStatus, command: string[]): string[] {
  if (!status.spec.bind?.length || !status.pid) return command;
  // Entering a mount namespace leaves the caller at its root: the container's working dir again.
  const wd = status.spec.workingDir ? `--wd=${status.spec.workingDir}` : '--wd';
  // A command that is not there is said as the runtime says it outside a namespace.
  const run = 'command -v "$0" >/dev/null 2>&1 || { printf \'exec: "%s": executable file not found in $PATH\\n\' "$0" >&2; exit 127; }; exec "$0" "$@"';
  return ['nsenter', `--target=${status.pid}`, '--mount', wd, '--', '/bin/sh', '-c', run, ...command];
}

/** The mounts a host process cannot have at their paths, named in its environment too. */
function withMountsInEnv(spec: ContainerSpec): ContainerSpec {
  if (!spec.mounts?.length) return spec;
  return { ...spec, env: { ...spec.env, SKIFF_MOUNTS: JSON.stringify(Object.fromEntries(spec.mounts.map((m) => [m.containerPath, m.hostPath]))) } };
}

/** Applies sinceSeconds, tailLines and timestamps to log lines that each start with an RFC 3339 time and a space. */
export function formatLines(lines: string[], options: LogOptions): string {
  if (options.sinceSeconds !== undefined) {
    const since = Date.now() - options.sinceSeconds * 1000;
    lines = lines.filter((l) => Date.parse(l.slice(0, l.indexOf(' '))) >= since);
  }
  if (options.tailLines !== undefined) lines = options.tailLines > 0 ? lines.slice(-options.tailLines) : [];
  if (!options.timestamps) lines = lines.map((l) => l.slice(l.indexOf(' ') + 1));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Runs a host command with a time limit, in its own process group (killed whole on timeout). */
export function runCommand(command: string[], options: { cwd?: string; env: Record<string, string> }, timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    const [file, ...args] = command;
    let output = '';
    let timedOut = false;
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const collect = (chunk: Buffer) => {
      if (output.length < 10_240) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ exitCode: 127, output: err.message, timedOut: false });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: timedOut ? 137 : (code ?? 1), output, timedOut });
    });
  });
}

/**
 * A worker of an emulated cloud as a process of this machine, in a process group of its own:
 * an EC2 instance's user data, or an ECS task whose image no local engine holds (the kubelet's).
 * Stopping it signals the whole group, SIGTERM and then SIGKILL, as the cloud stops a worker;
 * and, as a terminated instance keeps nothing running, every process it started is killed at the
 * end, even those in process groups of their own (the process runtime's containers).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface HostProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (128 + n for signal n) once the process has ended. */
  readonly exited: Promise<number>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs: number): Promise<number>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Every process below `root` now (children, theirs, ...), from /proc. */
function descendants(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid ...: the command may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* gone meanwhile */
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      queue.push(child);
      found.push(child);
    }
  }
  return found;
}

const kill = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
};

export function startHostProcess(command: string[], env: Record<string, string>, onOutput: (chunk: Buffer) => void): HostProcess {
  const child = spawn(command[0], command.slice(1), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', ...env },
  });
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    child.once('exit', (code, signal) => resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 1)));
  });
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), name);
    } catch {
      /* already gone */
    }
  };
  return {
    child,
    exited,
    async stop(graceMs) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return exited;
      const tree = descendants(child.pid);
      signal('SIGTERM');
      const force = setTimeout(() => signal('SIGKILL'), graceMs);
      const code = await exited.finally(() => clearTimeout(force));
      // What it started and left behind goes too, as on a machine that is switched off.
      for (const pid of tree) for (const below of [pid, ...descendants(pid)]) kill(below, 'SIGKILL');
      return code;
    },
  };
}

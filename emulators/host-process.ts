/**
 * A worker of an emulated cloud as a process of this machine, in a process group of its own:
 * an EC2 instance's user data, or an ECS task whose image no local engine holds (the kubelet's).
 * Stopping it signals the whole group, SIGTERM and then SIGKILL, as the cloud stops a worker.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface HostProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (128 + n for signal n) once the process has ended. */
  readonly exited: Promise<number>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs: number): Promise<number>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

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
    stop(graceMs) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return exited;
      signal('SIGTERM');
      const force = setTimeout(() => signal('SIGKILL'), graceMs);
      return exited.finally(() => clearTimeout(force));
    },
  };
}

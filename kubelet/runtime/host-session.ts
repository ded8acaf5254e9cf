/**
 * An interactive command on this machine, for the process runtime's `kubectl exec`: its stdin,
 * stdout and stderr as pipes; or, with a TTY, a pseudo-terminal made by util-linux's `script`
 * (always installed on Debian: no native module), whose size is set with `stty` on the terminal
 * of the command `script` started, so the command gets its SIGWINCH as under any terminal.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { StreamOptions, StreamSession } from './types.js';

/** A command word for `sh -c`, quoted. */
const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`);

/** The terminal of the command `script` runs: its child's stdin. */
function terminalOf(scriptPid: number): string | undefined {
  try {
    const child = readFileSync(`/proc/${scriptPid}/task/${scriptPid}/children`, 'utf8').trim().split(' ')[0];
    if (!child) return undefined;
    const tty = readlinkSync(`/proc/${child}/fd/0`);
    return tty.startsWith('/dev/pts/') ? tty : undefined;
  } catch {
    return undefined;
  }
}

/** The command, started in a terminal of `size`. */
const sized = (line: string, size: StreamOptions['size']) => (size ? `stty rows ${size.height} cols ${size.width} 2>/dev/null; exec ${line}` : line);

export function hostSession(command: string[], where: { cwd?: string; env: Record<string, string> }, options: StreamOptions): StreamSession {
  const [file, ...args] = command;
  const child = options.tty
    ? spawn('script', ['--quiet', '--return', '--command', sized(command.map(quote).join(' '), options.size), '/dev/null'], {
        cwd: where.cwd,
        env: { TERM: 'xterm', ...where.env, SHELL: '/bin/sh' },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      })
    : spawn(file, args, { cwd: where.cwd, env: where.env, stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true });
  // What the caller reads ends only once the command has, with a line saying why when it could not start.
  const stderr = new PassThrough();
  child.stderr!.pipe(stderr, { end: false });
  const exited = new Promise<number>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      stderr.end(`exec: ${JSON.stringify(file)}: ${err.code === 'ENOENT' ? 'executable file not found in $PATH' : err.message}\n`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('close', (code, signal) => {
      stderr.end();
      resolve(code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1));
    });
  });
  let pending: { width: number; height: number } | undefined;
  let tries = 0;
  const applySize = () => {
    const size = pending;
    const tty = child.pid && terminalOf(child.pid);
    if (!size) return;
    // The terminal appears once `script` has started its command: ask again shortly.
    if (!tty) {
      if (tries++ < 50 && child.exitCode === null) setTimeout(applySize, 20);
      return;
    }
    pending = undefined;
    execFile('stty', ['-F', tty, 'rows', String(size.height), 'cols', String(size.width)], () => undefined);
  };
  return {
    stdin: options.stdin || options.tty ? (child.stdin ?? undefined) : undefined,
    stdout: child.stdout!,
    stderr: options.tty ? undefined : stderr,
    resize(size) {
      if (!options.tty) return;
      pending = size;
      tries = 0;
      applySize();
    },
    exited,
    close() {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    },
  };
}

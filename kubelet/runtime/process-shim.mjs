#!/usr/bin/env node
// The per-container shim of the `process` runtime (plain JavaScript: it runs without tsx).
// Started detached, it outlives the kubelet: it starts the container's process in its own
// process group, writes every output line with its timestamp to the log, and records the exit
// code (or signal) when the process ends. The kubelet signals the process group directly.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const dir = process.argv[2];
const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'));
const log = join(dir, 'container.log');
const maxBytes = spec.logMaxBytes || 10 * 2 ** 20;
let written = 0;
try {
  written = statSync(log).size;
} catch {
  written = 0;
}
// Appends whole lines to the log, rotating it past maxBytes: one rotated file (container.log.1)
// is kept, so the log never holds much more than twice the limit.
function append(text) {
  let start = 0;
  while (start < text.length) {
    let end = start;
    let bytes = 0;
    while (end < text.length) {
      const nl = text.indexOf('\n', end);
      const next = nl < 0 ? text.length : nl + 1;
      const size = Buffer.byteLength(text.slice(end, next));
      if (written + bytes + size > maxBytes && (written > 0 || bytes > 0)) break;
      bytes += size;
      end = next;
    }
    if (end > start) {
      appendFileSync(log, text.slice(start, end));
      written += bytes;
      start = end;
    }
    if (start < text.length) {
      renameSync(log, `${log}.1`);
      writeFileSync(log, '');
      written = 0;
    }
  }
}

const quote = (v) => `'${String(v).replace(/'/g, `'\\''`)}'`;

// Makes each missing mount point on the host (a folder, or an empty file for a file), noting
// what it made in created.json so the runtime removes it with the container.
function makeMountPoints(binds) {
  const created = [];
  for (const b of binds) {
    const isFile = statSync(b.hostPath).isFile();
    const missing = [];
    for (let p = isFile ? dirname(b.containerPath) : b.containerPath; !existsSync(p); p = dirname(p)) missing.unshift(p);
    for (const p of missing) {
      mkdirSync(p);
      created.push(p);
    }
    if (isFile && !existsSync(b.containerPath)) {
      writeFileSync(b.containerPath, '');
      created.push(b.containerPath);
    }
  }
  writeFileSync(join(dir, 'created.json'), JSON.stringify(created));
}

// The command and its spawn options: with binds, through `unshare` into a mount namespace of
// its own, where a shell binds each volume and then becomes the command (and its user, by
// setpriv), so the process keeps the pid the shim records.
function launch(command) {
  const binds = spec.bind ?? [];
  const user = spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {};
  if (!binds.length) return { argv: command, options: { ...user, cwd: spec.workingDir || undefined } };
  makeMountPoints(binds);
  const lines = ['set -e'];
  for (const b of binds) {
    lines.push(`mount --bind ${quote(b.hostPath)} ${quote(b.containerPath)}`);
    if (b.readOnly) lines.push(`mount -o remount,bind,ro ${quote(b.containerPath)}`);
  }
  // The working dir is entered once the volumes are in place (it may be one of them).
  if (spec.workingDir) lines.push(`cd ${quote(spec.workingDir)}`);
  const become = spec.user ? `setpriv --reuid=${spec.user.uid} --regid=${spec.user.gid} --clear-groups -- ` : '';
  lines.push(`exec ${become}"$@"`);
  return { argv: ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', lines.join('\n'), 'sh', ...command], options: {} };
}

let child;
try {
  const { argv, options } = launch([...spec.command, ...spec.args]);
  const [file, ...rest] = argv;
  child = spawn(file, rest, {
    // The working dir, and the user the runtime chose (runAsUser) when the shim runs as root.
    ...options,
    // SKIFF_TEST_RUN marks what a test run started, so its teardown can find what was left running.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.SKIFF_TEST_RUN ? { SKIFF_TEST_RUN: process.env.SKIFF_TEST_RUN } : {}), ...spec.env },
    stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (spec.stdin) feedStdin(child);
} catch (err) {
  append(`${new Date().toISOString()} ${err.message}\n`);
  writeFileSync(join(dir, 'exit.json'), JSON.stringify({ exitCode: 128, finishedAt: new Date().toISOString(), reason: 'StartError' }));
  process.exit(0);
}
// A container with `stdin` reads what `kubectl attach -i` writes into the `stdin` FIFO: each
// attach opens it, writes, and closes it; with `stdinOnce` the first close is the container's EOF.
function feedStdin(proc) {
  const fifo = join(dir, 'stdin');
  const made = spawnSync('mkfifo', ['-m', '600', fifo]);
  if (made.status !== 0) {
    proc.stdin.end();
    return;
  }
  proc.stdin.on('error', () => undefined);
  const session = () => {
    const input = createReadStream(fifo);
    input.on('data', (chunk) => proc.stdin.write(chunk));
    input.on('error', () => proc.stdin.end());
    input.on('end', () => {
      if (!spec.stdinOnce) return session();
      // Once: the container's stdin is closed, and no later attach may write (nothing would read).
      proc.stdin.end();
      rmSync(fifo, { force: true });
    });
  };
  session();
}

const writeLines = () => {
  let pending = '';
  return (chunk) => {
    pending += chunk;
    let nl;
    let out = '';
    while ((nl = pending.indexOf('\n')) >= 0) {
      out += `${new Date().toISOString()} ${pending.slice(0, nl)}\n`;
      pending = pending.slice(nl + 1);
    }
    if (out) append(out);
  };
};
child.stdout.setEncoding('utf8').on('data', writeLines());
child.stderr.setEncoding('utf8').on('data', writeLines());
child.on('error', (err) => {
  append(`${new Date().toISOString()} ${err.message}\n`);
  writeFileSync(join(dir, 'exit.json'), JSON.stringify({ exitCode: 127, finishedAt: new Date().toISOString(), reason: 'StartError' }));
  process.exit(0);
});
child.on('spawn', () => {
  writeFileSync(join(dir, 'pid.tmp'), String(child.pid));
  renameSync(join(dir, 'pid.tmp'), join(dir, 'pid'));
});
child.on('close', (code, signal) => {
  const exitCode = code ?? (signal ? 128 + ({ SIGTERM: 15, SIGKILL: 9, SIGINT: 2 }[signal] ?? 1) : 1);
  writeFileSync(join(dir, 'exit.tmp'), JSON.stringify({ exitCode, signal: signal ?? undefined, finishedAt: new Date().toISOString() }));
  renameSync(join(dir, 'exit.tmp'), join(dir, 'exit.json'));
  process.exit(0);
});
// The shim itself ignores the signals meant for the container.
process.on('SIGTERM', () => undefined);
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);

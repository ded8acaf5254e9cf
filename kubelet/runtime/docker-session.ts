/**
 * The docker runtime's `kubectl exec` and `kubectl attach`: the Engine API's exec (or attach)
 * started on a hijacked connection (`Upgrade: tcp`), its output demultiplexed into stdout and
 * stderr (raw with a TTY), stdin written to it and closed with a half-close, the terminal
 * resized through `/exec/{id}/resize` (`/containers/{id}/resize`), the exit code read back once
 * the connection ends.
 */
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { StreamOptions, StreamSession } from './types.js';

export interface Engine {
  socketPath: string;
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/** Opens `path` and takes over its connection, as the docker CLI does for exec and attach. */
function hijack(engine: Engine, path: string, body: unknown): Promise<Socket> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({
      socketPath: engine.socketPath,
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': payload.length, connection: 'Upgrade', upgrade: 'tcp' },
    });
    req.on('upgrade', (_res, socket, head) => {
      if (head.length) socket.unshift(head);
      resolve(socket as Socket);
    });
    req.on('response', async (res) => {
      let text = '';
      for await (const c of res) text += String(c);
      reject(new Error(`docker: ${text.trim() || `answered ${res.statusCode}`}`));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Splits the Engine's multiplexed stream (8-byte headers: stream 1 stdout, 2 stderr) in two. */
function demultiplex(socket: Socket, stdout: PassThrough, stderr: PassThrough): void {
  let buffer: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    while (buffer.length >= 8) {
      const size = buffer.readUInt32BE(4);
      if (buffer.length < 8 + size) break;
      (buffer[0] === 2 ? stderr : stdout).write(buffer.subarray(8, 8 + size));
      buffer = buffer.subarray(8 + size);
    }
  });
}

function session(socket: Socket, tty: boolean, stdin: boolean, parts: Pick<StreamSession, 'resize' | 'close'>, exitCode: () => Promise<number>): StreamSession {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (tty) socket.pipe(stdout);
  else demultiplex(socket, stdout, stderr);
  const ended = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
  const exited = ended.then(() => {
    stdout.end();
    stderr.end();
    return exitCode().catch(() => 1);
  });
  // Stdin goes to the connection; its end is a half-close, which the Engine passes on as EOF.
  const input = new PassThrough();
  if (stdin) input.pipe(socket);
  else input.resume();
  return { stdin: stdin ? input : undefined, stdout, stderr: tty ? undefined : stderr, exited, ...parts };
}

export async function dockerExec(engine: Engine, id: string, command: string[], options: StreamOptions): Promise<StreamSession> {
  const exec = await engine.json<{ Id: string }>('POST', `/containers/${id}/exec`, {
    AttachStdin: options.stdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: options.tty,
    Cmd: command,
  });
  const size = options.tty && options.size ? { ConsoleSize: [options.size.height, options.size.width] } : {};
  const socket = await hijack(engine, `/exec/${exec.Id}/start`, { Detach: false, Tty: options.tty, ...size });
  const inspect = () => engine.json<{ ExitCode: number | null; Pid?: number; Running?: boolean }>('GET', `/exec/${exec.Id}/json`);
  const resize = ({ width, height }: { width: number; height: number }) =>
    void engine.json('POST', `/exec/${exec.Id}/resize?h=${height}&w=${width}`).catch(() => undefined);
  // An engine older than API 1.42 has no ConsoleSize: the size is set as soon as the exec runs.
  if (options.tty && options.size) resize(options.size);
  return session(
    socket,
    options.tty,
    options.stdin,
    {
      resize,
      close() {
        socket.destroy();
        // The Engine has no way to stop an exec: its process is ended here (its pid is the host's).
        void inspect()
          .then((s) => s.Running && s.Pid && process.kill(s.Pid, 'SIGKILL'))
          .catch(() => undefined);
      },
    },
    async () => (await inspect()).ExitCode ?? 1,
  );
}

export async function dockerAttach(engine: Engine, id: string, options: StreamOptions): Promise<StreamSession> {
  const config = await engine.json<{ Config: { Tty?: boolean; OpenStdin?: boolean } }>('GET', `/containers/${id}/json`);
  const stdin = options.stdin && config.Config.OpenStdin === true;
  const tty = config.Config.Tty === true;
  const socket = await hijack(engine, `/containers/${id}/attach?stream=1&stdout=1&stderr=1${stdin ? '&stdin=1' : ''}`, {});
  return session(
    socket,
    tty,
    stdin,
    {
      resize: ({ width, height }) => void engine.json('POST', `/containers/${id}/resize?h=${height}&w=${width}`).catch(() => undefined),
      // Attach lets go: the container goes on.
      close: () => socket.destroy(),
    },
    async () => (await engine.json<{ State: { ExitCode: number } }>('GET', `/containers/${id}/json`)).State.ExitCode,
  );
}

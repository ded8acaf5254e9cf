/**
 * `pods/exec` and `pods/attach` at the kubelet, over the WebSocket channel protocol kubectl and
 * the client libraries speak (`v5.channel.k8s.io`, else `v4.channel.k8s.io`): each binary
 * message's first byte is its channel (0 stdin, 1 stdout, 2 stderr, 3 the closing Status, 4
 * terminal resizes as `{"Width","Height"}`), and v5 adds 255, the client closing one of its
 * channels (`[255, 0]`: stdin is done). The exit code comes back as kube-apiserver words it, a
 * `NonZeroExitCode` Status whose cause carries the code, which kubectl exits with.
 */
import type { WebSocket } from 'ws';
import type { StreamSession } from '../runtime/types.js';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** The Status sent on the error channel when the command has ended. */
export function exitStatus(code: number, command: string[]): object {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** A Status for a stream that could not start (no such container, not running). */
export function failureStatus(message: string): object {
  return { metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 };
}

/** Sends one message on `channel`. */
export function sendChannel(ws: WebSocket, channel: number, data: Buffer | string): void {
  if (ws.readyState !== ws.OPEN) return;
  ws.send(Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]));
}

/** The closing Status, then a normal close. */
export function finish(ws: WebSocket, status: object): void {
  sendChannel(ws, CHANNEL.error, JSON.stringify(status));
  if (ws.readyState === ws.OPEN) ws.close(1000);
}

type Size = { width: number; height: number };

/** A resize message's size; Go reads JSON field names in any case: kubectl sends `Width`, client-node `width`. */
function sizeOf(data: Buffer): Size | undefined {
  try {
    const size = Object.fromEntries(Object.entries(JSON.parse(data.toString('utf8')) as object).map(([k, v]) => [k.toLowerCase(), v]));
    return Number.isInteger(size.width) && Number.isInteger(size.height) ? { width: size.width, height: size.height } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keeps what the client sends while the command starts (its first stdin, the terminal's size),
 * for `serveChannels` to hand on: a message with no listener would be lost. `size` is the first
 * size the client sends (clients send it at once), or undefined after `waitMs`: a terminal
 * started at that size shows the command the right one from its first line.
 */
export function holdMessages(ws: WebSocket, waitMs: number): { size: Promise<Size | undefined>; take(): Buffer[] } {
  const held: Buffer[] = [];
  let sized: (size: Size | undefined) => void = () => undefined;
  const size = new Promise<Size | undefined>((resolve) => {
    sized = resolve;
    setTimeout(() => resolve(undefined), waitMs);
  });
  const hold = (message: Buffer) => {
    held.push(message);
    if (message[0] === CHANNEL.resize) sized(sizeOf(message.subarray(1)));
  };
  ws.on('message', hold);
  return {
    size,
    take: () => {
      ws.off('message', hold);
      return held;
    },
  };
}

/** Carries a session's streams over `ws` until the command ends or the client goes away. */
export async function serveChannels(ws: WebSocket, session: StreamSession, command: string[], held: Buffer[] = []): Promise<void> {
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  const onMessage = (message: Buffer) => {
    const channel = message[0];
    const data = message.subarray(1);
    if (channel === CHANNEL.stdin) session.stdin?.write(data);
    else if (channel === CHANNEL.resize) {
      const size = sizeOf(data);
      if (size) session.resize(size);
    } else if (v5 && channel === CHANNEL.close && data[0] === CHANNEL.stdin) session.stdin?.end();
  };
  for (const message of held) onMessage(message);
  ws.on('message', onMessage);
  session.stdin?.on('error', () => undefined);
  const gone = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  const drained = (stream: NodeJS.ReadableStream | undefined, channel: number) =>
    stream
      ? new Promise<void>((resolve) => {
          stream.on('data', (chunk: Buffer) => sendChannel(ws, channel, chunk));
          stream.once('end', resolve);
          stream.once('error', () => resolve());
          ws.once('close', () => resolve());
        })
      : Promise.resolve();
  const output = Promise.all([drained(session.stdout, CHANNEL.stdout), drained(session.stderr, CHANNEL.stderr)]);
  const finished = async () => {
    const code = await session.exited;
    await output;
    return code;
  };
  const ended = await Promise.race([finished(), gone.then(() => undefined)]);
  if (ended === undefined) {
    session.close();
    return;
  }
  finish(ws, exitStatus(ended, command));
}

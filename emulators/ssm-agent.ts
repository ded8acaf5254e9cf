/**
 * The Session Manager end of ECS Exec, for the ECS emulator: `ssmmessages`' data channel and the
 * agent in the container, in one. ExecuteCommand opens a session here (`open`) and answers its
 * `streamUrl` and one-time `tokenValue`; the client connects a WebSocket to the URL and sends
 * the token in a first text frame; the agent does the handshake (an InteractiveCommands
 * session), then runs the command on a terminal in the container (a Docker exec with a TTY)
 * once the client has sent the terminal's size, and carries keystrokes in and output out in
 * sequenced, acknowledged agent messages (`kubelet/runtime/ssm-session.ts`). When the command
 * ends, the channel is closed (`channel_closed`): as with ECS, no exit code is sent. The command
 * is split into words as a shell would (quotes and backslashes), not run by one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { acknowledgement, decodeMessage, encodeMessage, MESSAGE, PAYLOAD } from '../kubelet/runtime/ssm-session.js';
import type { StreamSession } from '../kubelet/runtime/types.js';

/** Runs the command on a terminal of this size. */
export type StartCommand = (command: string[], size: { width: number; height: number }) => Promise<StreamSession>;

interface PendingSession {
  token: string;
  command: string[];
  start: StartCommand;
  expires: number;
}

/** A command line split into words as a POSIX shell does (no expansion). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('an unterminated single quote');
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      word ??= '';
      for (i++; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) i++;
        word += line[i];
      }
      if (i >= line.length) throw new Error('an unterminated double quote');
    } else if (c === '\\') {
      word = (word ?? '') + (line[++i] ?? '');
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

export class SsmAgent {
  private readonly sessions = new Map<string, PendingSession>();
  private readonly sockets = new Set<WebSocket>();

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly endpoint: string,
  ) {
    wss.on('connection', (ws, req) => this.connect(ws, req.url ?? ''));
  }

  static async start(): Promise<SsmAgent> {
    const server = createServer((_req, res) => {
      res.writeHead(400);
      res.end();
    });
    const wss = new WebSocketServer({ server });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return new SsmAgent(server, wss, `ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  /** A new session for `command`; its channel must be opened within a minute. */
  open(commandLine: string, start: StartCommand): { sessionId: string; streamUrl: string; tokenValue: string } {
    const command = shellWords(commandLine);
    const sessionId = `ecs-execute-command-${randomBytes(9).toString('hex')}`;
    const token = randomBytes(24).toString('base64url');
    this.sessions.set(sessionId, { token, command, start, expires: Date.now() + 60_000 });
    return { sessionId, streamUrl: `${this.endpoint}/v1/data-channel/${sessionId}?role=publish_subscribe`, tokenValue: token };
  }

  private connect(ws: WebSocket, url: string): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    const sessionId = /\/v1\/data-channel\/([^?/]+)/.exec(url)?.[1] ?? '';
    let sequence = 0;
    let running: StreamSession | undefined;
    let starting = false;
    let shaken = false;
    /** Keystrokes sent before the command started. */
    const early: Buffer[] = [];
    const send = (messageType: string, payloadType: number, payload: Buffer) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeMessage({ messageType, sequenceNumber: sequence++, payloadType, payload }));
    };
    const end = (output: string) => {
      const closed = {
        MessageId: randomUUID(),
        CreatedDate: new Date().toISOString(),
        DestinationId: '',
        SessionId: sessionId,
        MessageType: MESSAGE.closed,
        SchemaVersion: 1,
        Output: output,
      };
      send(MESSAGE.closed, 0, Buffer.from(JSON.stringify(closed)));
      ws.close();
    };
    ws.on('close', () => running?.close());
    ws.once('message', (first: Buffer, isBinary: boolean) => {
      const session = this.sessions.get(sessionId);
      let token = '';
      try {
        token = isBinary ? '' : String((JSON.parse(first.toString('utf8')) as { TokenValue?: string }).TokenValue ?? '');
      } catch {
        /* not the opening frame */
      }
      if (!session || session.token !== token || session.expires < Date.now()) {
        ws.close(1008, 'the session token is not valid');
        return;
      }
      // A token opens its channel once.
      this.sessions.delete(sessionId);
      const request = {
        AgentVersion: '3.3.0.0',
        RequestedClientActions: [{ ActionType: 'SessionType', ActionParameters: { SessionType: 'InteractiveCommands', Properties: null } }],
      };
      send(MESSAGE.output, PAYLOAD.handshakeRequest, Buffer.from(JSON.stringify(request)));
      ws.on('message', (data: Buffer, binary: boolean) => {
        if (!binary) return;
        const m = decodeMessage(data);
        if (m.messageType !== MESSAGE.input) return;
        ws.send(acknowledgement(m));
        if (m.payloadType === PAYLOAD.handshakeResponse) {
          shaken = true;
          send(MESSAGE.output, PAYLOAD.handshakeComplete, Buffer.from(JSON.stringify({ HandshakeTimeToComplete: 1_000_000, CustomerMessage: '' })));
        } else if (m.payloadType === PAYLOAD.size && shaken) {
          const size = JSON.parse(m.payload.toString('utf8')) as { cols: number; rows: number };
          if (running) running.resize({ width: size.cols, height: size.rows });
          else if (!starting) {
            starting = true;
            session
              .start(session.command, { width: size.cols, height: size.rows })
              .then((s) => {
                running = s;
                if (ws.readyState !== ws.OPEN) return s.close();
                for (const b of early.splice(0)) s.stdin?.write(b);
                s.stdout.on('data', (b: Buffer) => send(MESSAGE.output, PAYLOAD.output, b));
                void s.exited.then(() => end(''));
              })
              .catch((err: Error) => end(`Unable to start command: ${err.message}`));
          }
        } else if (m.payloadType === PAYLOAD.output) {
          if (running) running.stdin?.write(m.payload);
          else early.push(m.payload);
        }
      });
    });
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

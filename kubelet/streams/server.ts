/**
 * The kubelet's streaming endpoints, on its log server, as WebSocket upgrades the API passes
 * through (KEP-4006's "WebSockets to the kubelet"): `/exec/{ns}/{pod}/{container}`,
 * `/attach/{ns}/{pod}/{container}` (query: `command`, `stdin`, `stdout`, `stderr`, `tty`) and
 * `/portForward/{ns}/{pod}` (query: `ports`). Only the API calls them: each upgrade must carry the
 * node's serving credential, which only the API holds. What cannot start (no such container, one
 * not running) is refused before the upgrade, with the reason in plain text for the API to word.
 */
import type { IncomingMessage, Server } from 'node:http';
import { type Duplex, PassThrough } from 'node:stream';
import { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';
import type { Runtime, StreamOptions, StreamSession } from '../runtime/types.js';
import { EXEC_PROTOCOLS, failureStatus, finish, holdMessages, serveChannels } from './exec.js';
import { servePortForwardChannels, servePortForwardSpdy, type PortForwardTarget } from './port-forward.js';

export const SPDY_PORT_FORWARD = 'SPDY/3.1+portforward.k8s.io';
const PORT_FORWARD_CHANNELS = 'v4.channel.k8s.io';

export interface StreamHost {
  servingToken?: string;
  runtime: Runtime;
  /** The id of the container's current run, if it is running; else why not. */
  container(namespace: string, pod: string, container: string): { id: string } | { error: string };
  /** Where the pod's ports are reached, if it runs here. */
  pod(namespace: string, pod: string): { address: string; uid: string } | undefined;
  log(line: string): void;
}

interface Request {
  kind: 'exec' | 'attach' | 'portForward';
  namespace: string;
  pod: string;
  container?: string;
  query: URLSearchParams;
}

function refuse(socket: Duplex, code: number, message: string): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found' }[code] ?? 'Error';
  socket.end(`HTTP/1.1 ${code} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(message)}\r\nconnection: close\r\n\r\n${message}`);
}

function parse(url: URL): Request | undefined {
  const m = /^\/(exec|attach|portForward)\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
  if (!m) return undefined;
  const [kind, namespace, pod, container] = [m[1], ...m.slice(2).map((s) => (s === undefined ? s : decodeURIComponent(s)))];
  if ((kind === 'portForward') !== (container === undefined)) return undefined;
  return { kind: kind as Request['kind'], namespace, pod, container, query: url.searchParams };
}

const flag = (q: URLSearchParams, name: string) => ['true', '1'].includes(q.get(name) ?? '');

/** Answers the upgrades of `server` that are streams; any other upgrade is refused. */
export function serveStreams(server: Server, host: StreamHost): void {
  // The protocol is chosen before the upgrade, by what is asked for; ws only has to say it back.
  const chosen = new WeakMap<IncomingMessage, string>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (_offered, req) => chosen.get(req) ?? false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    if (host.servingToken && req.headers.authorization !== `Bearer ${host.servingToken}`) return refuse(socket, 401, 'Unauthorized');
    const r = parse(new URL(req.url ?? '/', 'http://kubelet'));
    if (!r) return refuse(socket, 404, 'not found');
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const wanted = r.kind === 'portForward' ? [SPDY_PORT_FORWARD, PORT_FORWARD_CHANNELS] : EXEC_PROTOCOLS;
    const protocol = wanted.find((p) => offered.includes(p));
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || !protocol)
      return refuse(socket, 400, `${r.kind} is served over WebSocket with one of the protocols ${wanted.join(', ')}`);
    const started = r.kind === 'portForward' ? portForwardTarget(host, r) : execTarget(host, r);
    if ('error' in started) return refuse(socket, 404, started.error);
    chosen.set(req, protocol);
    // ws checks offered protocols are HTTP tokens, which `SPDY/3.1+portforward.k8s.io` is not:
    // it is shown one, and says back the one chosen here.
    req.headers['sec-websocket-protocol'] = 'chosen';
    wss.handleUpgrade(req, socket, head, (ws) => void started.run(ws).catch((err: Error) => host.log(`${r.kind} ${r.namespace}/${r.pod}: ${err.message}`)));
  });
}

/**
 * Attach where the runtime keeps no stdin to join (a host process's runs detached): the
 * container's output from now on, read as its log is written, until it exits.
 */
function attachByLogs(runtime: Runtime, id: string): StreamSession {
  const stdout = new PassThrough();
  const abort = new AbortController();
  const followed = runtime
    .followLogs(id, { tailLines: 0 }, (text) => stdout.write(text), abort.signal)
    .catch(() => undefined)
    .finally(() => stdout.end());
  return {
    stdout,
    resize: () => undefined,
    exited: followed.then(async () => (await runtime.inspect(id).catch(() => undefined))?.exitCode ?? 0),
    close: () => abort.abort(),
  };
}

type Started = { run(ws: WebSocket): Promise<void> } | { error: string };

function execTarget(host: StreamHost, r: Request): Started {
  const found = host.container(r.namespace, r.pod, r.container!);
  if ('error' in found) return found;
  const command = r.query.getAll('command');
  const options = { stdin: flag(r.query, 'stdin'), tty: flag(r.query, 'tty') };
  if (r.kind === 'exec' && command.length === 0) return { error: 'you must specify at least one command for the container' };
  const open = (options: StreamOptions): Promise<StreamSession> => {
    const runtime = host.runtime;
    if (r.kind === 'exec') {
      if (!runtime.execStream) throw new Error(`the ${runtime.name} runtime cannot run commands in containers`);
      return runtime.execStream(found.id, command, options);
    }
    return runtime.attach ? runtime.attach(found.id, options) : Promise.resolve(attachByLogs(runtime, found.id));
  };
  return {
    async run(ws) {
      const held = holdMessages(ws, options.tty ? 1000 : 0);
      let session: StreamSession;
      try {
        session = await open({ ...options, size: options.tty ? await held.size : undefined });
      } catch (err) {
        held.take();
        finish(ws, failureStatus((err as Error).message));
        return;
      }
      await serveChannels(ws, session, command, held.take());
    },
  };
}

function portForwardTarget(host: StreamHost, r: Request): Started {
  const pod = host.pod(r.namespace, r.pod);
  if (!pod) return { error: `pod "${r.pod}" is not running on this node` };
  const target: PortForwardTarget = { ...pod, pod: `${r.namespace}/${r.pod}`, log: host.log };
  return {
    async run(ws) {
      if (ws.protocol === SPDY_PORT_FORWARD) {
        await servePortForwardSpdy(createWebSocketStream(ws), target);
        return;
      }
      const ports = r.query
        .getAll('ports')
        .flatMap((p) => p.split(','))
        .map(Number);
      servePortForwardChannels(ws, ports, target);
    },
  };
}

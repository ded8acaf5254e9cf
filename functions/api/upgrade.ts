/**
 * Upgraded connections of the embedded API server: watches and pods' logs over WebSocket, as
 * kube-apiserver serves them (a browser holds at most six HTTP/1.1 connections to a host, and
 * each streamed watch or followed log holds one; WebSockets do not count against that), and
 * exec, attach and port-forward.
 * The request goes through the app like any other (authentication, authorization as a `create`
 * of the subresource, audit, the pod's checks); the handler hands back the kubelet that serves
 * it, and the client's WebSocket is then passed through, bytes as they are, to that kubelet,
 * which speaks the protocols itself (KEP-4006's WebSockets to the kubelet). The kubelet is
 * called with the node's own credential and, where the cluster has one, its certificate pinned
 * to the cluster CA. Anything refused is answered with a Status as a plain HTTP response, which
 * kubectl prints.
 */
import { type IncomingMessage, STATUS_CODES, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ApiError, type StatusReason } from '../../shared/api/status.js';
import { BEARER_PROTOCOL, type StreamTarget, type UpgradeEnv } from './app.js';

type Fetch = (request: Request, env?: unknown) => Response | Promise<Response>;

/** Headers of the client's upgrade the kubelet needs to answer it. */
const PASSED = ['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'];
/** How long the kubelet has to answer the upgrade. */
const KUBELET_TIMEOUT_MS = 30_000;

function writeResponse(socket: Duplex, status: number, headers: Record<string, string>, body: Buffer): void {
  const lines = Object.entries({ ...headers, 'content-length': String(body.length), connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}\r\n`), body]));
}

function writeStatus(socket: Duplex, code: number, reason: StatusReason, message: string): void {
  const body = JSON.stringify(new ApiError(code, reason, message).toStatus());
  writeResponse(socket, code, { 'content-type': 'application/json' }, Buffer.from(body));
}

/** The client's upgrade request as a fetch Request, for the app. */
function asRequest(req: IncomingMessage, hostname: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return new Request(`https://${req.headers.host ?? hostname}${req.url ?? '/'}`, { method: req.method, headers });
}

/** The paths an upgrade is served on: a pod's streams. */
const STREAM_PATH = /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+\/(exec|attach|portforward)(\?|$)/;

/** A watch: a collection's GET with `watch=true` (or `1`). */
const isWatch = (url: string) => ['true', '1'].includes(new URL(url, 'https://x').searchParams.get('watch') ?? '');
/** A pod's log. */
const LOG_PATH = /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+\/log(\?|$)/;

/**
 * The subprotocols of a watch or a log over WebSocket, as kube-apiserver has them: each event (a
 * watch's) or each piece of the log as it comes a binary message, or (`base64.binary.k8s.io`) a
 * text message of it in base64.
 */
const STREAMED_PROTOCOLS = ['binary.k8s.io', 'base64.binary.k8s.io'];
const streamedSockets = new WebSocketServer({
  noServer: true,
  handleProtocols: (offered) => STREAMED_PROTOCOLS.find((p) => offered.has(p)) ?? false,
});

/**
 * A watch or a log over WebSocket: the request goes through the app as any does (authentication,
 * the token in a subprotocol for a browser, authorization, the watch or the kubelet's log); what
 * it streams is sent an event a message (a watch) or as it comes (a log). A refusal is the Status
 * as a plain HTTP response. The client closing the socket ends the stream; the stream ending (a
 * watch's timeout, a log not followed) closes the socket.
 */
async function serveStreamed(fetch: Fetch, hostname: string, req: IncomingMessage, socket: Duplex, head: Buffer, byLine: boolean): Promise<void> {
  let res: Response;
  try {
    res = await fetch(asRequest(req, hostname), { incoming: req });
  } catch (err) {
    writeStatus(socket, 400, 'BadRequest', `the request could not be read: ${(err as Error).message}`);
    return;
  }
  if (res.status !== 200 || !res.body) {
    writeResponse(socket, res.status, Object.fromEntries(res.headers), Buffer.from(await res.arrayBuffer()));
    return;
  }
  const reader = res.body.getReader();
  // The socket gone (closed by the client, or before the upgrade was done): the watch with it.
  socket.once('close', () => void reader.cancel().catch(() => undefined));
  streamedSockets.handleUpgrade(req, socket, head, (ws) => {
    const base64 = ws.protocol === 'base64.binary.k8s.io';
    ws.on('error', () => ws.terminate());
    const send = (bytes: Buffer) =>
      new Promise<void>((resolve) => (base64 ? ws.send(bytes.toString('base64'), () => resolve()) : ws.send(bytes, { binary: true }, () => resolve())));
    void (async () => {
      let pending = Buffer.alloc(0);
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (!byLine) {
            if (ws.readyState === ws.OPEN) await send(Buffer.from(value));
            continue;
          }
          pending = Buffer.concat([pending, value]);
          let nl = pending.indexOf(10);
          while (nl >= 0) {
            const line = pending.subarray(0, nl);
            pending = pending.subarray(nl + 1);
            nl = pending.indexOf(10);
            // A keep-alive newline has no use here: a WebSocket has its own pings.
            if (line.length > 0 && ws.readyState === ws.OPEN) await send(line);
          }
        }
      } catch {
        // The watch was cut (a reader too slow) or the client went: either way, the end.
      }
      if (ws.readyState === ws.OPEN) ws.close(1000);
    })();
  });
}

/** Runs an upgrade request through the app; joins it to its kubelet when the app hands one over. */
export async function handleUpgrade(fetch: Fetch, hostname: string, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  socket.on('error', () => socket.destroy());
  const url = req.url ?? '';
  if (!STREAM_PATH.test(url) && req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket' && (LOG_PATH.test(url) || isWatch(url))) {
    await serveStreamed(fetch, hostname, req, socket, head, !LOG_PATH.test(url));
    return;
  }
  if (!STREAM_PATH.test(req.url ?? '')) {
    writeStatus(
      socket,
      400,
      'BadRequest',
      `${req.method} ${(req.url ?? '').split('?')[0]} is not served as an upgraded connection: only watches and pods' log, exec, attach and portforward are`,
    );
    return;
  }
  let target: StreamTarget | undefined;
  const env: UpgradeEnv & { incoming: IncomingMessage } = { incoming: req, stream: (t) => (target = t) };
  let res: Response;
  try {
    res = await fetch(asRequest(req, hostname), env);
  } catch (err) {
    writeStatus(socket, 400, 'BadRequest', `the request could not be read: ${(err as Error).message}`);
    return;
  }
  if (!target) {
    writeResponse(socket, res.status, Object.fromEntries(res.headers), Buffer.from(await res.arrayBuffer()));
    return;
  }
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
    // kubectl falls back to SPDY only when its WebSocket upgrade failed for another reason.
    writeStatus(socket, 400, 'BadRequest', `streams are served over WebSocket only, not ${req.headers.upgrade ?? 'this upgrade'}: use kubectl 1.31 or later`);
    return;
  }
  joinKubelet(socket, head, req, target);
}

function joinKubelet(socket: Duplex, head: Buffer, req: IncomingMessage, target: StreamTarget): void {
  const headers: Record<string, string> = {};
  for (const name of PASSED) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  // A browser's token rides in a subprotocol (it cannot set headers): it is not the kubelet's to see.
  if (headers['sec-websocket-protocol'])
    headers['sec-websocket-protocol'] = headers['sec-websocket-protocol']
      .split(',')
      .map((p) => p.trim())
      .filter((p) => !p.startsWith(BEARER_PROTOCOL))
      .join(', ');
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const options = { method: 'GET', headers, timeout: KUBELET_TIMEOUT_MS, ...(target.ca ? { ca: target.ca } : {}) };
  const upstream = target.url.startsWith('https:') ? httpsRequest(target.url, options) : httpRequest(target.url, options);
  const unreachable = (why: string) => writeStatus(socket, 400, 'BadRequest', `the kubelet of node ${target.nodeName} did not answer: ${why}`);
  upstream.on('timeout', () => upstream.destroy(new Error('timed out')));
  // A client that leaves before the kubelet answers takes the call with it.
  const abandon = () => upstream.destroy();
  socket.once('close', abandon);
  upstream.on('error', (err) => {
    if (!socket.destroyed && !socket.writableEnded) unreachable(err.message);
  });
  upstream.on('response', async (res) => {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8').trim();
    const code = res.statusCode === 404 ? 404 : 400;
    writeStatus(socket, code, code === 404 ? 'NotFound' : 'BadRequest', text || `the kubelet of node ${target.nodeName} answered ${res.statusCode}`);
  });
  upstream.on('upgrade', (res, kubelet, kubeletHead) => {
    socket.off('close', abandon);
    kubelet.setTimeout(0);
    const lines: string[] = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\n${lines.join('')}\r\n`);
    if (kubeletHead.length) socket.write(kubeletHead);
    if (head.length) kubelet.write(head);
    kubelet.pipe(socket);
    socket.pipe(kubelet);
    const close = () => {
      kubelet.destroy();
      socket.destroy();
    };
    kubelet.on('error', close);
    kubelet.on('close', close);
    socket.on('close', close);
  });
  upstream.end();
}

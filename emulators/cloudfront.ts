/**
 * A CloudFront distribution on this machine (an emulator: emulators/README.md), the front of
 * the AWS shape's API: one HTTPS listener, cache behaviours that send a request to an origin by
 * its path, and the default behaviour for the rest. As CloudFront does:
 *
 * - path patterns are matched in order against the path alone (no query string), case-sensitive,
 *   `*` for any run of characters (`/` too) and `?` for one; the default behaviour is last;
 * - nothing is cached (the API's behaviours use the CachingDisabled policy) and every viewer
 *   header but `Host` goes to the origin (AllViewerExceptHostHeader), with `Host` the origin's;
 * - WebSocket upgrades pass through both ways (RFC 6455 requests only: another `Upgrade`, such
 *   as SPDY's, is refused with 400); a WebSocket idle for 10 minutes is closed;
 * - the origin response timeout: an origin that sends no response within it, or falls silent
 *   that long in the middle of one, is cut off (504 if nothing was sent yet). CloudFront's default
 *   is 30 s, at most 60 s without a quota increase;
 * - a request whose URL is over 8,192 bytes is refused with 414; hop-by-hop headers are dropped;
 * - a behaviour's viewer-request function (CloudFront Functions, JavaScript runtime 2.0) runs on
 *   each request it takes, WebSocket handshakes included, before the origin is chosen: it sees the
 *   event CloudFront gives (method, URI, query string, headers but those edge functions are never
 *   shown, such as `Upgrade` and `Connection`; cookies apart), may change the URI, query string and
 *   headers, answer itself (a returned response), or send the request to another of the
 *   distribution's origins (`cf.selectRequestOriginById`; here, before an async handler's first
 *   await); one that throws, runs past its compute budget or names an origin the distribution lacks gets
 *   503, as CloudFront's FunctionExecutionError.
 *
 * Origins are HTTPS, their certificates checked against the CA given (CloudFront checks them
 * against public CAs).
 */
import { type IncomingMessage, STATUS_CODES, type ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect } from 'node:tls';
import { createContext, runInContext } from 'node:vm';

export interface Origin {
  /** Its ID in the distribution, which a function selects it by. */
  id?: string;
  /** `https://host:port`, with an optional path that prefixes every request's. */
  url: string;
  /** The CA its certificate is checked against. */
  ca: string;
}

export interface Behaviour {
  pathPattern: string;
  origin: Origin;
  /** A viewer-request function's code (CloudFront Functions, JavaScript runtime 2.0). */
  viewerRequest?: string;
}

export interface CloudFrontOptions {
  tls: { cert: string; key: string };
  behaviours: Behaviour[];
  defaultOrigin: Origin;
  /** The distribution's other origins, which no behaviour names and a function may select. */
  origins?: Origin[];
  /** The default behaviour's viewer-request function, as a behaviour's. */
  defaultViewerRequest?: string;
  /** Seconds; default 30, as CloudFront's. */
  originResponseTimeoutSeconds?: number;
  host?: string;
  port?: number;
}

export interface CloudFront {
  url: string;
  /** Requests each origin was sent, by its URL (upgrades included). */
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

const MAX_URL_BYTES = 8192;
const WEBSOCKET_IDLE_MS = 10 * 60_000;
const ORIGIN_KEEPALIVE_MS = 4000;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

/** A CloudFront path pattern as a regular expression over the whole path. */
export function pathPattern(pattern: string): RegExp {
  const source = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`);
}

/** Headers CloudFront never shows an edge function. */
const HIDDEN_FROM_FUNCTIONS =
  /^(connection|expect|keep-alive|proxy-authenticate|proxy-authorization|proxy-connection|trailer|upgrade|x-real-ip|x-forwarded-proto|x-cache|x-accel-.*|x-amz-cf-.*|x-edge-.*)$/;
/** Headers a viewer-request function reads but cannot change. */
const READ_ONLY_FOR_FUNCTIONS = new Set(['content-length', 'host', 'transfer-encoding', 'via']);
/**
 * How long a function may run. CloudFront counts compute utilisation, the CPU time a run takes
 * against a budget of about a millisecond; a function over it fails. Here the budget is CPU time
 * too, looser (a garbage collection in the middle of a run is charged to it), and wall-clock time
 * only stops a function that never ends: on a loaded two-core machine a 50 ms wall-clock limit
 * failed a kubelet's lease renewal and a dashboard's WebSocket now and then, as no real
 * CloudFront would.
 */
const FUNCTION_CPU_MS = 50;
const FUNCTION_WALL_MS = 1000;

/** A query string's, headers' or cookies' values as a function sees them. */
type FunctionValues = Record<string, { value: string; multiValue?: { value: string }[] }>;

interface FunctionRequest {
  method: string;
  uri: string;
  querystring: FunctionValues;
  headers: FunctionValues;
  cookies: FunctionValues;
}

interface FunctionResponse {
  statusCode: number;
  statusDescription?: string;
  headers?: FunctionValues;
  body?: string | { data: string; encoding?: 'text' | 'base64' };
}

function valuesOf(pairs: Iterable<[string, string]>): FunctionValues {
  const values: FunctionValues = {};
  for (const [name, value] of pairs) {
    const had = values[name];
    if (!had) values[name] = { value };
    else (had.multiValue ??= [{ value: had.value }]).push({ value });
  }
  return values;
}

function pairsOf(values: FunctionValues | undefined): [string, string][] {
  return Object.entries(values ?? {}).flatMap(([name, v]) => (v.multiValue ?? [v]).map((one): [string, string] => [name, String(one.value)]));
}

/** What a viewer-request function decided: the request as it goes on (and to which origin), or its own answer. */
type Decision = { request: FunctionRequest; originId?: string } | { response: FunctionResponse };

/**
 * A viewer-request function's code, made ready to run: `import cf from 'cloudfront'` is given
 * the helper that selects an origin by its ID, and `handler(event)` is called for each request.
 */
export function viewerRequestFunction(code: string, distribution = 'emulated.cloudfront.net'): (viewer: string, request: FunctionRequest) => Promise<Decision> {
  /** The request being handled, while its handler runs synchronously. */
  let current: { originId?: string } | undefined;
  const cf = {
    selectRequestOriginById(id: string) {
      // After an async handler's first await, another request's handler may have run since:
      // the emulator cannot tell whose selection it is, and says so rather than guess.
      if (!current) throw new Error('the emulator takes an origin selected before the handler first awaits');
      current.originId = String(id);
    },
  };
  const context = createContext({ cf, console });
  runInContext(code.replace(/^\s*import\s+cf\s+from\s+['"]cloudfront['"];?/m, ''), context, { timeout: 1000 });
  if (typeof context.handler !== 'function') throw new Error('a CloudFront function defines handler(event)');
  let requests = 0;
  return async (viewer, request) => {
    const mine: { originId?: string } = {};
    current = mine;
    context.event = {
      version: '1.0',
      context: { distributionDomainName: distribution, distributionId: 'EEMULATED', eventType: 'viewer-request', requestId: `emulated-${++requests}` },
      viewer: { ip: viewer },
      request,
    };
    let returned: unknown;
    const cpu = process.cpuUsage();
    try {
      returned = runInContext('handler(event)', context, { timeout: FUNCTION_WALL_MS });
    } finally {
      current = undefined;
    }
    const used = process.cpuUsage(cpu);
    if ((used.user + used.system) / 1000 > FUNCTION_CPU_MS) throw new Error('the function ran past its compute budget');
    const result = (typeof (returned as { then?: unknown } | undefined)?.then === 'function' ? await returned : returned) as
      | FunctionRequest
      | FunctionResponse
      | undefined;
    if (!result || typeof result !== 'object') throw new Error('the function returned neither a request nor a response');
    if ('statusCode' in result) return { response: result };
    return { request: result, originId: mine.originId };
  };
}

function statusBody(code: number, message: string): string {
  return `<html><body><h1>${code} ERROR</h1><p>${message}</p><p>Generated by cloudfront (emulated)</p></body></html>`;
}

type Answer = { status: number; headers: Record<string, string>; body: Buffer };

/** An answer written on a socket not yet upgraded (a refused or answered handshake), then closed. */
function answerRaw(socket: Duplex, { status, headers, body }: Answer): void {
  const lines = Object.entries({ ...headers, 'content-length': String(body.length), connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}\r\n`), body]));
}

/** A request's way on: to an origin (with its URL and headers), or a function's own answer. */
type ToOrigin = { origin: Origin; url: string; headers: Record<string, string | string[]> };
type Route = ToOrigin | { answer: Answer };

export async function startCloudFront(options: CloudFrontOptions): Promise<CloudFront> {
  const behaviour = (match: RegExp, origin: Origin, code: string | undefined) => ({ match, origin, run: code ? viewerRequestFunction(code) : undefined });
  // The default behaviour is last, and takes every path.
  const behaviours = [
    ...options.behaviours.map((b) => behaviour(pathPattern(b.pathPattern), b.origin, b.viewerRequest)),
    behaviour(/^/, options.defaultOrigin, options.defaultViewerRequest),
  ];
  const originsById = new Map([...behaviours.map((b) => b.origin), ...(options.origins ?? [])].flatMap((o) => (o.id ? [[o.id, o] as const] : [])));
  const timeoutMs = (options.originResponseTimeoutSeconds ?? 30) * 1000;
  const requests = new Map<string, number>();
  // Persistent connections to each origin, as CloudFront keeps them (its origin keep-alive
  // timeout, 5 s by default): an idle one is closed after 4 s here, before the origin's own
  // 5 s idle timer could close it under a request.
  const agents = new Map<string, Agent>();
  const agentOf = (origin: Origin) => {
    let agent = agents.get(origin.url);
    if (!agent) agents.set(origin.url, (agent = new Agent({ keepAlive: true, timeout: ORIGIN_KEEPALIVE_MS, ca: origin.ca })));
    return agent;
  };
  const failed = (message: string): Route => ({
    answer: { status: 503, headers: { 'content-type': 'text/html' }, body: Buffer.from(statusBody(503, message)) },
  });

  /** Where a request goes, and as what: its behaviour by path, then that behaviour's function. */
  const route = async (req: IncomingMessage): Promise<Route> => {
    const url = req.url ?? '/';
    const at = url.indexOf('?');
    const path = at < 0 ? url : url.slice(0, at);
    const query = at < 0 ? '' : url.slice(at + 1);
    const chosen = behaviours.find((b) => b.match.test(path))!;
    let origin = chosen.origin;
    let routed: Route = { origin, url, headers: { ...req.headers } as Record<string, string | string[]> };
    if (chosen.run) {
      const shown = Object.entries(req.headers)
        .filter(([name]) => name !== 'cookie' && !HIDDEN_FROM_FUNCTIONS.test(name))
        .flatMap(([name, value]) => (Array.isArray(value) ? value : [value ?? '']).map((one): [string, string] => [name, one]));
      const cookies = (req.headers.cookie ?? '')
        .split(';')
        .map((c) => c.trim())
        .filter(Boolean)
        .map((c): [string, string] => [c.split('=')[0], c.slice(c.indexOf('=') + 1)]);
      const given: FunctionRequest = {
        method: req.method ?? 'GET',
        uri: path,
        querystring: valuesOf(new URLSearchParams(query)),
        headers: valuesOf(shown),
        cookies: valuesOf(cookies),
      };
      const asGiven = JSON.stringify(given.querystring);
      let decision: Decision;
      try {
        decision = await chosen.run(req.socket.remoteAddress ?? '', given);
      } catch {
        return failed('The CloudFront function associated with the cache behavior failed to run (FunctionExecutionError).');
      }
      if ('response' in decision) {
        const { statusCode, headers, body } = decision.response;
        const bytes =
          typeof body === 'string' ? Buffer.from(body) : body ? Buffer.from(body.data, body.encoding === 'base64' ? 'base64' : 'utf8') : Buffer.alloc(0);
        return { answer: { status: statusCode, headers: Object.fromEntries(pairsOf(headers)), body: bytes } };
      }
      const { request, originId } = decision;
      if (originId !== undefined) {
        const selected = originsById.get(originId);
        if (!selected) return failed(`The CloudFront function selected origin ${originId}, which the distribution does not have (FunctionExecutionError).`);
        origin = selected;
      }
      // The request as the function left it; what it may not see or change, as the viewer sent it.
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && (HIDDEN_FROM_FUNCTIONS.test(name) || READ_ONLY_FOR_FUNCTIONS.has(name))) headers[name] = value;
      }
      for (const [key, value] of pairsOf(request.headers)) {
        const name = key.toLowerCase();
        if (HIDDEN_FROM_FUNCTIONS.test(name) || READ_ONLY_FOR_FUNCTIONS.has(name)) continue;
        const had = headers[name];
        headers[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
      }
      const cookie = pairsOf(request.cookies)
        .map(([name, value]) => `${name}=${value}`)
        .join('; ');
      if (cookie) headers.cookie = cookie;
      // A query string the function left alone goes on as the viewer wrote it.
      const search = JSON.stringify(request.querystring) === asGiven ? query : new URLSearchParams(pairsOf(request.querystring)).toString();
      routed = { origin, url: `${request.uri}${search ? `?${search}` : ''}`, headers };
    }
    requests.set(origin.url, (requests.get(origin.url) ?? 0) + 1);
    return routed;
  };
  const forwarded = (headers: Record<string, string | string[]>, target: URL) => {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
    out.host = target.host;
    out.via = '1.1 skiff-cloudfront (CloudFront)';
    return out;
  };
  const targetOf = (origin: Origin, url: string) => {
    const base = new URL(origin.url);
    return new URL(`${base.pathname.replace(/\/$/, '')}${url}`, base);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (Buffer.byteLength(req.url ?? '') > MAX_URL_BYTES) {
      res.writeHead(414, { 'content-type': 'text/html' }).end(statusBody(414, 'The URL is too long.'));
      req.resume();
      return;
    }
    void route(req).then((routed) => {
      if ('answer' in routed) {
        res.writeHead(routed.answer.status, { ...routed.answer.headers, 'content-length': routed.answer.body.length }).end(routed.answer.body);
        req.resume();
        return;
      }
      toOrigin(req, res, routed);
    });
  };
  const toOrigin = (req: IncomingMessage, res: ServerResponse, { origin, url, headers: viewerHeaders }: ToOrigin) => {
    const target = targetOf(origin, url);
    const out = request(target, { method: req.method, headers: forwarded(viewerHeaders, target), agent: agentOf(origin) }, (answer) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      res.writeHead(answer.statusCode ?? 502, headers);
      // Flushed at once: a streamed answer (a watch) reaches the viewer as the origin sends it.
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    // No answer, or silence in the middle of one, for the origin response timeout: cut off.
    out.setTimeout(timeoutMs, () => {
      if (!res.headersSent) res.writeHead(504, { 'content-type': 'text/html' }).end(statusBody(504, 'The origin did not respond in time.'));
      else res.destroy();
      out.destroy();
    });
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/html' }).end(statusBody(502, 'CloudFront could not connect to the origin.'));
      else res.destroy();
    });
    // The viewer went away before the answer was through: the origin's request goes too.
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  };

  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key }, handle);
  /** Upgraded connections, which the server no longer tracks: closed with it. */
  const tunnels = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || !req.headers['sec-websocket-key']) {
      answerRaw(socket, {
        status: 400,
        headers: { 'content-type': 'text/html' },
        body: Buffer.from(statusBody(400, 'Only WebSocket connections are upgraded.')),
      });
      return;
    }
    void route(req).then((routed) => {
      if (socket.destroyed) return;
      if ('answer' in routed) return answerRaw(socket, routed.answer);
      tunnel(routed, req, socket, head);
    });
  });
  const tunnel = ({ origin, url, headers: viewerHeaders }: ToOrigin, req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = targetOf(origin, url);
    const upstream = connect({ host: target.hostname, port: Number(target.port || 443), servername: target.hostname, ca: origin.ca });
    upstream.on('error', () => {
      socket.destroy();
      upstream.destroy();
    });
    upstream.once('secureConnect', () => {
      const headers = { ...forwarded(viewerHeaders, target), connection: 'Upgrade', upgrade: 'websocket' };
      const lines = Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => `${k}: ${one}\r\n`));
      upstream.write(`${req.method} ${target.pathname}${target.search} HTTP/1.1\r\n${lines.join('')}\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    for (const side of [socket as Socket, upstream]) {
      side.setTimeout?.(WEBSOCKET_IDLE_MS, () => {
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://${options.host ?? '127.0.0.1'}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of tunnels) socket.destroy();
        for (const agent of agents.values()) agent.destroy();
      }),
  };
}

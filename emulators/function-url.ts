/**
 * A Lambda Function URL on this machine (an emulator: emulators/README.md): an HTTPS server
 * that turns each request into the payload-format 2.0 event Function URLs send, invokes the
 * function, and answers with what it returns. In RESPONSE_STREAM mode the function's bytes are
 * read as the Node.js runtime frames them (a JSON prelude with the status, headers and cookies,
 * eight NUL bytes, then the body) and passed on as they come, so a watch streams. Requests over
 * 6 MB get 413, as Function URLs answer.
 *
 * With `front: 'rest-api'` it is API Gateway REST's Lambda proxy integration in STREAM mode
 * instead, the cloud's front (infra/api-gateway.ts): the URL carries the stage (`/k8s`), the
 * event is the REST proxy event (payload 1.0: `path` without the stage, multi-value headers and
 * query parameters), and requests up to 10 MB are taken.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { LambdaFunction } from './lambda-runner.js';

const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

export interface FunctionUrl {
  url: string;
  close(): Promise<void>;
}

export interface FunctionUrlOptions {
  tls: { cert: string; key: string };
  invokeMode?: 'RESPONSE_STREAM' | 'BUFFERED';
  host?: string;
  port?: number;
  /** Which front's events: a Function URL's (default) or API Gateway REST's, under `stage`. */
  front?: 'function-url' | 'rest-api';
  stage?: string;
}

const REST_API_MAX_REQUEST_BYTES = 10 * 1024 * 1024;

/** The request as API Gateway REST's Lambda proxy event (payload 1.0), `path` without the stage. */
export function restApiEvent(req: IncomingMessage, body: Buffer, stage: string, path: string): Record<string, unknown> {
  const url = new URL(req.url ?? '/', 'https://local');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(',');
    multiValueHeaders[name] = values;
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    multiQuery[k] = [...(multiQuery[k] ?? []), v];
  }
  const hasQuery = [...url.searchParams.keys()].length > 0;
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: req.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: { proxy: path.slice(1) },
    stageVariables: null,
    requestContext: {
      resourcePath: '/{proxy+}',
      httpMethod: req.method,
      path: `/${stage}${path}`,
      stage,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      protocol: 'HTTP/1.1',
      accountId: '123456789012',
      apiId: 'local',
      identity: { sourceIp: req.socket.remoteAddress ?? '', userAgent: req.headers['user-agent'] ?? '' },
    },
    body: body.length ? body.toString('base64') : null,
    isBase64Encoded: body.length > 0,
  };
}

/** The request as a Function URL's event (payload format 2.0). */
export function functionUrlEvent(req: IncomingMessage, body: Buffer, domainName: string): Record<string, unknown> {
  const url = new URL(req.url ?? '/', 'https://local');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined && name !== 'cookie') headers[name] = Array.isArray(value) ? value.join(',') : value;
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(req.headers.cookie ? { cookies: req.headers.cookie.split('; ') } : {}),
    headers,
    ...(url.search ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: domainName.split('.')[0],
      domainName,
      domainPrefix: domainName.split('.')[0],
      http: {
        method: req.method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length ? { body: body.toString('base64'), isBase64Encoded: true } : { isBase64Encoded: false }),
  };
}

/** Reads the runtime's framing: the prelude up to eight NUL bytes, then passes the body on. */
async function relayStream(stream: Readable, res: ServerResponse): Promise<void> {
  let head = Buffer.alloc(0);
  let started = false;
  for await (const chunk of stream) {
    if (started) {
      res.write(chunk);
      continue;
    }
    head = Buffer.concat([head, chunk as Buffer]);
    const end = head.indexOf(Buffer.alloc(8));
    if (end < 0) continue;
    const meta = JSON.parse(head.subarray(0, end).toString('utf8')) as { statusCode?: number; headers?: Record<string, string>; cookies?: string[] };
    res.writeHead(meta.statusCode ?? 200, { ...meta.headers, ...(meta.cookies?.length ? { 'set-cookie': meta.cookies } : {}) });
    // The status and headers go out with the prelude, before any body (a watch with nothing to say yet).
    res.flushHeaders();
    started = true;
    const rest = head.subarray(end + 8);
    if (rest.length) res.write(rest);
  }
  if (!started) throw new Error('the function wrote no response prelude');
  res.end();
}

async function relayBuffered(result: unknown, res: ServerResponse): Promise<void> {
  const r = (result ?? {}) as { statusCode?: number; headers?: Record<string, string>; cookies?: string[]; body?: string; isBase64Encoded?: boolean };
  res.writeHead(r.statusCode ?? 200, { ...r.headers, ...(r.cookies?.length ? { 'set-cookie': r.cookies } : {}) });
  res.end(r.body === undefined ? '' : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8'));
}

export async function startFunctionUrl(fn: LambdaFunction, options: FunctionUrlOptions): Promise<FunctionUrl> {
  const streaming = (options.invokeMode ?? 'RESPONSE_STREAM') === 'RESPONSE_STREAM';
  const rest = options.front === 'rest-api';
  const stage = options.stage ?? 'k8s';
  const maxBytes = rest ? REST_API_MAX_REQUEST_BYTES : MAX_REQUEST_BYTES;
  let domainName = '';
  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= maxBytes) chunks.push(c);
    });
    req.on('end', async () => {
      if (size > maxBytes) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Message: rest ? 'Request Too Long' : 'Request must be smaller than 6291456 bytes for the InvokeFunction operation' }));
        return;
      }
      const path = (req.url ?? '/').split('?')[0];
      if (rest && path !== `/${stage}` && !path.startsWith(`/${stage}/`)) {
        res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Forbidden' }));
        return;
      }
      const event = rest
        ? restApiEvent(req, Buffer.concat(chunks), stage, path.slice(stage.length + 1) || '/')
        : functionUrlEvent(req, Buffer.concat(chunks), domainName);
      try {
        if (streaming) await relayStream(fn.invokeStream(event), res);
        else await relayBuffered(await fn.invoke(event), res);
      } catch {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ Message: 'Internal Server Error' }));
        } else res.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  domainName = `local.lambda-url.us-east-1.on.aws`;
  return {
    url: rest ? `https://127.0.0.1:${port}/${stage}` : `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

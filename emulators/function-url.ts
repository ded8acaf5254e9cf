/**
 * A Lambda Function URL on this machine (an emulator: emulators/README.md): an HTTPS server
 * that turns each request into the payload-format 2.0 event Function URLs send, invokes the
 * function, and answers with what it returns. In RESPONSE_STREAM mode the function's bytes are
 * read as the Node.js runtime frames them (a JSON prelude with the status, headers and cookies,
 * eight NUL bytes, then the body) and passed on as they come, so a watch streams. Requests over
 * 6 MB get 413, as Function URLs answer.
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
  let domainName = '';
  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(c);
    });
    req.on('end', async () => {
      if (size > MAX_REQUEST_BYTES) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation' }));
        return;
      }
      const event = functionUrlEvent(req, Buffer.concat(chunks), domainName);
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
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

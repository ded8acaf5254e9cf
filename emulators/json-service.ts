/**
 * The AWS JSON 1.1 protocol as an emulator serves it: a signed POST of
 * `application/x-amz-json-1.1` naming its action in `X-Amz-Target: <prefix>.<Action>`, answered
 * with the action's JSON, or with `{"__type", "message"}` and the error's status. KMS, ECS and
 * CloudWatch Logs speak it; each emulator gives its actions and this does the rest.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An error the service answers with: its `__type`, message and HTTP status. */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export type JsonParams = Record<string, unknown>;
export type JsonActions = Record<string, (params: JsonParams) => unknown | Promise<unknown>>;

export interface JsonService {
  endpoint: string;
  /** Every request answered: its action and parameters, as the SDK sent them. */
  readonly requests: { action: string; params: JsonParams }[];
  close(): Promise<void>;
}

export interface JsonServiceOptions {
  /** The target's prefix: `TrentService`, `AmazonEC2ContainerServiceV20141113`, `Logs_20140328`. */
  targetPrefix: string;
  actions: JsonActions;
  /** The `__type` of an unexpected failure (a 500). */
  internalError: string;
}

export async function serveJson11(options: JsonServiceOptions): Promise<JsonService> {
  const requests: JsonService['requests'] = [];
  const prefix = `${options.targetPrefix}.`;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c as Buffer));
    req.on('end', async () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
        res.end(JSON.stringify(body));
      };
      try {
        const target = String(req.headers['x-amz-target'] ?? '');
        const action = target.startsWith(prefix) ? target.slice(prefix.length) : '';
        if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1'))
          throw new AwsJsonError('UnknownOperationException', 'Requests must be POSTs in the AWS JSON 1.1 protocol.');
        if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 '))
          throw new AwsJsonError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
        const handler = Object.hasOwn(options.actions, action) ? options.actions[action] : undefined;
        if (!handler) throw new AwsJsonError('UnknownOperationException', `The action ${action} is not valid for this endpoint.`);
        let params: JsonParams;
        try {
          params = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as JsonParams;
        } catch {
          throw new AwsJsonError('SerializationException', 'The request body is not valid JSON.');
        }
        requests.push({ action, params });
        reply(200, (await handler(params)) ?? {});
      } catch (err) {
        const e = err instanceof AwsJsonError ? err : new AwsJsonError(options.internalError, String(err), 500);
        reply(e.status, { __type: e.type, message: e.message });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

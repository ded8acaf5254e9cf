/**
 * The kubelet's client of the Kubernetes API: JSON over HTTPS with a bearer token and the
 * cluster's CA, one keep-alive agent, and watches read as newline-delimited JSON. The kubelet
 * talks to the API only through this, as any client would.
 */
import { Agent, request as httpsRequest } from 'node:https';
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';

export interface ApiClientOptions {
  server: string;
  token: string;
  /** PEM of the CA that signed the server's certificate. */
  ca?: string;
}

/** A failed request, with the API's `Status` when it sent one. */
export class ApiRequestError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface WatchEvent<T = Record<string, unknown>> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export class ApiClient {
  private readonly url: URL;
  private readonly agent: Agent | HttpAgent;

  constructor(private readonly options: ApiClientOptions) {
    this.url = new URL(options.server);
    this.agent =
      this.url.protocol === 'https:' ? new Agent({ keepAlive: true, ca: options.ca, maxSockets: 16 }) : new HttpAgent({ keepAlive: true, maxSockets: 16 });
  }

  private send(method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = 30_000): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path,
          method,
          agent: this.agent,
          timeout: timeoutMs,
          headers: {
            authorization: `Bearer ${this.options.token}`,
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
          },
        },
        resolve,
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.end(payload);
    });
  }

  /** A request whose answer is JSON; a non-2xx answer throws `ApiRequestError`. */
  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const res = await this.send(method, path, body, contentType);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      let reason = 'Unknown';
      let message = text;
      try {
        const parsed = JSON.parse(text) as { reason?: string; message?: string };
        reason = parsed.reason ?? reason;
        message = parsed.message ?? message;
      } catch {
        /* not a Status */
      }
      throw new ApiRequestError(status, reason, `${method} ${path}: ${status} ${message}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  get<T = Record<string, unknown>>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /**
   * Watches `path` (which must carry `watch=true` and a resourceVersion), calling `onEvent`
   * for each event until the server ends the stream or `signal` aborts. Resolves either way;
   * an ERROR event (say 410 Expired) is passed on for the caller to relist.
   */
  async watch<T>(path: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    const res = await this.send('GET', path, undefined, undefined, 0);
    if ((res.statusCode ?? 0) >= 300) {
      res.resume();
      throw new ApiRequestError(res.statusCode ?? 0, 'WatchFailed', `watch ${path}: ${res.statusCode}`);
    }
    const abort = () => res.destroy();
    // Aborted while the response was on its way: the listener below would never fire.
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener('abort', abort, { once: true });
    let pending = '';
    try {
      for await (const chunk of res) {
        pending += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

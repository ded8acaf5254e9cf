/**
 * The dashboard's only way to the cluster: the public Kubernetes API, with the signed-in user's
 * bearer token, exactly as kubectl uses it. Failures carry the API's own Status (its message is
 * what the user sees). `can` asks the API what the user may do (SelfSubjectAccessReview), so
 * actions they may not take are not offered.
 */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
    generation?: number;
  };
  // biome-ignore lint/suspicious/noExplicitAny: objects of every kind
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: objects of every kind
  status?: any;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly causes: { field?: string; message?: string }[] = [],
  ) {
    super(message);
  }
}

export const TOKEN_KEY = 'skiff.token';

export class Client {
  private readonly allowed = new Map<string, Promise<boolean>>();

  /** The bearer token; a refreshed sign-in replaces it (the watches open carry on, new requests take the new one). */
  constructor(public token: string) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, accept: 'application/json', ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await fetch(path, {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': contentType }),
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const status = (data ?? {}) as { reason?: string; message?: string; details?: { causes?: { field?: string; message?: string }[] } };
      throw new ApiError(res.status, status.reason ?? res.statusText, status.message ?? (text || res.statusText), status.details?.causes);
    }
    return data as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Who the token is (SelfSubjectReview). */
  async whoami(): Promise<string> {
    const review = await this.request<{ status: { userInfo: { username: string } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
    });
    return review.status.userInfo.username;
  }

  /** Whether the user may `verb` the resource (SelfSubjectAccessReview), asked once per question. */
  can(verb: string, resource: string, options: { group?: string; namespace?: string; subresource?: string } = {}): Promise<boolean> {
    const key = JSON.stringify([verb, resource, options]);
    let answer = this.allowed.get(key);
    if (!answer) {
      answer = this.request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { verb, resource, group: options.group ?? '', namespace: options.namespace, subresource: options.subresource } },
      }).then(
        (r) => r.status.allowed,
        () => false,
      );
      this.allowed.set(key, answer);
    }
    return answer;
  }

  /**
   * A streamed GET (a followed log): each piece of text as it comes, until the end or `signal`.
   * Over a WebSocket where the API serves them (a followed log then holds no HTTP connection, and
   * on the AWS shape no function), else over a streamed response.
   */
  async stream(path: string, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
    if (websockets.served !== false && (await this.streamOverSocket(path, onText, signal))) return;
    if (signal.aborted) return;
    const res = await fetch(path, { headers: this.headers({ accept: '*/*' }), signal });
    if (!res.ok || !res.body) {
      const text = await res.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        /* plain text */
      }
      throw new ApiError(res.status, res.statusText, message);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onText(value);
    }
  }

  /**
   * The stream over a WebSocket (`binary.k8s.io`: the bytes as they come); false if it never
   * opened (refused, or not served), to be asked again over a response, which says why.
   */
  private streamOverSocket(path: string, onText: (text: string) => void, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const ws = openSocket(this, path, ['binary.k8s.io']);
      const decoder = new TextDecoder();
      let opened = false;
      const stop = () => ws.close();
      signal.addEventListener('abort', stop, { once: true });
      ws.onopen = () => {
        opened = true;
        websockets.served = true;
      };
      ws.onmessage = (m) => onText(decoder.decode(m.data as ArrayBuffer, { stream: true }));
      ws.onclose = () => {
        signal.removeEventListener('abort', stop);
        const rest = decoder.decode();
        if (rest) onText(rest);
        resolve(opened);
      };
    });
  }
}

/** Whether the API serves watches and logs over WebSocket: unknown until the first watch is tried (informer.ts). */
export const websockets: { served?: boolean } = {};

/** As the API reads a browser's token on a WebSocket: a subprotocol carrying it, base64url. */
const BEARER_PROTOCOL = 'base64url.bearer.authorization.k8s.io.';

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A WebSocket to the API at `path` (with its query), offering `protocols` and the token (a browser cannot set headers on one). */
export function openSocket(client: Client, path: string, protocols: string[]): WebSocket {
  const ws = new WebSocket(`wss://${location.host}${path}`, [...protocols, `${BEARER_PROTOCOL}${base64url(client.token)}`]);
  ws.binaryType = 'arraybuffer';
  return ws;
}

/** The channels of the exec protocol (v4/v5): a message's first byte names its stream. */
export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4 } as const;

/** Sends `bytes` on an exec channel, if the socket is open. */
export function sendOnChannel(ws: WebSocket, channel: number, bytes: Uint8Array): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  const frame = new Uint8Array(bytes.length + 1);
  frame[0] = channel;
  frame.set(bytes, 1);
  ws.send(frame);
}

/** How an exec ended, in words, from the Status its status channel carries. */
export function endedWords(statusJson: string): string {
  const status = JSON.parse(statusJson) as { status?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } };
  const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  return status.status === 'Success' ? 'Exited with code 0.' : code !== undefined ? `Exited with code ${code}.` : (status.message ?? 'Failed.');
}

/** The API path of a resource: its collection, or one object of it. */
export function pathOf(r: { group: string; version: string; resource: string }, namespace?: string, name?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return `${base}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${r.resource}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

export const RESOURCES = {
  pods: { group: '', version: 'v1', resource: 'pods' },
  nodes: { group: '', version: 'v1', resource: 'nodes' },
  events: { group: '', version: 'v1', resource: 'events' },
  namespaces: { group: '', version: 'v1', resource: 'namespaces' },
  deployments: { group: 'apps', version: 'v1', resource: 'deployments' },
  replicasets: { group: 'apps', version: 'v1', resource: 'replicasets' },
  statefulsets: { group: 'apps', version: 'v1', resource: 'statefulsets' },
  daemonsets: { group: 'apps', version: 'v1', resource: 'daemonsets' },
  controllerrevisions: { group: 'apps', version: 'v1', resource: 'controllerrevisions' },
  jobs: { group: 'batch', version: 'v1', resource: 'jobs' },
  cronjobs: { group: 'batch', version: 'v1', resource: 'cronjobs' },
  migrations: { group: 'skiff.dev', version: 'v1', resource: 'migrations' },
  nodehistories: { group: 'metrics.skiff.dev', version: 'v1alpha1', resource: 'nodehistories' },
} as const;

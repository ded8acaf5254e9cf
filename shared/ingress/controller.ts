/**
 * The built-in Ingress controller of `skiff up` (class `skiff`, the default class): an HTTP and an
 * HTTPS listener that route each request by host and path to a Service's ready endpoints, as
 * ingress-nginx does:
 *
 * - a rule's host matches exactly, or as a wildcard (`*.example.com`, one label); a rule without
 *   host matches every host; of the matching paths the longest wins, `Exact` before `Prefix`
 *   (`/foo` is a prefix of `/foo` and `/foo/bar`, not of `/foobar`); with none, the default backend,
 *   else 404;
 * - HTTPS picks the certificate by SNI from the Ingress's `tls` Secrets (`kubernetes.io/tls`),
 *   else the cluster's own serving certificate;
 * - a backend's ready endpoints (from its EndpointSlices) take requests in turn; none is a 503,
 *   an endpoint that fails is a 502; WebSocket and other upgrades are passed through, and bodies
 *   stream both ways;
 * - each Ingress of the class gets the listener's address as `status.loadBalancer.ingress`.
 *
 * Routes and each backend's endpoints are read from the store at most every half second.
 */
import { createServer as createHttpServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { portEndpoints, type Slice } from '../net/endpoints.js';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';

export const INGRESS_CLASS = 'skiff';
export const INGRESS_CONTROLLER = 'skiff.dev/ingress';
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

interface BackendRef {
  namespace: string;
  service: string;
  port: { name?: string; number?: number };
}
interface Route {
  host?: string;
  path: string;
  exact: boolean;
  backend: BackendRef;
}
interface Routes {
  rules: Route[];
  defaults: BackendRef[];
  tls: { namespace: string; hosts: string[]; secret: string }[];
}
type IngressObject = KubeObject & {
  spec?: {
    ingressClassName?: string;
    defaultBackend?: { service?: { name: string; port?: { name?: string; number?: number } } };
    tls?: { hosts?: string[]; secretName?: string }[];
    rules?: {
      host?: string;
      http?: { paths: { path?: string; pathType: string; backend: { service?: { name: string; port?: { name?: string; number?: number } } } }[] };
    }[];
  };
  status?: { loadBalancer?: { ingress?: unknown[] } };
};

export interface IngressControllerOptions {
  store: Store;
  host: string;
  httpPort: number;
  httpsPort: number;
  /** The certificate for hosts no Secret covers (the cluster's serving certificate). */
  defaultCertificate: { cert: string; key: string };
  log(line: string): void;
}

export interface IngressController {
  httpPort: number;
  httpsPort: number;
  close(): Promise<void>;
}

const hostMatches = (pattern: string | undefined, host: string) =>
  pattern === undefined ||
  pattern === host ||
  (pattern.startsWith('*.') && host.endsWith(pattern.slice(1)) && !host.slice(0, -pattern.length + 1).includes('.'));
const prefixOf = (path: string, url: string) => path === '/' || url === path || url.startsWith(path.endsWith('/') ? path : `${path}/`);

class Router {
  private cached?: { at: number; routes: Promise<Routes> };
  private readonly turns = new Map<string, number>();
  /** Each backend's ready endpoints, read again at most every half second. */
  private readonly ready = new Map<string, { at: number; list: Promise<{ ip: string; port: number }[]> }>();
  private readonly contexts = new Map<string, { version: string; context: SecureContext }>();

  constructor(private readonly store: Store) {}

  routes(): Promise<Routes> {
    if (!this.cached || Date.now() - this.cached.at > 500) this.cached = { at: Date.now(), routes: this.load() };
    return this.cached.routes;
  }

  /** The Ingresses of this controller's class: ours by name, or with no class while ours is the default. */
  async ingresses(): Promise<IngressObject[]> {
    const items = (await this.store.list('ingresses.networking.k8s.io')).items as IngressObject[];
    return items.filter((i) => (i.spec?.ingressClassName ?? INGRESS_CLASS) === INGRESS_CLASS);
  }

  private async load(): Promise<Routes> {
    const routes: Routes = { rules: [], defaults: [], tls: [] };
    for (const ing of await this.ingresses()) {
      const namespace = ing.metadata.namespace ?? 'default';
      const ref = (b: { service?: { name: string; port?: { name?: string; number?: number } } }) =>
        b.service ? { namespace, service: b.service.name, port: b.service.port ?? {} } : undefined;
      const fallback = ing.spec?.defaultBackend && ref(ing.spec.defaultBackend);
      if (fallback) routes.defaults.push(fallback);
      for (const rule of ing.spec?.rules ?? [])
        for (const p of rule.http?.paths ?? []) {
          const backend = ref(p.backend);
          if (backend) routes.rules.push({ host: rule.host, path: p.path ?? '/', exact: p.pathType === 'Exact', backend });
        }
      for (const t of ing.spec?.tls ?? []) if (t.secretName) routes.tls.push({ namespace, hosts: t.hosts ?? [], secret: t.secretName });
    }
    return routes;
  }

  /** The backend for a request: the longest matching path of the matching hosts (Exact first), else a default. */
  async pick(host: string, url: string): Promise<BackendRef | undefined> {
    const { rules, defaults } = await this.routes();
    const path = url.split('?')[0];
    const matching = rules
      .filter((r) => hostMatches(r.host, host) && (r.exact ? r.path === path : prefixOf(r.path, path)))
      .sort((a, b) => b.path.length - a.path.length || Number(b.exact) - Number(a.exact) || Number(!!b.host) - Number(!!a.host));
    return matching[0]?.backend ?? defaults[0];
  }

  /** The next ready endpoint of a backend (round-robin), or undefined. */
  async endpoint(ref: BackendRef): Promise<{ ip: string; port: number } | undefined> {
    const k = `${ref.namespace}/${ref.service}/${ref.port.number ?? ref.port.name}`;
    let cached = this.ready.get(k);
    if (!cached || Date.now() - cached.at > 500) {
      cached = { at: Date.now(), list: this.readyOf(ref) };
      this.ready.set(k, cached);
    }
    const ready = await cached.list;
    if (ready.length === 0) return undefined;
    const turn = this.turns.get(k) ?? 0;
    this.turns.set(k, turn + 1);
    return ready[turn % ready.length];
  }

  /** A backend's ready endpoints, from its Service's port and EndpointSlices. */
  private async readyOf(ref: BackendRef): Promise<{ ip: string; port: number }[]> {
    const svc = (await this.store.get('services', ref.namespace, ref.service).catch(() => undefined)) as
      | (KubeObject & { spec?: { ports?: { name?: string; port: number }[] } })
      | undefined;
    const port = svc?.spec?.ports?.find((p) => (ref.port.number !== undefined ? p.port === ref.port.number : p.name === ref.port.name));
    if (!port) return [];
    const slices = (
      await this.store.list('endpointslices.discovery.k8s.io', { namespace: ref.namespace, labelSelector: `kubernetes.io/service-name=${ref.service}` })
    ).items;
    return portEndpoints(slices as Slice[], port.name ?? '').ready;
  }

  /** The TLS context for an SNI name, from the Secret of the Ingress that names the host. */
  async context(servername: string): Promise<SecureContext | undefined> {
    const entry = (await this.routes()).tls.find((t) => t.hosts.some((h) => hostMatches(h, servername)));
    if (!entry) return undefined;
    const secret = (await this.store.get('secrets', entry.namespace, entry.secret).catch(() => undefined)) as
      | (KubeObject & { data?: Record<string, string> })
      | undefined;
    const crt = secret?.data?.['tls.crt'];
    const key = secret?.data?.['tls.key'];
    if (!secret || !crt || !key) return undefined;
    const id = `${entry.namespace}/${entry.secret}`;
    const cached = this.contexts.get(id);
    if (cached && cached.version === secret.metadata.resourceVersion) return cached.context;
    const context = createSecureContext({ cert: Buffer.from(crt, 'base64'), key: Buffer.from(key, 'base64') });
    this.contexts.set(id, { version: secret.metadata.resourceVersion ?? '', context });
    return context;
  }
}

/** Proxies one request to the backend's next endpoint, streaming both ways. */
async function proxy(router: Router, req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): Promise<void> {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  const backend = await router.pick(host, req.url ?? '/');
  if (!backend) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
  const endpoint = await router.endpoint(backend);
  if (!endpoint) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('503 Service Temporarily Unavailable\n');
  const forwarded = {
    ...req.headers,
    'x-forwarded-for': [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', '),
    'x-forwarded-host': req.headers.host ?? '',
    'x-forwarded-proto': scheme,
  };
  const upstream = request({ host: endpoint.ip, port: endpoint.port, method: req.method, path: req.url, headers: forwarded }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('502 Bad Gateway\n');
    else res.destroy();
  });
  req.pipe(upstream);
}

/** Passes an upgrade (WebSocket) through to the backend as raw bytes. */
async function tunnel(router: Router, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  const backend = await router.pick(host, req.url ?? '/');
  const endpoint = backend && (await router.endpoint(backend));
  if (!endpoint) return void socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
  const upstream = connect(endpoint.port, endpoint.ip, () => {
    const lines = [
      `${req.method} ${req.url} HTTP/1.1`,
      ...Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${x}`)),
    ];
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on('error', () => socket.destroy());
  socket.on('error', () => upstream.destroy());
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

/** Makes the `skiff` IngressClass, the default class, if there is none of that name. */
async function ensureClass(store: Store): Promise<void> {
  await store
    .create('ingressclasses.networking.k8s.io', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: INGRESS_CLASS, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
      spec: { controller: INGRESS_CONTROLLER },
    })
    .catch(() => undefined);
}

/** Writes the listener's address as each of the class's Ingresses' load balancer. */
async function publishStatus(router: Router, store: Store, address: string): Promise<void> {
  const ingress = [{ ip: address }];
  for (const ing of await router.ingresses()) {
    if (JSON.stringify(ing.status?.loadBalancer?.ingress ?? []) === JSON.stringify(ingress)) continue;
    await store.update('ingresses.networking.k8s.io', { ...ing, status: { loadBalancer: { ingress } } }).catch(() => undefined);
  }
}

export async function startIngressController(o: IngressControllerOptions): Promise<IngressController> {
  await ensureClass(o.store);
  const router = new Router(o.store);
  const handle = (scheme: 'http' | 'https') => (req: IncomingMessage, res: ServerResponse) =>
    void proxy(router, req, res, scheme).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  const http = createHttpServer(handle('http'));
  const https = createHttpsServer(
    {
      cert: o.defaultCertificate.cert,
      key: o.defaultCertificate.key,
      SNICallback: (name, done) =>
        void router.context(name).then(
          (c) => done(null, c),
          () => done(null, undefined),
        ),
    },
    handle('https'),
  );
  for (const server of [http, https])
    server.on('upgrade', (req, socket, head) => void tunnel(router, req, socket as Socket, head).catch(() => socket.destroy()));
  const httpPort = await listen(http, o.host, o.httpPort);
  const httpsPort = await listen(https, o.host, o.httpsPort);
  const status = setInterval(() => void publishStatus(router, o.store, o.host).catch(() => undefined), 2000);
  void publishStatus(router, o.store, o.host).catch(() => undefined);
  return {
    httpPort,
    httpsPort,
    close: async () => {
      clearInterval(status);
      for (const server of [http, https]) server.closeAllConnections();
      await Promise.all([http, https].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

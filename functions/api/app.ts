/**
 * The Kubernetes-compatible HTTP API as a Hono app: authentication, then two sub-apps,
 * discovery (with health, version and OpenAPI) and resources (every served kind's verbs).
 * Stateless: everything it knows is in the `Store` it is given, so the same app runs in the
 * embedded Node server and in a Lambda.
 */
import type { DashboardAssets } from '../../dashboard/assets.js';
import type { BrowserSignIn } from '../../shared/auth/browser-sign-in.js';
import { apiInflight, apiRequestDuration, apiRequests, registry } from '../../shared/metrics.js';
import { Hono, type MiddlewareHandler } from 'hono';
import { Registry } from '../../shared/api/registry.js';
import { ApiError } from '../../shared/api/status.js';
import type { AuditSink } from '../../shared/auth/audit.js';
import type { KubeletServing } from '../../shared/auth/cluster-state.js';
import type { Attributes, Authorizer, Decision, RuleLister, UserInfo } from '../../shared/auth/authorizer.js';
import type { Admission } from '../../shared/auth/index.js';
import type { ServiceAccountTokens } from '../../shared/auth/service-account-tokens.js';
import type { Store } from '../../shared/store/types.js';
import { KUBELET_BUNDLE_PATH } from '../../shared/cloud/kubelet-script.js';
import { effectiveUser, forbiddenError, requestAttributes } from './authz.js';
import { decodeBody } from './body.js';
import { errorResponse, json } from './http.js';
import { userOf } from './request.js';
import { ListCache } from './list-cache.js';
import { clusterResources } from '../../shared/api/custom/served.js';
import { HEALTH_PATHS, PUBLIC_PATHS, discoveryRoutes } from './routes/discovery.js';
import { resourceRoutes, type LogProvider, type StreamProvider } from './routes/resources.js';
import type { MetricsProvider } from './kubelet-metrics.js';

export type { LogProvider, StreamProvider, StreamTarget, UpgradeEnv } from './routes/resources.js';

export type Identity = UserInfo;

export interface AppOptions {
  store: Store;
  /** Maps a bearer token to an identity; requests without one get 401. Absent: no auth (tests of the core only). */
  authenticate?: (token: string) => Promise<Identity | undefined> | Identity | undefined;
  /** Decides every authenticated request (RBAC and the node authorizer). Absent: all is allowed. */
  authorizer?: Authorizer;
  /** What the authorizer grants, for SelfSubjectRulesReview. */
  rules?: RuleLister;
  /** Admission that needs to know who asks (NodeRestriction, RBAC escalation). */
  admission?: Admission;
  /** Signs and checks ServiceAccount tokens; also serves their OpenID discovery and JWKS. */
  tokens?: ServiceAccountTokens;
  /** Makes a node's own credential (`nodes/<name>/credential`, for bootstrap); absent: none are made. */
  issueNodeCredential?: (node: string) => string | Promise<string>;
  /** With a node credential, the kubelet's serving credential and certificate for the addresses it names; absent: none. */
  issueKubeletServing?: (node: string, addresses: string[]) => Promise<KubeletServing | undefined>;
  /** Where each request is recorded (the audit log); absent: nowhere. */
  audit?: AuditSink;
  logs?: LogProvider;
  /** metrics.k8s.io (`kubectl top`) from the kubelets; absent: there are none. */
  metrics?: MetricsProvider;
  /** exec, attach and port-forward through the pod's kubelet; absent: refused. */
  streams?: StreamProvider;
  /** How often an idle watch that allows bookmarks gets one. */
  watchBookmarkIntervalMs?: number;
  /** Behind a front that cuts silent responses: a quiet watch gets a newline this often. */
  watchKeepAliveMs?: number;
  /** The longest a watch stays open before the server ends it and the client resumes (default 30 min). */
  maxWatchSeconds?: number;
  /** The address discovery advertises. */
  serverAddress?: string;
  /** The kubelet's one-file build, served to joining workers (`KUBELET_BUNDLE_PATH`); absent or undefined: 404. */
  kubeletBundle?: () => Promise<Uint8Array | undefined>;
  /** The dashboard's build, served at `/dashboard/` without a token (it signs in with one, as any client); absent: 404. */
  dashboard?: DashboardAssets;
  /** The OpenID Connect issuer the dashboard signs people in with (`/dashboard/sign-in.json`); absent: tokens only. */
  dashboardSignIn?: () => Promise<BrowserSignIn>;
}

/** The dashboard's page and assets: static, and a client of this API like any other. */
const isDashboardPath = (path: string) => path === '/dashboard' || path.startsWith('/dashboard/');
/**
 * The dashboard's pages load nothing from elsewhere, and no other site frames them; they talk to
 * this API and, when it signs people in with an issuer, to that issuer's token endpoint.
 */
const dashboardCsp = (connect: string[]) =>
  `default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src ${["'self'", ...connect].join(' ')}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

/** Every signed-in user is in system:authenticated, as kube-apiserver adds it (one array per token's groups, kept). */
const withAuthenticated = new WeakMap<string[], string[]>();
function signedIn(groups: string[]): string[] {
  let all = withAuthenticated.get(groups);
  if (!all) withAuthenticated.set(groups, (all = groups.includes('system:authenticated') ? groups : [...groups, 'system:authenticated']));
  return all;
}

const requestUri = (href: string) => {
  const url = new URL(href);
  return `${url.pathname}${url.search}`;
};

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Outermost: a request is recorded whatever answers it (a 401, a 403, a handler's error). */
function auditRequests(audit: AuditSink): MiddlewareHandler {
  return async (c, next) => {
    if (HEALTH_PATHS.has(c.req.path)) return next();
    const receivedAt = Date.now();
    // Kept aside before a handler reads it, for a policy that logs bodies.
    const body = audit.wantsBodies && BODY_METHODS.has(c.req.method) ? c.req.raw.clone().arrayBuffer() : undefined;
    await next();
    const user = c.get('authenticated' as never) as UserInfo | undefined;
    const attributes = c.get('attributes' as never) as Attributes | undefined;
    const level = audit.level(user, attributes, c.req.path);
    if (level === 'None') return;
    const withBodies = level === 'Request' || level === 'RequestResponse';
    // Decoded as the handlers decode it (JSON, YAML or protobuf); a body that does not decode is left out.
    const requestObject =
      withBodies && body ? await body.then((bytes) => decodeBody(new Uint8Array(bytes), c.req.header('content-type'))).catch(() => undefined) : undefined;
    const streaming = attributes?.verb === 'watch' || c.req.query('follow') === 'true';
    const responseBody = level === 'RequestResponse' && !streaming ? await c.res.clone().text() : undefined;
    const incoming = (c.env as { incoming?: { url?: string; socket?: { remoteAddress?: string } } } | undefined)?.incoming;
    audit.write({
      level,
      annotations: c.get('auditAnnotations' as never) as Record<string, string> | undefined,
      requestObject,
      responseBody,
      method: c.req.method,
      // The request line as sent; in a Lambda, rebuilt from the URL.
      uri: incoming?.url ?? requestUri(c.req.url),
      user,
      actingAs: userOf(c),
      attributes,
      decision: c.get('decision' as never) as Decision | undefined,
      code: c.res.status,
      sourceIP: incoming?.socket?.remoteAddress,
      userAgent: c.req.header('user-agent'),
      receivedAt,
      endedAt: Date.now(),
    });
  };
}

const REST_VERBS: Record<string, string> = {
  get: 'GET',
  list: 'LIST',
  watch: 'WATCH',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  deletecollection: 'DELETE',
};
const STREAMED = new Set(['exec', 'attach', 'portforward', 'proxy']);

/**
 * kube-apiserver's request metrics: every request counted by verb, resource and code
 * (`apiserver_request_total`), timed but for long-running ones (watches, streams), and the
 * requests in flight by kind.
 */
function measureRequests(): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const kind = c.req.method === 'GET' || c.req.method === 'HEAD' ? 'readOnly' : 'mutating';
    apiInflight.inc({ request_kind: kind });
    try {
      await next();
    } finally {
      apiInflight.dec({ request_kind: kind });
      const a = c.get('attributes' as never) as Attributes | undefined;
      const streamed = STREAMED.has(a?.subresource ?? '');
      const applied = a?.verb === 'patch' && (c.req.header('content-type') ?? '').startsWith('application/apply-patch');
      const verb = streamed ? 'CONNECT' : applied ? 'APPLY' : (REST_VERBS[a?.verb ?? ''] ?? c.req.method);
      const labels = {
        verb,
        dry_run: c.req.query('dryRun') ?? '',
        group: a?.apiGroup ?? '',
        version: a?.apiVersion ?? '',
        resource: a?.resource ?? '',
        subresource: a?.subresource ?? '',
        scope: !a?.resource ? '' : a.name ? 'resource' : a.namespace ? 'namespace' : 'cluster',
        component: 'apiserver',
      };
      apiRequests.inc({ ...labels, code: String(c.res.status) });
      if (verb !== 'WATCH' && verb !== 'CONNECT') apiRequestDuration.observe(labels, (performance.now() - started) / 1000);
    }
  };
}

/**
 * A browser cannot set headers on a WebSocket: as kube-apiserver, its bearer token may come as
 * the subprotocol `base64url.bearer.authorization.k8s.io.<token, base64url>` of an upgrade.
 */
export const BEARER_PROTOCOL = 'base64url.bearer.authorization.k8s.io.';

function bearerOf(header: (name: string) => string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header('authorization') ?? '');
  if (match) return match[1];
  if (header('upgrade')?.toLowerCase() !== 'websocket') return undefined;
  const offered = (header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  const encoded = offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length);
  return encoded ? Buffer.from(encoded, 'base64url').toString('utf8') || undefined : undefined;
}

/** One middleware for who asks and whether it may: each hop through Hono's chain costs. */
function authenticateAndAuthorize(authenticate: NonNullable<AppOptions['authenticate']>, authorizer: Authorizer | undefined): MiddlewareHandler {
  return async (c, next) => {
    const path = c.req.path;
    if (PUBLIC_PATHS.has(path) || isDashboardPath(path)) return next();
    const token = bearerOf((name) => c.req.header(name));
    const found = token ? authenticate(token) : undefined;
    const identity = found instanceof Promise ? await found : found;
    if (!identity) return json(c, new ApiError(401, 'Unauthorized', 'Unauthorized').toStatus(), 401);
    const user = { ...identity, groups: signedIn(identity.groups) };
    c.set('authenticated' as never, user as never);
    if (!authorizer) {
      c.set('user' as never, user as never);
      return next();
    }
    const effective = effectiveUser(c, user, authorizer);
    const acting = effective instanceof Promise ? await effective : effective;
    c.set('user' as never, acting as never);
    const attributes = requestAttributes(acting, c.req.method, path, (name) => c.req.query(name));
    const answer = authorizer.authorize(attributes);
    const decision = answer instanceof Promise ? await answer : answer;
    c.set('attributes' as never, attributes as never);
    c.set('decision' as never, decision as never);
    if (!decision.allowed) throw forbiddenError(attributes, decision.denied ? decision.reason : undefined);
    return next();
  };
}

export function createApp(options: AppOptions): Hono {
  const app = new Hono();
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => json(c, new ApiError(404, 'NotFound', 'the server could not find the requested resource').toStatus(), 404));
  app.use('*', measureRequests());
  if (options.audit) app.use('*', auditRequests(options.audit));
  if (options.authenticate) app.use('*', authenticateAndAuthorize(options.authenticate, options.authorizer));
  app.route('/', discoveryRoutes(clusterResources(options.store), options.serverAddress, options.tokens));
  // Prometheus' scrape: the API's, the controllers' and the scheduler's metrics where they share this process.
  app.get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }));
  app.get(KUBELET_BUNDLE_PATH, async (c) => {
    const bundle = await options.kubeletBundle?.();
    if (!bundle) throw new ApiError(404, 'NotFound', 'this API serves no kubelet: run the kubelet from a checkout, or give the API function its build');
    return c.body(bundle as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
  });
  app.get('/dashboard', (c) => c.redirect('/dashboard/', 301));
  // Which issuer the dashboard signs people in with: nothing secret (a public client's ID and the
  // issuer's public endpoints). An issuer that cannot be reached leaves the sign-in with a token.
  const signIn = async () => options.dashboardSignIn?.().catch(() => undefined);
  app.get('/dashboard/sign-in.json', async (c) => c.json({ oidc: await signIn() }, 200, { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' }));
  app.get('/dashboard/*', async (c) => {
    const path = c.req.path.slice('/dashboard/'.length);
    // A view's own address (`/dashboard/pods`) is the page; only a missing asset is a 404.
    const asset = (await options.dashboard?.get(path || 'index.html')) ?? (path.startsWith('assets/') ? undefined : await options.dashboard?.get('index.html'));
    if (!asset) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    // The page may talk to the issuer's token endpoint; what it loads (scripts, styles) has no say.
    const oidc = asset.type.startsWith('text/html') ? await signIn() : undefined;
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
      'content-type': asset.type,
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      'content-security-policy': dashboardCsp(oidc ? [new URL(oidc.tokenEndpoint).origin] : []),
      'referrer-policy': 'no-referrer',
    });
  });
  app.route(
    '/',
    resourceRoutes({
      store: options.store,
      resources: clusterResources(options.store),
      registry: new Registry(options.store),
      lists: new ListCache(),
      logs: options.logs,
      metrics: options.metrics,
      streams: options.streams,
      authorizer: options.authorizer,
      rules: options.rules,
      admission: options.admission,
      tokens: options.tokens,
      issueNodeCredential: options.issueNodeCredential,
      issueKubeletServing: options.issueKubeletServing,
      bookmarkIntervalMs: options.watchBookmarkIntervalMs ?? 10_000,
      watchKeepAliveMs: options.watchKeepAliveMs,
      maxWatchSeconds: options.maxWatchSeconds ?? 1800,
    }),
  );
  return app;
}

/**
 * The embedded shape's API server: the Hono app on Node's https server, with the CA,
 * serving certificate, admin token and kubeconfig kept in the data directory.
 *
 * In front of the app, what HTTP itself can carry that the app never sees, each answered with a
 * Status rather than a reset or silence: a declared body over the limit (413, from the header,
 * before any of it is read), a URL over 32 KiB (414), CONNECT (405), request lines and headers
 * Node cannot parse (400, 431). A refused request's body is drained before the connection
 * closes, so a client still writing it reads the answer instead of a reset.
 */
import type { DashboardAssets } from '../../dashboard/assets.js';
import { builtOnce } from '../../dashboard/build.js';
import type { MetricsProvider } from './kubelet-metrics.js';
import { getRequestListener } from '@hono/node-server';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { clusterAuthorization, reconcileBootstrapPolicy } from '../../shared/auth/index.js';
import { reconcileKubernetesService } from '../../shared/api/kubernetes-service.js';
import { ensureLocalPathClass } from '../../shared/controllers/persistentvolume.js';
import { ensureSystemPriorityClasses } from '../../shared/api/priority.js';
import { kubernetesServiceIP } from '../../shared/api/service-allocation.js';
import { FileAuditSink } from '../../shared/auth/audit.js';
import type { AuditPolicy } from '../../shared/auth/audit-policy.js';
import { browserSignIn, OidcAuthenticator, type JwtIssuerConfig } from '../../shared/auth/oidc.js';
import { ServiceAccountTokens } from '../../shared/auth/service-account-tokens.js';
import { authenticateBootstrapToken } from '../../shared/auth/bootstrap-tokens.js';
import { issueKubeletServing } from '../../shared/auth/cluster-state.js';
import { NODE_PREFIX, NODES_GROUP } from '../../shared/auth/node-authorizer.js';
import { type IssueOptions, TokenFile } from '../../shared/auth/token-file.js';
import type { TokenAuthenticator } from '../../shared/auth/tokens.js';
import { Registry } from '../../shared/api/registry.js';
import type { Store } from '../../shared/store/types.js';
import { createApp, type LogProvider, type StreamProvider } from './app.js';
import { MAX_BODY_BYTES } from './body.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ensureTls, issueKubeletCert } from './tls.js';
import { handleUpgrade } from './upgrade.js';

export interface ApiServerOptions {
  store: Store;
  dataDir: string;
  /** The kubelet's one-file build, served to workers that join from elsewhere (`AppOptions.kubeletBundle`). */
  kubeletBundle?: () => Promise<Uint8Array | undefined>;
  /** The dashboard's build (default: built in memory at its first request). */
  dashboard?: DashboardAssets;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  logs?: LogProvider;
  /** metrics.k8s.io from the kubelets (`kubectl top`). */
  metrics?: MetricsProvider;
  streams?: StreamProvider;
  watchBookmarkIntervalMs?: number;
  /** A quiet watch gets a newline this often (behind a front that cuts silent responses). */
  watchKeepAliveMs?: number;
  maxWatchSeconds?: number;
  /** The service account token issuer (`iss`); default https://kubernetes.default.svc.cluster.local. */
  issuer?: string;
  /** OIDC issuers whose tokens are accepted (an AuthenticationConfiguration's `jwt:` list). */
  jwtIssuers?: JwtIssuerConfig[];
  /** The dashboard's client ID at one of those issuers: the dashboard then signs people in with it (authorization code, PKCE). */
  dashboardClientId?: string;
  /** A file the audit log is appended to (JSON lines, audit.k8s.io/v1 Events); absent: none. */
  auditLogPath?: string;
  /** What the audit log keeps of each request (default: Metadata for all). */
  auditPolicy?: AuditPolicy;
}

export interface ApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  /** The cluster-admin token written into the kubeconfig. */
  adminToken: string;
  caCert: string;
  /** Adds a token for another identity (a kubelet, a CI job) and returns it. */
  issueToken(user: string, groups: string[], options?: IssueOptions): string;
  close(): Promise<void>;
}

const ADMIN = { user: 'skiff-admin', groups: ['system:masters'] };

/** The longest request target served; longer is 414. */
export const MAX_URL_BYTES = 32 * 1024;
/** Request line and headers together, as Go's http.Server default that kube-apiserver keeps (1 MiB); more is 431. */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** How long an idle keep-alive connection stays open: longer than Node's agent (5 s) keeps a free socket. */
const IDLE_CONNECTION_MS = 65_000;
/** How much of a refused body is read and dropped, and for how long, before the connection is cut anyway. */
const DRAIN_MAX_BYTES = 256 * 1024 * 1024;
const DRAIN_MAX_MS = 30_000;

interface Refusal {
  code: number;
  reason: string;
  message: string;
}

function statusJson({ code, reason, message }: Refusal): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** What is refused from the request line and headers alone, before the app (and any body). */
function refusal(req: IncomingMessage): Refusal | undefined {
  if ((req.url ?? '').length > MAX_URL_BYTES) {
    return { code: 414, reason: 'URITooLong', message: `the request URL is ${(req.url ?? '').length} bytes long: the limit is ${MAX_URL_BYTES}` };
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
    return { code: 413, reason: 'RequestEntityTooLarge', message: `Request entity too large: limit is ${MAX_BODY_BYTES}` };
  }
  return undefined;
}

/**
 * Answers a refusal and closes the connection, but only once the client has finished sending
 * the body: the whole answer goes out first, then the body is read and dropped (up to
 * DRAIN_MAX_BYTES or DRAIN_MAX_MS), and only then does the response end, which is when Node
 * closes. Closing with unread data would send a reset, and a client still writing would see
 * EPIPE or ECONNRESET instead of the answer.
 */
function refuse(req: IncomingMessage, res: ServerResponse, why: Refusal): void {
  const body = statusJson(why);
  res.writeHead(why.code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.write(body);
  if (req.readableEnded) {
    res.end();
    return;
  }
  let drained = 0;
  let done = false;
  const finish = (cut: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    req.off('data', onData);
    res.end();
    if (cut) req.socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_MAX_BYTES) finish(true);
  };
  const timer = setTimeout(() => finish(true), DRAIN_MAX_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', () => finish(false));
  req.once('error', () => finish(true));
  req.once('close', () => finish(false));
  req.resume();
}

/**
 * A chunked body (no Content-Length) is read here, up to the limit, so that one too large is
 * refused like a declared one; the app gets the bytes read (@hono/node-server's `rawBody`).
 */
function bufferChunkedBody(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) {
      chunks.push(chunk);
      return;
    }
    refused = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.pause();
    chunks.length = 0;
    refuse(req, res, { code: 413, reason: 'RequestEntityTooLarge', message: `Request entity too large: limit is ${MAX_BODY_BYTES}` });
  };
  const onEnd = () => {
    if (refused) return;
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = Buffer.concat(chunks);
    next();
  };
  req.on('data', onData);
  req.once('end', onEnd);
}

/** The raw answer for a connection Node's HTTP parser gave up on, or a CONNECT; then it closes. */
function rawAnswer(socket: Duplex, why: Refusal): void {
  const body = statusJson(why);
  const text = { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[why.code] ?? 'Error';
  socket.write(
    `HTTP/1.1 ${why.code} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  // Read and drop what is still coming, and close only once the client has stopped sending
  // (100 ms of quiet): closing with unread bytes makes the kernel send a reset, which can
  // reach the client before it has read the answer. Cut off after a while regardless.
  let quiet: NodeJS.Timeout | undefined;
  const closeWhenQuiet = () => {
    clearTimeout(quiet);
    quiet = setTimeout(() => socket.end(), 100);
  };
  socket.on('data', closeWhenQuiet);
  closeWhenQuiet();
  setTimeout(() => socket.destroy(), 5_000).unref();
}

/**
 * The Node https server around the app, with the guards above; plain HTTP without `tls` (the
 * relay's listener for its front, inside the VPC).
 */
export function createGuardedServer(
  app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> },
  tls: { key: string; cert: string } | undefined,
  hostname: string,
): Server | HttpServer {
  const listener = getRequestListener(app.fetch, { hostname });
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const why = refusal(req);
    if (why) return refuse(req, res, why);
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined) {
      return bufferChunkedBody(req, res, () => void listener(req, res));
    }
    void listener(req, res);
  };
  const server = tls
    ? createServer({ key: tls.key, cert: tls.cert, maxHeaderSize: MAX_HEADER_BYTES }, handle)
    : createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, handle);
  // Idle connections outlive the clients' own idle timers (Node's agent drops a free socket after
  // 5 s), so a client never reuses a socket the server is closing at that moment (ECONNRESET).
  server.keepAliveTimeout = IDLE_CONNECTION_MS;
  server.headersTimeout = IDLE_CONNECTION_MS + 1000;
  // Expect: 100-continue: refuse before the client sends the body at all.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const why = refusal(req);
    if (why) {
      const body = statusJson(why);
      res.writeHead(why.code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
      return;
    }
    res.writeContinue();
    handle(req, res);
  });
  // exec, attach and port-forward: through the app, then passed through to the pod's kubelet.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const why = refusal(req);
    if (why) return rawAnswer(socket, why);
    void handleUpgrade(app.fetch, hostname, req, socket, head);
  });
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    rawAnswer(socket, { code: 405, reason: 'MethodNotAllowed', message: `${req.method} is not supported by this server` });
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    // As Node's own handler: nothing more is written once a response has begun on this socket.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      rawAnswer(socket, { code: 431, reason: 'RequestHeaderFieldsTooLarge', message: `the request line and headers exceed ${MAX_HEADER_BYTES} bytes` });
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      rawAnswer(socket, { code: 408, reason: 'Timeout', message: 'the request was not received in time' });
    } else {
      rawAnswer(socket, { code: 400, reason: 'BadRequest', message: `the request is not valid HTTP/1.1 (${err.code ?? err.message})` });
    }
  });
  return server;
}

/** The admin token from an existing kubeconfig, if it still matches a stored hash. */
function adminTokenFrom(kubeconfigPath: string, auth: TokenAuthenticator): string | undefined {
  if (!existsSync(kubeconfigPath)) return undefined;
  try {
    const config = parseYaml(readFileSync(kubeconfigPath, 'utf8')) as { users?: { user?: { token?: string } }[] };
    const token = config.users?.[0]?.user?.token;
    return token && auth.authenticate(token) ? token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Who may ask: the static tokens of `<data-dir>/tokens.json` (followed as `skiff token` edits
 * them; a deleted node's revoked), else a signed token (a ServiceAccount's), a node bootstrap
 * token, or an OIDC issuer's.
 */
async function identities(options: ApiServerOptions, tokensPath: string) {
  const { store } = options;
  const tokenFile = new TokenFile(tokensPath);
  tokenFile.watch();
  const revocations = store.subscribe(
    (events) => {
      for (const e of events) if (e.resource === 'nodes' && e.type === 'DELETED') tokenFile.revokeUser(`${NODE_PREFIX}${e.object.metadata.name}`);
    },
    { fromRevision: await store.currentRevision() },
  );
  const tokens = new ServiceAccountTokens(store, { issuer: options.issuer });
  await tokens.rotate();
  const oidc = new OidcAuthenticator(options.jwtIssuers ?? []);
  const jwtUser = async (t: string) =>
    (await tokens.authenticate(t)) ?? (await authenticateBootstrapToken(store, t)) ?? (oidc.size ? await oidc.authenticate(t) : undefined);
  return {
    tokenFile,
    tokens,
    authenticate: (t: string) => tokenFile.auth.authenticate(t) ?? jwtUser(t),
    close() {
      revocations.close();
      tokenFile.close();
    },
  };
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { store, dataDir } = options;
  const host = options.host ?? '127.0.0.1';
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  // Also the names and address pods reach the API by: the kubernetes Service's.
  const tls = ensureTls(join(dataDir, 'pki'), { dns: ['kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'], ips: [kubernetesServiceIP()] });
  const kubeconfigPath = join(dataDir, 'kubeconfig');
  await new Registry(store).ensureSystemNamespaces();
  await reconcileBootstrapPolicy(store);
  await ensureLocalPathClass(store);
  await ensureSystemPriorityClasses(store);
  const who = await identities(options, join(dataDir, 'tokens.json'));
  const issueToken = (user: string, groups: string[], issue?: IssueOptions) => who.tokenFile.issue(user, groups, issue).token;
  const adminToken = adminTokenFrom(kubeconfigPath, who.tokenFile.auth) ?? issueToken(ADMIN.user, ADMIN.groups, { description: 'the admin kubeconfig' });
  const audit = options.auditLogPath ? new FileAuditSink(options.auditLogPath, options.auditPolicy) : undefined;
  const app = createApp({
    store,
    authenticate: who.authenticate,
    ...clusterAuthorization(store),
    tokens: who.tokens,
    issueNodeCredential: (node) => issueToken(`${NODE_PREFIX}${node}`, [NODES_GROUP], { replace: true, description: 'node credential (bootstrap)' }),
    issueKubeletServing: (node, addresses) => issueKubeletServing(store, node, addresses, (n, a) => issueKubeletCert(join(dataDir, 'pki'), n, a)),
    audit,
    logs: options.logs,
    metrics: options.metrics,
    streams: options.streams,
    watchBookmarkIntervalMs: options.watchBookmarkIntervalMs,
    watchKeepAliveMs: options.watchKeepAliveMs,
    maxWatchSeconds: options.maxWatchSeconds,
    kubeletBundle: options.kubeletBundle,
    dashboard: options.dashboard ?? builtOnce(),
    dashboardSignIn: options.dashboardClientId ? browserSignIn(options.jwtIssuers ?? [], options.dashboardClientId) : undefined,
  });
  const server = createGuardedServer(app, tls, host);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 6443, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // Pods reach the API through the kubernetes Service: it names where the API listens now.
  // (An API on every address, or named by a host name, is reached on this machine's loopback.)
  const ip = /^\d+(\.\d+){3}$/.test(host) && host !== '0.0.0.0' ? host : '127.0.0.1';
  await reconcileKubernetesService(store, { ip, port });
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  writeKubeconfig(kubeconfigPath, { server: url, caCert: tls.caCert, token: adminToken });
  return {
    url,
    port,
    kubeconfigPath,
    adminToken,
    caCert: tls.caCert,
    issueToken,
    close: () =>
      new Promise<void>((resolve) => {
        who.close();
        server.close(() => void (audit?.close() ?? Promise.resolve()).then(() => resolve()));
        server.closeAllConnections();
      }),
  };
}

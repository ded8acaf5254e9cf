/**
 * Every served resource's verbs: the path names a collection, an object or a subresource, and
 * each of those shapes has its table of verbs. A method the table lacks is a 405.
 */
import { isIP } from 'node:net';
import { Hono, type Context } from 'hono';
import type { Registry, WriteOptions } from '../../../shared/api/registry.js';
import type { Authorizer, RuleLister } from '../../../shared/auth/authorizer.js';
import type { Admission } from '../../../shared/auth/index.js';
import { NODE_PREFIX } from '../../../shared/auth/node-authorizer.js';
import { nameError } from '../../../shared/api/names.js';
import { invalidValue } from '../../../shared/api/validation.js';
import type { ServiceAccountTokens } from '../../../shared/auth/service-account-tokens.js';
import { requestToken } from '../../../shared/auth/token-request.js';
import { groupVersion, kindOf, type ServedResources } from '../../../shared/api/resources.js';
import { ApiError, badRequest, invalid, methodNotAllowed } from '../../../shared/api/status.js';
import { checkFields, checkKind, checkNamespace } from '../../../shared/api/write-checks.js';
import { bind, getScale, patchScale, updateScale } from '../../../shared/api/subresources.js';
import { evict } from '../../../shared/api/disruption.js';
import { toTable } from '../../../shared/api/tables.js';
import type { KubeObject } from '../../../shared/store/object.js';
import type { Store } from '../../../shared/store/types.js';
import type { ClusterResources } from '../../../shared/api/custom/served.js';
import type { KubeletServing } from '../../../shared/auth/cluster-state.js';
import { cutOff, encodedJson, json, jsonText, rawPath, warningHeaders } from '../http.js';
import type { Bytes, ListCache } from '../list-cache.js';
import { parseResourcePath, type ResourceTarget } from '../path.js';
import { boolParam, deleteRequest, includeObject, intParam, objectBody, patchType, userOf, wantsTable, writeOptions } from '../request.js';
import { listJson, objectJson } from '../serialize.js';
import { watchResponse } from '../watch.js';
import { type ComputedKind, HISTORY_API_VERSION, type MetricsProvider, metricsNotFound } from '../kubelet-metrics.js';
import { computedWatchResponse } from '../computed-watch.js';

/** Serves `pods/log`; absent until a kubelet can. */
export type LogProvider = (pod: KubeObject, options: Record<string, string | undefined>) => Promise<Response>;

/** Where a stream (exec, attach, port-forward) is passed through to: the pod's kubelet. */
export interface StreamTarget {
  url: string;
  nodeName: string;
  token?: string;
  /** The CA the kubelet's certificate is pinned to. */
  ca?: string;
}

export type StreamKind = 'exec' | 'attach' | 'portforward';

/** Checks a stream request against its pod, and says which kubelet URL serves it. */
export type StreamProvider = (pod: KubeObject, kind: StreamKind, query: Record<string, string[] | undefined>) => Promise<StreamTarget>;

/**
 * What the embedded server puts in a request's environment when the request is an upgrade it
 * can carry: the handler hands it the target, and the server joins the client to it.
 */
export interface UpgradeEnv {
  stream?: (target: StreamTarget) => void;
}

export interface ResourceContext {
  store: Store;
  /** What the cluster serves now: the built-ins and its CRDs' kinds. */
  resources: ClusterResources;
  registry: Registry;
  lists: ListCache;
  logs?: LogProvider;
  streams?: StreamProvider;
  /** Answers metrics.k8s.io reads (from the kubelets); absent: there are none. */
  metrics?: MetricsProvider;
  bookmarkIntervalMs: number;
  /** A quiet watch gets a newline this often (`WatchRequest.keepAliveMs`). */
  watchKeepAliveMs?: number;
  maxWatchSeconds: number;
  authorizer?: Authorizer;
  rules?: RuleLister;
  admission?: Admission;
  /** Signs ServiceAccount tokens (TokenRequest); absent: none are issued. */
  tokens?: ServiceAccountTokens;
  /** Makes a node's own credential (bootstrap); absent: none are made. */
  issueNodeCredential?: (node: string) => string | Promise<string>;
  issueKubeletServing?: (node: string, addresses: string[]) => Promise<KubeletServing | undefined>;
}

type Handler = (c: Context, target: ResourceTarget) => Promise<Response>;
type VerbTable = Partial<Record<string, Handler>>;

export function resourceRoutes(ctx: ResourceContext): Hono {
  const verbs = resourceVerbs(ctx);
  const app = new Hono();
  app.all('/api/v1/*', (c) => serve(c, ctx, '', 'v1', c.req.path.slice('/api/v1'.length), verbs));
  app.all('/apis/:group/:version/*', (c) => {
    const { group, version } = c.req.param();
    return serve(c, ctx, group, version, c.req.path.slice(`/apis/${group}/${version}`.length), verbs);
  });
  return app;
}

const COLLECTION_VERBS: Record<string, string> = { GET: 'list', POST: 'create', DELETE: 'deletecollection' };
const OBJECT_VERBS: Record<string, string> = { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** Parses the path, then runs the verb of the table its shape selects. */
async function serve(
  c: Context,
  ctx: ResourceContext,
  group: string,
  version: string,
  rest: string,
  verbs: ReturnType<typeof resourceVerbs>,
): Promise<Response> {
  let target: ResourceTarget;
  try {
    target = parseTarget(c, group, version, rest, await ctx.resources.fresh());
  } catch (err) {
    // A CRD Established elsewhere a moment ago: look once more before answering 404.
    const again = err instanceof ApiError && err.code === 404 ? await ctx.resources.missed() : undefined;
    if (!again) throw err;
    target = parseTarget(c, group, version, rest, again);
  }
  const { info, namespace, name, subresource } = target;
  const method = c.req.method;
  if (info.namespaced && name !== undefined && namespace === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  // A namespaced resource's all-namespaces path serves list and watch only, as in Kubernetes.
  if (info.namespaced && namespace === undefined && method !== 'GET')
    throw methodNotAllowed(`${method} is not supported on ${info.resource} across all namespaces`);
  const table = name === undefined ? verbs.collection : subresource && subresource !== 'status' ? verbs.subresources[subresource] : verbs.object;
  const handler = table?.[method];
  // A kind serves the verbs it lists: one that is only asked (a review) serves create alone.
  const verb = subresource && subresource !== 'status' ? undefined : (name === undefined ? COLLECTION_VERBS : OBJECT_VERBS)[method];
  // kube-apiserver registers no route for a verb a kind does not serve; kubectl words that 405 so.
  if (verb !== undefined && !info.verbs.includes(verb)) throw methodNotAllowed('the server does not allow this method on the requested resource');
  if (!handler)
    throw methodNotAllowed(
      `${method} is not supported on ${name === undefined ? 'a collection of ' : ''}${subresource ? `${info.resource}/${subresource}` : info.resource}`,
    );
  const response = await handler(c, target);
  // A deprecated version of a custom resource says so on every answer, as kube-apiserver does.
  const deprecated = kindOf(info)?.deprecationWarning;
  if (deprecated) for (const [k, v] of Object.entries(warningHeaders([deprecated]))) response.headers.append(k, v);
  return response;
}

/** The target a path names; `.` and `..` segments and unserved resources are refused. */
function parseTarget(c: Context, group: string, version: string, rest: string, served: ServedResources): ResourceTarget {
  // `.` and `..` never name anything: URL parsing would fold them into the path and a delete
  // of `configmaps/%2e%2e` would reach the namespace itself.
  const decode = (segment: string) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw badRequest('the request path is not valid');
    }
  };
  for (const segment of (rawPath(c) ?? '').split('/').map(decode)) {
    if (segment === '.' || segment === '..') throw badRequest(`name may not be ${JSON.stringify(segment)}`);
  }
  const parsed = parseResourcePath(
    group,
    version,
    rest
      .split('/')
      .filter((s) => s.length > 0)
      .map(decode),
    served,
  );
  if (parsed.ok) return parsed.target;
  // Named as client-go names a request the server has no route for: `(post jobs.batch)`.
  const what = parsed.resource ? ` (${c.req.method.toLowerCase()} ${parsed.resource}${group ? `.${group}` : ''})` : '';
  throw new ApiError(404, 'NotFound', `${parsed.message}${what}`, parsed.resource ? { group, kind: parsed.resource } : undefined);
}

const ns = (t: ResourceTarget) => t.namespace ?? '';

/** One object, as JSON or as the Table kubectl asks for. */
function one(c: Context, t: ResourceTarget, object: KubeObject, status = 200, headers: Record<string, string> = {}): Response {
  return wantsTable(c.req.header('accept'))
    ? json(c, toTable(t.info, [object], { includeObject: includeObject(c), resourceVersion: object.metadata.resourceVersion }), status, headers)
    : jsonText(c, objectJson(object), status, headers);
}

function watch(ctx: ResourceContext, c: Context, t: ResourceTarget, selectors: { labelSelector?: string; fieldSelector?: string }): Response {
  return watchResponse(ctx.store, {
    info: t.info,
    namespace: t.namespace,
    ...selectors,
    resourceVersion: c.req.query('resourceVersion'),
    timeoutSeconds: Math.min(intParam(c.req.query('timeoutSeconds'), 'timeoutSeconds') ?? ctx.maxWatchSeconds, ctx.maxWatchSeconds),
    allowBookmarks: boolParam(c.req.query('allowWatchBookmarks')),
    asTable: wantsTable(c.req.header('accept')),
    bookmarkIntervalMs: ctx.bookmarkIntervalMs,
    keepAliveMs: ctx.watchKeepAliveMs,
    cutOff: cutOff(c),
  });
}

/** The verb tables: collections, objects (and their status), and the other subresources. */
function resourceVerbs(ctx: ResourceContext) {
  const { registry } = ctx;

  const collection: VerbTable = {
    GET: (c, t) => (kindOf(t.info)?.computed ? computed(c, t, ctx) : boolParam(c.req.query('watch')) ? watchCollection(c, t) : list(c, t, ctx)),
    async POST(c, t) {
      const body = await objectBody(c);
      if (kindOf(t.info)?.review) return review(c, t, body, ctx);
      const result = await registry.create(t.info, ns(t), body, admitted(c, t, ctx));
      if (result.auditAnnotations) c.set('auditAnnotations' as never, result.auditAnnotations as never);
      return one(c, t, result.object, 201, warningHeaders(result.warnings));
    },
    async DELETE(c, t) {
      return json(c, await registry.deleteCollection(t.info, t.namespace, selectorsOf(c), await deleteRequest(c)));
    },
  };
  async function watchCollection(c: Context, t: ResourceTarget): Promise<Response> {
    const selectors = selectorsOf(c);
    // A bad selector is a 400 before any stream starts.
    registry.checkSelectors(t.info, selectors.labelSelector, selectors.fieldSelector);
    return watch(ctx, c, t, selectors);
  }

  const object: VerbTable = {
    GET: async (c, t) => {
      if (kindOf(t.info)?.computed) return computed(c, t, ctx);
      return boolParam(c.req.query('watch'))
        ? watch(ctx, c, t, { fieldSelector: `metadata.name=${t.name}` })
        : one(c, t, await registry.get(t.info, ns(t), t.name!));
    },
    async PUT(c, t) {
      const result = await registry.update(t.info, ns(t), t.name!, await objectBody(c), { ...admitted(c, t, ctx), subresource: t.subresource });
      return one(c, t, result.object, 200, warningHeaders(result.warnings));
    },
    async PATCH(c, t) {
      const type = patchType(c.req.header('content-type'));
      const result = await registry.patch(t.info, ns(t), t.name!, type, await objectBody(c), {
        ...admitted(c, t, ctx),
        force: boolParam(c.req.query('force')),
        subresource: t.subresource,
      });
      if (result.auditAnnotations) c.set('auditAnnotations' as never, result.auditAnnotations as never);
      return one(c, t, result.object, result.created ? 201 : 200, warningHeaders(result.warnings));
    },
    async DELETE(c, t) {
      if (t.subresource) throw methodNotAllowed(`DELETE is not supported on ${t.info.resource}/${t.subresource}`);
      return json(c, (await registry.delete(t.info, ns(t), t.name!, await deleteRequest(c))).body);
    },
  };

  return { collection, object, subresources: subresourceVerbs(ctx) };
}

/** Subresources beside status: scale, binding, eviction, log, the streams; finalize is not served. */
function subresourceVerbs(ctx: ResourceContext): Record<string, VerbTable> {
  const { registry } = ctx;
  return {
    scale: {
      GET: async (c, t) => json(c, await getScale(registry, t.info, ns(t), t.name!)),
      PUT: async (c, t) => json(c, await updateScale(registry, t.info, ns(t), t.name!, await objectBody(c), writeOptions(c))),
      PATCH: async (c, t) =>
        json(c, await patchScale(registry, t.info, ns(t), t.name!, patchType(c.req.header('content-type')), await objectBody(c), writeOptions(c))),
    },
    binding: { POST: async (c, t) => json(c, await bind(ctx.store, ns(t), t.name!, await objectBody(c)), 201) },
    token: {
      async POST(c, t) {
        if (!ctx.tokens) throw badRequest('this cluster issues no service account tokens');
        return json(c, await requestToken(ctx.store, ctx.tokens, ns(t), t.name!, await objectBody(c), userOf(c)), 201);
      },
    },
    credential: {
      async POST(c, t) {
        if (!ctx.issueNodeCredential) throw badRequest('this cluster makes no node credentials');
        const node = t.name!;
        const err = nameError(node, 'dns1123-subdomain');
        if (err) throw invalid(t.info, node, [invalidValue('metadata.name', node, err)]);
        // The kubelet may name the addresses it serves on: it then gets serving material too.
        const addresses = servingAddresses(t, node, await objectBody(c));
        // The token is the node's alone: its earlier ones stop working.
        const token = await ctx.issueNodeCredential(node);
        const serving = ctx.issueKubeletServing && addresses.length ? await ctx.issueKubeletServing(node, addresses) : undefined;
        const status = { token, user: `${NODE_PREFIX}${node}`, ...(serving ? { serving } : {}) };
        return json(c, { apiVersion: 'skiff.io/v1', kind: 'NodeCredential', metadata: { name: node }, status }, 201);
      },
    },
    log: {
      async GET(c, t) {
        const pod = await registry.get(t.info, ns(t), t.name!);
        if (!ctx.logs) throw badRequest(`the logs of pod "${t.name}" are not available: no kubelet serves logs in this cluster yet`);
        return ctx.logs(pod, c.req.query());
      },
    },
    exec: streamVerbs(ctx, 'exec'),
    attach: streamVerbs(ctx, 'attach'),
    portforward: streamVerbs(ctx, 'portforward'),
    eviction: { POST: async (c, t) => json(c, await evict(registry, ctx.store, ns(t), t.name!, await objectBody(c), { dryRun: writeOptions(c).dryRun }), 201) },
    // finalize is not served: every method is a 405.
    finalize: {},
  };
}

/**
 * exec, attach and port-forward, by GET (WebSocket) or POST (SPDY): checked, then handed to the
 * server that upgrades the connection. Only the embedded server can: elsewhere (a Function URL)
 * and without an upgrade, the answer is kube-apiserver's 400.
 */
function streamVerbs(ctx: ResourceContext, kind: StreamKind): VerbTable {
  const handler: Handler = async (c, t) => {
    const pod = await ctx.registry.get(t.info, ns(t), t.name!);
    if (!ctx.streams) throw badRequest(`pods/${kind} is not served in this cluster: no kubelet serves streams`);
    const target = await ctx.streams(pod, kind, c.req.queries());
    const upgrade = (c.env as UpgradeEnv | undefined)?.stream;
    if (!upgrade) throw badRequest('Upgrade request required');
    upgrade(target);
    return c.body(null, 200);
  };
  return { GET: handler, POST: handler };
}

/** The request's write options, with the admission that needs to know who asks. */
function admitted(c: Context, t: ResourceTarget, ctx: ResourceContext): WriteOptions {
  const user = userOf(c);
  const admission = ctx.admission;
  return user && admission ? { ...writeOptions(c), admit: (object, old) => admission(user, t.info, object, old) } : writeOptions(c);
}

/** A review: checked as any body is, answered by the kind, stored nowhere. */
async function review(c: Context, t: ResourceTarget, body: unknown, ctx: ResourceContext): Promise<Response> {
  const object = checkKind(t.info, body);
  const { warnings, causes } = checkFields(t.info, object, writeOptions(c).fieldValidation);
  checkNamespace(t.info, object, ns(t));
  const kind = kindOf(t.info)!;
  kind.validate?.(object, causes);
  if (causes.length) throw invalid(t.info, object.metadata.name ?? '', causes);
  const user = userOf(c) ?? { name: 'system:anonymous', groups: ['system:unauthenticated'] };
  const authorizer = ctx.authorizer ?? { authorize: () => ({ allowed: true as const, reason: 'no authorizer: everything is allowed' }) };
  const answer = await kind.review!(object, { user, authorizer, rules: ctx.rules });
  return json(c, answer, 201, warningHeaders(warnings));
}

/** The metrics of no kubelet: an empty list, and no object. */
async function noMetrics(kind: ComputedKind, at: { name?: string }): Promise<unknown> {
  const apiVersion = kind === 'NodeHistory' ? HISTORY_API_VERSION : 'metrics.k8s.io/v1beta1';
  if (at.name === undefined) return { kind: `${kind}List`, apiVersion, metadata: {}, items: [] };
  throw metricsNotFound(kind, at.name);
}

/**
 * A read of what is never stored (metrics.k8s.io, metrics.skiff.dev): answered by its provider.
 * NodeHistory is versioned by time and watched by reading it again on a clock; the metrics of
 * the present are not watched, as metrics-server's are not.
 */
async function computed(c: Context, t: ResourceTarget, ctx: ResourceContext): Promise<Response> {
  const kind = t.info.kind as ComputedKind;
  // An API that reaches no kubelet (one served alone) has metrics of none.
  const metrics = ctx.metrics ?? { read: noMetrics };
  const at = { namespace: t.namespace, name: t.name, ...selectorsOf(c) };
  const asTable = wantsTable(c.req.header('accept')) && kindOf(t.info)?.columns !== undefined;
  if (!boolParam(c.req.query('watch'))) {
    const read = (await metrics.read(kind, at)) as KubeObject & { items?: KubeObject[] };
    if (!asTable) return json(c, read);
    const objects = at.name === undefined ? (read.items ?? []) : [read];
    return json(c, toTable(t.info, objects, { includeObject: includeObject(c), resourceVersion: read.metadata?.resourceVersion }));
  }
  if (kind !== 'NodeHistory') throw methodNotAllowed(`watch is not supported on ${t.info.resource}.${t.info.group}`);
  // Read again and again: where the provider can, each node's hour is held and only what is new asked for.
  const reader = metrics.historyReader?.(at);
  const read = async () => {
    if (reader) return reader();
    if (at.name === undefined) return ((await metrics.read(kind, at)) as { items: KubeObject[] }).items;
    // One object watched: it is there, or it is not (yet, or any more).
    return [(await metrics.read(kind, at)) as KubeObject];
  };
  return computedWatchResponse({
    kind,
    apiVersion: HISTORY_API_VERSION,
    read: () => read().catch((err) => (err instanceof ApiError && err.code === 404 ? [] : Promise.reject(err))),
    resourceVersion: c.req.query('resourceVersion'),
    timeoutSeconds: Math.min(intParam(c.req.query('timeoutSeconds'), 'timeoutSeconds') ?? ctx.maxWatchSeconds, ctx.maxWatchSeconds),
    allowBookmarks: boolParam(c.req.query('allowWatchBookmarks')),
    maxPeriodMs: Math.min(15_000, ctx.watchKeepAliveMs ?? 15_000),
    present: asTable ? (o) => toTable(t.info, [o], { includeObject: includeObject(c), resourceVersion: o.metadata.resourceVersion }) : undefined,
  });
}

/** The label and field selectors a request names (an empty one is none). */
function selectorsOf(c: Context): { labelSelector?: string; fieldSelector?: string } {
  return { labelSelector: c.req.query('labelSelector') || undefined, fieldSelector: c.req.query('fieldSelector') || undefined };
}

/** A list: the newest state may be an encoded body kept from before (`list-cache.ts`). */
async function list(c: Context, t: ResourceTarget, ctx: ResourceContext): Promise<Response> {
  const { info, namespace } = t;
  const limit = intParam(c.req.query('limit'), 'limit');
  const options = {
    ...selectorsOf(c),
    limit: limit && limit > 0 ? limit : undefined,
    continue: c.req.query('continue') || undefined,
    resourceVersion: c.req.query('resourceVersion'),
    resourceVersionMatch: c.req.query('resourceVersionMatch'),
  };
  const table = wantsTable(c.req.header('accept'));
  const newest = !options.continue && (!options.resourceVersion || options.resourceVersion === '0') && !options.resourceVersionMatch;
  const stamp = !table && newest ? ctx.store.changeStamp?.(info.storeKey) : undefined;
  const cacheKey =
    stamp === undefined
      ? undefined
      : [info.storeKey, info.version, namespace ?? '', options.labelSelector ?? '', options.fieldSelector ?? '', options.limit ?? ''].join('\u0000');
  const cached = cacheKey === undefined ? undefined : ctx.lists.get(cacheKey, stamp!);
  if (cached) return encodedJson(c, cached);
  const result = await ctx.registry.list(info, namespace, options);
  if (table) {
    return json(
      c,
      toTable(info, result.items, {
        includeObject: includeObject(c),
        resourceVersion: String(result.revision),
        continue: result.continue,
        remainingItemCount: result.remainingItemCount,
      }),
    );
  }
  const meta: Record<string, unknown> = { resourceVersion: String(result.revision) };
  if (result.continue) meta.continue = result.continue;
  if (result.remainingItemCount !== undefined) meta.remainingItemCount = result.remainingItemCount;
  const body = Buffer.from(`${listJson(`${info.kind}List`, groupVersion(info), meta, result.items)}\n`) as Bytes;
  return encodedJson(c, cacheKey === undefined ? { body } : ctx.lists.set(cacheKey, stamp!, body));
}

/** The IP addresses a credential request names for its kubelet's server (`spec.addresses`), at most 8. */
function servingAddresses(t: ResourceTarget, node: string, body: unknown): string[] {
  const wanted = (body as { spec?: { addresses?: unknown } }).spec?.addresses;
  if (wanted === undefined) return [];
  const ok = Array.isArray(wanted) && wanted.length <= 8 && wanted.every((a) => typeof a === 'string' && isIP(a) !== 0);
  if (!ok) throw invalid(t.info, node, [invalidValue('spec.addresses', JSON.stringify(wanted), 'must be a list of at most 8 IP addresses')]);
  return wanted as string[];
}

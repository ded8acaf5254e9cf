/**
 * The Kubernetes-compatible HTTP API as a Hono app: discovery, OpenAPI, and every served
 * resource's verbs. Stateless: everything it knows is in the `Store` it is given, so the same
 * app runs in the embedded Node server and in a Lambda.
 */
import { Hono, type Context } from 'hono';
import {
  SERVER_VERSION,
  aggregatedContentType,
  aggregatedDiscovery,
  aggregatedVersionAsked,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
} from '../../shared/api/discovery.js';
import { openApiV3Document, openApiV3Root } from '../../shared/api/openapi.js';
import { Registry, type DeleteRequest, type FieldValidation, type PatchType } from '../../shared/api/registry.js';
import { groupVersion } from '../../shared/api/resources.js';
import { ApiError, badRequest, methodNotAllowed, toApiError, unsupportedMediaType } from '../../shared/api/status.js';
import { toTable, type IncludeObject } from '../../shared/api/tables.js';
import type { KubeObject } from '../../shared/store/object.js';
import type { Store } from '../../shared/store/types.js';
import { decodeBody, hasBody, readBody } from './body.js';
import { parseResourcePath, type ResourceTarget } from './path.js';
import { GZIP_MIN_BYTES, ListCache, acceptsGzip, gzipped, type Bytes, type EncodedBody } from './list-cache.js';
import { listJson, objectJson } from './serialize.js';
import { watchResponse } from './watch.js';

export interface Identity {
  name: string;
  groups: string[];
}

/** Serves `pods/log`; absent until a kubelet can. */
export type LogProvider = (pod: KubeObject, options: Record<string, string | undefined>) => Promise<Response>;

export interface AppOptions {
  store: Store;
  /** Maps a bearer token to an identity; requests without one get 401. Absent: no auth (tests of the core only). */
  authenticate?: (token: string) => Promise<Identity | undefined> | Identity | undefined;
  logs?: LogProvider;
  /** How often an idle watch that allows bookmarks gets one. */
  watchBookmarkIntervalMs?: number;
  /** The longest a watch stays open before the server ends it and the client resumes (default 30 min). */
  maxWatchSeconds?: number;
  /** The address discovery advertises. */
  serverAddress?: string;
}

const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);
const JSON_TYPE = 'application/json';
const OBJECT_MEDIA_TYPES = new Set(['', 'application/json', 'application/yaml', 'text/yaml', 'application/vnd.kubernetes.protobuf']);

/** A JSON body as kube-apiserver's encoder writes it: ending with a newline. */
function jsonText(c: Context, text: string, status = 200, headers: Record<string, string> = {}): Response {
  // @hono/node-server writes the head of a string body as UTF-8, which would encode a header
  // holding raw UTF-8 bytes (a Warning naming a field `名前`) twice: such an answer goes as bytes.
  const latin1 = Object.values(headers).some((v) => /[^\x00-\x7f]/.test(v));
  return c.body(latin1 ? (Buffer.from(`${text}\n`) as Bytes) : `${text}\n`, status as 200, { 'content-type': JSON_TYPE, ...headers });
}

function json(c: Context, body: unknown, status = 200, extraHeaders: Record<string, string> = {}): Response {
  return jsonText(c, JSON.stringify(body), status, extraHeaders);
}

/** An encoded JSON body, gzipped when it is large and the client accepts gzip (as kubectl does). */
function encodedJson(c: Context, encoded: EncodedBody): Response {
  if (encoded.body.byteLength >= GZIP_MIN_BYTES && acceptsGzip(c.req.header('accept-encoding'))) {
    return c.body(gzipped(encoded), 200, { 'content-type': JSON_TYPE, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
  }
  return c.body(encoded.body, 200, { 'content-type': JSON_TYPE });
}

/**
 * A boolean query parameter as kube-apiserver reads one: false when absent, "0" or "false" (in
 * any case), true for anything else, even an empty value.
 */
export function boolParam(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value !== '0' && value.toLowerCase() !== 'false';
}

/** The request path as the client sent it, before URL parsing folded `.` and `..` segments away. */
function rawPath(c: Context): string | undefined {
  const env = c.env as { incoming?: { url?: string }; event?: { rawPath?: string; path?: string } } | undefined;
  const raw = env?.incoming?.url ?? env?.event?.rawPath ?? env?.event?.path;
  return raw?.split('?')[0];
}

/** Cuts the client's connection (the embedded server's socket; nothing to cut in a Lambda). */
function cutOff(c: Context): () => void {
  return () => (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming?.socket?.destroy();
}

function errorResponse(c: Context, err: unknown): Response {
  const apiError = toApiError(err);
  if (apiError.code === 500) console.error('[api] internal error:', err);
  return json(c, apiError.toStatus(), apiError.code);
}

function wantsTable(accept: string | undefined): boolean {
  return Boolean(accept && accept.split(',').some((part) => part.includes('as=Table')));
}

function patchType(contentType: string | undefined): PatchType {
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  switch (media) {
    case 'application/json-patch+json':
      return 'json';
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    case 'application/apply-patch+yaml':
      return 'apply';
    default:
      throw unsupportedMediaType(`the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
  }
}

/**
 * The Warning header (RFC 7234: `299 - "text"`, comma-separated), as kube-apiserver writes it:
 * the text a quoted-string (`"` and `\` escaped with a backslash), in UTF-8 on the wire, so
 * client-go and kubectl print a field named `名前` as `名前`. Header values travel as Latin-1,
 * so the UTF-8 bytes are handed over as one Latin-1 character each; control characters, which
 * a header may not hold, become spaces. Bounded as kube-apiserver's warning recorder bounds it:
 * each warning once, and past 4 KiB in all each is cut to 256 characters and the rest left out.
 */
export function warningHeaders(warnings: string[]): Record<string, string> {
  const TOTAL = 4096;
  const ITEM = 256;
  const quote = (text: string) => `"${text.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/["\\]/g, (c) => `\\${c}`)}"`;
  const unique = [...new Set(warnings.filter((w) => w.length > 0))];
  let quoted = unique.map(quote);
  if (quoted.reduce((n, q) => n + q.length, 0) > TOTAL) {
    quoted = [];
    let written = 0;
    for (const w of unique) {
      if (written >= TOTAL) break;
      const q = quote([...w].slice(0, ITEM).join(''));
      quoted.push(q);
      written += q.length;
    }
  }
  if (!quoted.length) return {};
  return { warning: Buffer.from(quoted.map((q) => `299 - ${q}`).join(', '), 'utf8').toString('latin1') };
}

function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^-?\d+$/.test(value)) throw badRequest(`invalid value for ${name}: ${JSON.stringify(value)}: must be an integer`);
  return Number(value);
}

function fieldValidation(value: string | undefined): FieldValidation {
  if (value === undefined || value === '') return 'Warn';
  if (value === 'Strict' || value === 'Warn' || value === 'Ignore') return value;
  throw badRequest(`fieldValidation must be one of Ignore, Warn or Strict, got ${JSON.stringify(value)}`);
}

function dryRun(values: string[] | undefined): boolean {
  if (!values || values.length === 0) return false;
  for (const v of values) if (v !== 'All') throw badRequest(`Invalid dryRun value: ${JSON.stringify(v)}: supported values: "All"`);
  return true;
}

export function createApp(options: AppOptions): Hono {
  const { store } = options;
  const registry = new Registry(store);
  const lists = new ListCache();
  const app = new Hono();
  const bookmarkMs = options.watchBookmarkIntervalMs ?? 10_000;
  const maxWatchSeconds = options.maxWatchSeconds ?? 1800;
  const watchTimeout = (c: Context) => Math.min(intParam(c.req.query('timeoutSeconds'), 'timeoutSeconds') ?? maxWatchSeconds, maxWatchSeconds);

  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => json(c, new ApiError(404, 'NotFound', 'the server could not find the requested resource').toStatus(), 404));

  if (options.authenticate) {
    const authenticate = options.authenticate;
    app.use('*', async (c, next) => {
      if (PUBLIC_PATHS.has(c.req.path)) return next();
      const header = c.req.header('authorization') ?? '';
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const identity = match ? await authenticate(match[1]) : undefined;
      if (!identity) return json(c, new ApiError(401, 'Unauthorized', 'Unauthorized').toStatus(), 401);
      c.set('identity' as never, identity as never);
      return next();
    });
  }

  // ---- health, version, discovery, OpenAPI ---------------------------------------------
  for (const path of ['/healthz', '/livez', '/readyz']) app.get(path, (c) => c.text('ok'));
  app.get('/version', (c) => json(c, SERVER_VERSION));
  app.get('/api', (c) => {
    const v = aggregatedVersionAsked(c.req.header('accept'));
    if (v) return jsonText(c, JSON.stringify(aggregatedDiscovery(true, v)), 200, { 'content-type': aggregatedContentType(v) });
    return json(c, apiVersions(options.serverAddress ?? new URL(c.req.url).host));
  });
  app.get('/apis', (c) => {
    const v = aggregatedVersionAsked(c.req.header('accept'));
    if (v) return jsonText(c, JSON.stringify(aggregatedDiscovery(false, v)), 200, { 'content-type': aggregatedContentType(v) });
    return json(c, apiGroupList());
  });
  app.get('/api/v1', (c) => json(c, apiResourceList('', 'v1')));
  app.get('/apis/:group', (c) => {
    const group = apiGroup(c.req.param('group'));
    return group ? json(c, group) : c.notFound();
  });
  app.get('/apis/:group/:version', (c) => {
    const list = apiResourceList(c.req.param('group'), c.req.param('version'));
    return list.resources.length ? json(c, list) : c.notFound();
  });
  app.get('/openapi/v3', (c) => json(c, openApiV3Root()));
  app.get('/openapi/v3/api/:version', (c) => {
    const doc = openApiV3Document('', c.req.param('version'));
    return doc ? json(c, doc) : c.notFound();
  });
  app.get('/openapi/v3/apis/:group/:version', (c) => {
    const doc = openApiV3Document(c.req.param('group'), c.req.param('version'));
    return doc ? json(c, doc) : c.notFound();
  });

  // ---- resources -------------------------------------------------------------------------
  const handle = async (c: Context, group: string, version: string, rest: string) => {
    // `.` and `..` never name anything: URL parsing would fold them into the path and a delete
    // of `configmaps/%2e%2e` would reach the namespace itself.
    for (const segment of (rawPath(c) ?? '').split('/')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        throw badRequest('the request path is not valid');
      }
      if (decoded === '.' || decoded === '..') throw badRequest(`name may not be ${JSON.stringify(decoded)}`);
    }
    let segments: string[];
    try {
      segments = rest.split('/').filter((s) => s.length > 0).map(decodeURIComponent);
    } catch {
      throw badRequest('the request path is not valid');
    }
    const parsed = parseResourcePath(group, version, segments);
    if (!parsed.ok) {
      // Named as client-go names a request the server has no route for: `(post jobs.batch)`.
      const what = parsed.resource ? ` (${c.req.method.toLowerCase()} ${parsed.resource}${group ? `.${group}` : ''})` : '';
      throw new ApiError(404, 'NotFound', `${parsed.message}${what}`, parsed.resource ? { group, kind: parsed.resource } : undefined);
    }
    return serve(c, parsed.target);
  };
  app.all('/api/v1/*', (c) => handle(c, '', 'v1', c.req.path.slice('/api/v1'.length)));
  app.all('/apis/:group/:version/*', (c) => {
    const prefix = `/apis/${c.req.param('group')}/${c.req.param('version')}`;
    return handle(c, c.req.param('group'), c.req.param('version'), c.req.path.slice(prefix.length));
  });

  /** A whole object (POST, PUT): JSON, YAML or protobuf; patch media types belong to PATCH. */
  async function body(c: Context): Promise<unknown> {
    const contentType = c.req.header('content-type');
    const media = (contentType ?? 'application/json').split(';')[0].trim().toLowerCase();
    if (c.req.method !== 'PATCH' && !OBJECT_MEDIA_TYPES.has(media)) {
      throw unsupportedMediaType(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${media})`);
    }
    return decodeBody(await readBody(c.req.raw), contentType);
  }

  function writeOptions(c: Context) {
    return {
      dryRun: dryRun(c.req.queries('dryRun')),
      fieldManager: c.req.query('fieldManager') || undefined,
      fieldValidation: fieldValidation(c.req.query('fieldValidation')),
    };
  }

  function renderOne(c: Context, target: ResourceTarget, object: KubeObject, status = 200, headers: Record<string, string> = {}): Response {
    if (wantsTable(c.req.header('accept'))) {
      return json(c, toTable(target.info.kind, [object], { includeObject: includeObject(c), resourceVersion: object.metadata.resourceVersion }), status, headers);
    }
    return jsonText(c, objectJson(object), status, headers);
  }

  function includeObject(c: Context): IncludeObject {
    const v = c.req.query('includeObject');
    return v === 'None' || v === 'Object' ? v : 'Metadata';
  }

  async function deleteRequest(c: Context): Promise<DeleteRequest> {
    const raw = hasBody(c.req.raw) ? await readBody(c.req.raw) : new Uint8Array();
    const opts = raw.byteLength ? (decodeBody(raw, c.req.header('content-type')) as Record<string, unknown>) : {};
    if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw badRequest('the body of a delete must be DeleteOptions');
    const policy = (c.req.query('propagationPolicy') || opts.propagationPolicy) as string | undefined;
    if (policy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(policy)) {
      throw badRequest(`propagationPolicy must be one of Background, Foreground or Orphan, got ${JSON.stringify(policy)}`);
    }
    const grace = intParam(c.req.query('gracePeriodSeconds'), 'gracePeriodSeconds') ?? (opts.gracePeriodSeconds as number | undefined);
    const pre = (opts.preconditions ?? {}) as { uid?: string; resourceVersion?: string };
    const orphanQuery = c.req.query('orphanDependents');
    const orphan = orphanQuery !== undefined ? boolParam(orphanQuery) : opts.orphanDependents === true;
    return {
      propagationPolicy: (policy ?? (orphan ? 'Orphan' : undefined)) as DeleteRequest['propagationPolicy'],
      gracePeriodSeconds: grace,
      preconditions: pre,
      dryRun: dryRun(c.req.queries('dryRun') ?? (Array.isArray(opts.dryRun) ? (opts.dryRun as string[]) : undefined)),
    };
  }

  async function serve(c: Context, target: ResourceTarget): Promise<Response> {
    const { info, namespace, name, subresource } = target;
    const method = c.req.method;
    const ns = namespace ?? '';
    if (info.namespaced && name !== undefined && namespace === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    // A namespaced resource's all-namespaces path serves list and watch only, as in Kubernetes.
    if (info.namespaced && namespace === undefined && method !== 'GET') throw methodNotAllowed(`${method} is not supported on ${info.resource} across all namespaces`);

    // Collections.
    if (name === undefined) {
      if (method === 'GET') {
        const labelSelector = c.req.query('labelSelector') || undefined;
        const fieldSelector = c.req.query('fieldSelector') || undefined;
        if (boolParam(c.req.query('watch'))) {
          // A bad selector is a 400 before any stream starts.
          registry.checkSelectors(info, labelSelector, fieldSelector);
          return watchResponse(store, {
            info,
            namespace,
            labelSelector,
            fieldSelector,
            resourceVersion: c.req.query('resourceVersion'),
            timeoutSeconds: watchTimeout(c),
            allowBookmarks: boolParam(c.req.query('allowWatchBookmarks')),
            asTable: wantsTable(c.req.header('accept')),
            bookmarkIntervalMs: bookmarkMs,
            cutOff: cutOff(c),
          });
        }
        const limit = intParam(c.req.query('limit'), 'limit');
        const listOptions = {
          labelSelector,
          fieldSelector,
          limit: limit && limit > 0 ? limit : undefined,
          continue: c.req.query('continue') || undefined,
          resourceVersion: c.req.query('resourceVersion'),
          resourceVersionMatch: c.req.query('resourceVersionMatch'),
        };
        // The newest state, as JSON: the answer may be an encoded body kept from before.
        const table = wantsTable(c.req.header('accept'));
        const newest = !listOptions.continue && (!listOptions.resourceVersion || listOptions.resourceVersion === '0') && !listOptions.resourceVersionMatch;
        const stamp = !table && newest ? store.changeStamp?.(info.storeKey) : undefined;
        const cacheKey = stamp === undefined ? undefined : [info.storeKey, namespace ?? '', labelSelector ?? '', fieldSelector ?? '', listOptions.limit ?? ''].join('\u0000');
        const cached = cacheKey === undefined ? undefined : lists.get(cacheKey, stamp!);
        if (cached) return encodedJson(c, cached);
        const result = await registry.list(info, namespace, listOptions);
        const meta: Record<string, unknown> = { resourceVersion: String(result.revision) };
        if (result.continue) meta.continue = result.continue;
        if (result.remainingItemCount !== undefined) meta.remainingItemCount = result.remainingItemCount;
        if (table) {
          return json(c, toTable(info.kind, result.items, { includeObject: includeObject(c), resourceVersion: String(result.revision), continue: result.continue, remainingItemCount: result.remainingItemCount }));
        }
        const body = Buffer.from(`${listJson(`${info.kind}List`, groupVersion(info), meta, result.items)}\n`) as Bytes;
        return encodedJson(c, cacheKey === undefined ? { body } : lists.set(cacheKey, stamp!, body));
      }
      if (method === 'POST') {
        if (info.namespaced && namespace === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
        const result = await registry.create(info, ns, await body(c), writeOptions(c));
        return renderOne(c, target, result.object, 201, warningHeaders(result.warnings));
      }
      if (method === 'DELETE') {
        const labelSelector = c.req.query('labelSelector') || undefined;
        const fieldSelector = c.req.query('fieldSelector') || undefined;
        return json(c, await registry.deleteCollection(info, namespace, { labelSelector, fieldSelector }, await deleteRequest(c)));
      }
      throw methodNotAllowed(`${method} is not supported on a collection of ${info.resource}`);
    }

    // Subresources.
    if (subresource === 'scale') {
      if (method === 'GET') return json(c, await registry.getScale(info, ns, name));
      if (method === 'PUT') return json(c, await registry.updateScale(info, ns, name, await body(c), writeOptions(c)));
      if (method === 'PATCH') return json(c, await registry.patchScale(info, ns, name, patchType(c.req.header('content-type')), await body(c), writeOptions(c)));
      throw methodNotAllowed(`${method} is not supported on ${info.resource}/scale`);
    }
    if (subresource === 'binding') {
      if (method !== 'POST') throw methodNotAllowed(`${method} is not supported on pods/binding`);
      return json(c, await registry.bind(ns, name, await body(c)), 201);
    }
    if (subresource === 'log') {
      if (method !== 'GET') throw methodNotAllowed(`${method} is not supported on pods/log`);
      const pod = await registry.get(info, ns, name);
      if (!options.logs) {
        throw badRequest(`the logs of pod "${name}" are not available: no kubelet serves logs in this cluster yet`);
      }
      return options.logs(pod, c.req.query());
    }
    if (subresource === 'finalize' || subresource === 'eviction') throw methodNotAllowed(`${info.resource}/${subresource} is not supported by this server`);

    // One object (or its status).
    switch (method) {
      case 'GET': {
        if (boolParam(c.req.query('watch'))) {
          return watchResponse(store, {
            info,
            namespace,
            fieldSelector: `metadata.name=${name}`,
            resourceVersion: c.req.query('resourceVersion'),
            timeoutSeconds: watchTimeout(c),
            allowBookmarks: boolParam(c.req.query('allowWatchBookmarks')),
            asTable: wantsTable(c.req.header('accept')),
            bookmarkIntervalMs: bookmarkMs,
            cutOff: cutOff(c),
          });
        }
        return renderOne(c, target, await registry.get(info, ns, name));
      }
      case 'PUT': {
        const result = await registry.update(info, ns, name, await body(c), { ...writeOptions(c), subresource });
        return renderOne(c, target, result.object, 200, warningHeaders(result.warnings));
      }
      case 'PATCH': {
        const type = patchType(c.req.header('content-type'));
        const result = await registry.patch(info, ns, name, type, await body(c), { ...writeOptions(c), force: boolParam(c.req.query('force')), subresource });
        return renderOne(c, target, result.object, result.created ? 201 : 200, warningHeaders(result.warnings));
      }
      case 'DELETE': {
        if (subresource) throw methodNotAllowed(`DELETE is not supported on ${info.resource}/${subresource}`);
        const result = await registry.delete(info, ns, name, await deleteRequest(c));
        return json(c, result.body, 200);
      }
      default:
        throw methodNotAllowed(`${method} is not supported on ${info.resource}`);
    }
  }

  return app;
}


/** Health, version, discovery (aggregated and plain) and OpenAPI (v3, and an empty v2): what clients ask first. */
import { Hono } from 'hono';
import {
  SERVER_VERSION,
  aggregatedContentType,
  aggregatedDiscovery,
  aggregatedVersionAsked,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
} from '../../../shared/api/discovery.js';
import { OPENAPI_V2, OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_TYPE, openApiV3Document, openApiV3Root } from '../../../shared/api/openapi.js';
import type { ClusterResources } from '../../../shared/api/custom/served.js';
import type { ServiceAccountTokens } from '../../../shared/auth/service-account-tokens.js';
import { json, jsonText } from '../http.js';

/** Paths served without a token: health, version, and the service account issuer's public keys (for those who check its tokens). */
export const HEALTH_PATHS = new Set(['/healthz', '/livez', '/readyz']);
export const PUBLIC_PATHS = new Set(['/version', ...HEALTH_PATHS, '/.well-known/openid-configuration', '/openid/v1/jwks']);

/** Discovery and OpenAPI of what the cluster serves now (its CRDs' kinds with the built-ins). */
export function discoveryRoutes(resources: ClusterResources, serverAddress?: string, tokens?: ServiceAccountTokens): Hono {
  const app = new Hono();
  const served = () => resources.fresh();
  if (tokens) {
    app.get('/.well-known/openid-configuration', (c) => json(c, tokens.openidConfiguration()));
    app.get('/openid/v1/jwks', async (c) => jsonText(c, JSON.stringify(await tokens.jwks()), 200, { 'content-type': 'application/jwk-set+json' }));
  }
  for (const path of ['/healthz', '/livez', '/readyz']) app.get(path, (c) => c.text('ok'));
  app.get('/version', (c) => json(c, SERVER_VERSION));
  // /api and /apis answer aggregated discovery (one request for everything) when asked for it.
  const root = (core: boolean, plain: (host: string) => unknown | Promise<unknown>) =>
    app.get(core ? '/api' : '/apis', async (c) => {
      const v = aggregatedVersionAsked(c.req.header('accept'));
      if (v) return jsonText(c, JSON.stringify(aggregatedDiscovery(core, v, await served())), 200, { 'content-type': aggregatedContentType(v) });
      return json(c, await plain(serverAddress ?? new URL(c.req.url).host));
    });
  root(true, apiVersions);
  root(false, async () => apiGroupList(await served()));
  app.get('/api/v1', async (c) => json(c, apiResourceList('', 'v1', await served())));
  app.get('/apis/:group', async (c) => {
    const group = apiGroup(c.req.param('group'), await served());
    return group ? json(c, group) : c.notFound();
  });
  app.get('/apis/:group/:version', async (c) => {
    const list = apiResourceList(c.req.param('group'), c.req.param('version'), await served());
    return list.resources.length ? json(c, list) : c.notFound();
  });
  app.get('/openapi/v2', (c) =>
    (c.req.header('accept') ?? '').includes('protobuf')
      ? c.body(new Uint8Array(OPENAPI_V2_PROTOBUF), 200, { 'content-type': OPENAPI_V2_PROTOBUF_TYPE })
      : json(c, OPENAPI_V2),
  );
  app.get('/openapi/v3', async (c) => json(c, openApiV3Root(await served())));
  app.get('/openapi/v3/api/:version', async (c) => {
    const doc = openApiV3Document('', c.req.param('version'), await served());
    return doc ? json(c, doc) : c.notFound();
  });
  app.get('/openapi/v3/apis/:group/:version', async (c) => {
    const doc = openApiV3Document(c.req.param('group'), c.req.param('version'), await served());
    return doc ? json(c, doc) : c.notFound();
  });
  return app;
}

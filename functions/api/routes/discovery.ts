/** Health, version, discovery (aggregated and plain) and OpenAPI v3: what clients ask first. */
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
import { openApiV3Document, openApiV3Root } from '../../../shared/api/openapi.js';
import type { ServiceAccountTokens } from '../../../shared/auth/service-account-tokens.js';
import { json, jsonText } from '../http.js';

/** Paths served without a token: health, version, and the service account issuer's public keys (for those who check its tokens). */
export const HEALTH_PATHS = new Set(['/healthz', '/livez', '/readyz']);
export const PUBLIC_PATHS = new Set(['/version', ...HEALTH_PATHS, '/.well-known/openid-configuration', '/openid/v1/jwks']);

export function discoveryRoutes(serverAddress?: string, tokens?: ServiceAccountTokens): Hono {
  const app = new Hono();
  if (tokens) {
    app.get('/.well-known/openid-configuration', (c) => json(c, tokens.openidConfiguration()));
    app.get('/openid/v1/jwks', async (c) => jsonText(c, JSON.stringify(await tokens.jwks()), 200, { 'content-type': 'application/jwk-set+json' }));
  }
  for (const path of ['/healthz', '/livez', '/readyz']) app.get(path, (c) => c.text('ok'));
  app.get('/version', (c) => json(c, SERVER_VERSION));
  // /api and /apis answer aggregated discovery (one request for everything) when asked for it.
  const root = (core: boolean, plain: (host: string) => unknown) =>
    app.get(core ? '/api' : '/apis', (c) => {
      const v = aggregatedVersionAsked(c.req.header('accept'));
      if (v) return jsonText(c, JSON.stringify(aggregatedDiscovery(core, v)), 200, { 'content-type': aggregatedContentType(v) });
      return json(c, plain(serverAddress ?? new URL(c.req.url).host));
    });
  root(true, apiVersions);
  root(false, () => apiGroupList());
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
  return app;
}

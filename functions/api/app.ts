/**
 * The Kubernetes-compatible HTTP API as a Hono app: authentication, then two sub-apps,
 * discovery (with health, version and OpenAPI) and resources (every served kind's verbs).
 * Stateless: everything it knows is in the `Store` it is given, so the same app runs in the
 * embedded Node server and in a Lambda.
 */
import { Hono } from 'hono';
import { Registry } from '../../shared/api/registry.js';
import { ApiError } from '../../shared/api/status.js';
import type { Store } from '../../shared/store/types.js';
import { errorResponse, json } from './http.js';
import { ListCache } from './list-cache.js';
import { PUBLIC_PATHS, discoveryRoutes } from './routes/discovery.js';
import { resourceRoutes, type LogProvider } from './routes/resources.js';

export type { LogProvider } from './routes/resources.js';

export interface Identity {
  name: string;
  groups: string[];
}

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

export function createApp(options: AppOptions): Hono {
  const app = new Hono();
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => json(c, new ApiError(404, 'NotFound', 'the server could not find the requested resource').toStatus(), 404));
  if (options.authenticate) {
    const authenticate = options.authenticate;
    app.use('*', async (c, next) => {
      if (PUBLIC_PATHS.has(c.req.path)) return next();
      const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
      const identity = match ? await authenticate(match[1]) : undefined;
      if (!identity) return json(c, new ApiError(401, 'Unauthorized', 'Unauthorized').toStatus(), 401);
      c.set('identity' as never, identity as never);
      return next();
    });
  }
  app.route('/', discoveryRoutes(options.serverAddress));
  app.route(
    '/',
    resourceRoutes({
      store: options.store,
      registry: new Registry(options.store),
      lists: new ListCache(),
      logs: options.logs,
      bookmarkIntervalMs: options.watchBookmarkIntervalMs ?? 10_000,
      maxWatchSeconds: options.maxWatchSeconds ?? 1800,
    }),
  );
  return app;
}

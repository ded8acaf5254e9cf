/**
 * The embedded shape's API server: the Hono app on Node's https server, with the CA,
 * serving certificate, admin token and kubeconfig kept in the data directory.
 */
import { serve, type ServerType } from '@hono/node-server';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TokenAuthenticator, hashToken, newToken, type TokenRecord } from '../../shared/auth/tokens.js';
import { Registry } from '../../shared/api/registry.js';
import type { Store } from '../../shared/store/types.js';
import { createApp, type LogProvider } from './app.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ensureTls } from './tls.js';

export interface ApiServerOptions {
  store: Store;
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  logs?: LogProvider;
  watchBookmarkIntervalMs?: number;
  maxWatchSeconds?: number;
}

export interface ApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  /** The cluster-admin token written into the kubeconfig. */
  adminToken: string;
  caCert: string;
  /** Adds a token for another identity (a kubelet, a CI job) and returns it. */
  issueToken(user: string, groups: string[]): string;
  close(): Promise<void>;
}

const ADMIN = { user: 'skiff-admin', groups: ['system:masters'] };

function loadTokens(path: string): TokenRecord[] {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as TokenRecord[]) : [];
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

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { store, dataDir } = options;
  const host = options.host ?? '127.0.0.1';
  mkdirSync(dataDir, { recursive: true });
  const tls = ensureTls(join(dataDir, 'pki'));
  const tokensPath = join(dataDir, 'tokens.json');
  const kubeconfigPath = join(dataDir, 'kubeconfig');
  const auth = new TokenAuthenticator(loadTokens(tokensPath));
  const saveTokens = () => writeFileSync(tokensPath, JSON.stringify(auth.records(), null, 2), { mode: 0o600 });
  const issueToken = (user: string, groups: string[]) => {
    const token = newToken();
    auth.add({ sha256: hashToken(token), user, groups });
    saveTokens();
    return token;
  };
  const adminToken = adminTokenFrom(kubeconfigPath, auth) ?? issueToken(ADMIN.user, ADMIN.groups);

  await new Registry(store).ensureSystemNamespaces();
  const app = createApp({ store, authenticate: (t) => auth.authenticate(t), logs: options.logs, watchBookmarkIntervalMs: options.watchBookmarkIntervalMs, maxWatchSeconds: options.maxWatchSeconds });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      { fetch: app.fetch, port: options.port ?? 6443, hostname: host, createServer, serverOptions: { key: tls.key, cert: tls.cert } },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
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
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

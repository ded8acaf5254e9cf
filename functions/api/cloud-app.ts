/**
 * The API app of the AWS shape, as both of its hosts build it: the API function (behind the
 * Function URL, `lambda.ts`) and the stream relay (a long-lived server in the VPC, `relay.ts`).
 * One cold start's work, idempotent, so that either may be first: the system namespaces, the
 * default roles, the ServiceAccount signing key, the default StorageClass and PriorityClasses,
 * and `kube-system/kube-dns` (answered by each node's kubelet). Static tokens, the cluster CA and
 * each kubelet's credential are read from the table. OIDC issuers (CI pipelines, people signing in
 * to the dashboard) come from SKIFF_AUTHENTICATION_CONFIG, an AuthenticationConfiguration (YAML or
 * JSON), and the dashboard's client ID at one of them from SKIFF_DASHBOARD_CLIENT_ID.
 */
import { dashboardFromDir } from '../../dashboard/assets.js';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { authenticateBootstrapToken } from '../../shared/auth/bootstrap-tokens.js';
import { browserSignIn, jwtIssuersFrom, OidcAuthenticator } from '../../shared/auth/oidc.js';
import { clusterCa, clusterCaKey, issueKubeletServing, kubeletCredential } from '../../shared/auth/cluster-state.js';
import { clusterAuthorization, reconcileBootstrapPolicy } from '../../shared/auth/index.js';
import { NODE_PREFIX, NODES_GROUP } from '../../shared/auth/node-authorizer.js';
import { ServiceAccountTokens } from '../../shared/auth/service-account-tokens.js';
import { StoreTokens } from '../../shared/auth/store-tokens.js';
import { reconcileDnsService } from '../../shared/api/kubernetes-service.js';
import { ensureSystemPriorityClasses } from '../../shared/api/priority.js';
import { Registry } from '../../shared/api/registry.js';
import { ensureLocalPathClass } from '../../shared/controllers/persistentvolume.js';
import type { Store } from '../../shared/store/types.js';
import type { AppOptions } from './app.js';
import { kubeletLogs } from './kubelet-logs.js';
import { kubeletMetrics } from './kubelet-metrics.js';
import { signKubeletCert } from './tls.js';

/** How a kubelet is reached from the AWS shape: its credential and the cluster CA (pinned), both kept in the table. */
export function kubeletsOf(store: Store) {
  return [store, (node: string) => kubeletCredential(store, node), { ca: () => clusterCa(store) }] as const;
}

/** The app's options in the AWS shape, after the cold start's idempotent setup. */
export async function cloudAppOptions(store: Store, env: NodeJS.ProcessEnv = process.env): Promise<AppOptions> {
  const tokens = new ServiceAccountTokens(store, { issuer: env.SKIFF_ISSUER });
  // The first cold start makes default, kube-system, kube-public and kube-node-lease, the default
  // roles and the signing key; the others only read them, at once, not in turn.
  await Promise.all([
    new Registry(store).ensureSystemNamespaces(),
    reconcileBootstrapPolicy(store),
    tokens.rotate(),
    ensureLocalPathClass(store),
    ensureSystemPriorityClasses(store),
  ]);
  await reconcileDnsService(store);
  const staticTokens = new StoreTokens(store);
  /** Read at the first request for it, then kept. */
  let kubelet: Promise<Uint8Array | undefined> | undefined;
  const kubeletBundle = () =>
    (kubelet ??= readFile(env.SKIFF_KUBELET_BUNDLE ?? fileURLToPath(new URL('./skiff-kubelet.mjs', import.meta.url))).catch(() => undefined));
  const kubelets = kubeletsOf(store);
  const issuers = env.SKIFF_AUTHENTICATION_CONFIG ? jwtIssuersFrom(parseYaml(env.SKIFF_AUTHENTICATION_CONFIG)) : [];
  const oidc = new OidcAuthenticator(issuers);
  return {
    store,
    // A token with a dot is a ServiceAccount's JWT, a node bootstrap token or an OIDC issuer's JWT;
    // the others are static, looked up in the table's copy.
    authenticate: async (token) =>
      token.includes('.')
        ? ((await tokens.authenticate(token)) ?? (await authenticateBootstrapToken(store, token)) ?? (oidc.size ? await oidc.authenticate(token) : undefined))
        : staticTokens.authenticate(token),
    dashboardSignIn: env.SKIFF_DASHBOARD_CLIENT_ID ? browserSignIn(issuers, env.SKIFF_DASHBOARD_CLIENT_ID) : undefined,
    // A node that joins with a bootstrap token gets its own credential, kept in the table, and
    // serving material signed with the cluster CA's key, when the table has that key.
    issueKubeletServing: async (node, addresses) => {
      const caKey = await clusterCaKey(store);
      return caKey ? issueKubeletServing(store, node, addresses, (n, a) => signKubeletCert(caKey, n, a)) : undefined;
    },
    issueNodeCredential: async (node) =>
      (await staticTokens.issue(`${NODE_PREFIX}${node}`, [NODES_GROUP], { replace: true, description: 'node credential (bootstrap)' })).token,
    ...clusterAuthorization(store),
    tokens,
    // Pod logs and usage from the pod's kubelet.
    logs: kubeletLogs(...kubelets),
    metrics: kubeletMetrics(...kubelets),
    maxWatchSeconds: Number(env.SKIFF_MAX_WATCH_SECONDS ?? 840),
    kubeletBundle,
    // The dashboard's build, carried beside the handler (sst.config.ts writes it; aws-local names its own).
    dashboard: dashboardFromDir(env.SKIFF_DASHBOARD_DIR ?? fileURLToPath(new URL('./dashboard', import.meta.url))),
    // How often a quiet watch that asked for bookmarks gets one (default 10 s).
    watchBookmarkIntervalMs: env.SKIFF_WATCH_BOOKMARK_SECONDS ? Number(env.SKIFF_WATCH_BOOKMARK_SECONDS) * 1000 : undefined,
    // Behind CloudFront, which cuts a response silent for its origin response timeout: a quiet
    // watch gets a newline this often (SKIFF_WATCH_KEEPALIVE_SECONDS, under that timeout).
    watchKeepAliveMs: env.SKIFF_WATCH_KEEPALIVE_SECONDS ? Number(env.SKIFF_WATCH_KEEPALIVE_SECONDS) * 1000 : undefined,
  };
}

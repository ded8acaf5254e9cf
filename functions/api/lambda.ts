/**
 * The API as an AWS Lambda handler behind a Function URL in RESPONSE_STREAM mode: the same Hono
 * app over the store named by SKIFF_STORE_URL (e.g. dynamodb://skiff-state), its answers
 * streamed (`streamHandle`), so a watch sends each event as it happens. A watch ends before the
 * function's timeout: at the client's `timeoutSeconds`, and at the latest after
 * SKIFF_MAX_WATCH_SECONDS (default 840 s, under Lambda's 900 s); clients resume from their
 * resourceVersion, as client-go's reflector does. `kubectl logs` (and `-f`) streams from the
 * pod's kubelet, reached over TLS pinned to the cluster CA with the node's own credential, both
 * kept in the table. Static tokens are kept in the table
 * (`skiff token create --store dynamodb://<table>`), read again every few seconds; the
 * ServiceAccount signing keys are there too. With SKIFF_KMS_KEY_ID, Secrets are sealed under that
 * KMS key before they reach the table. The kubelet's one-file build, deployed beside this handler
 * (or named by SKIFF_KUBELET_BUNDLE), is served to the workers that join.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { streamHandle } from 'hono/aws-lambda';
import { clusterAuthorization, reconcileBootstrapPolicy } from '../../shared/auth/index.js';
import { ServiceAccountTokens } from '../../shared/auth/service-account-tokens.js';
import { NODE_PREFIX, NODES_GROUP } from '../../shared/auth/node-authorizer.js';
import { authenticateBootstrapToken } from '../../shared/auth/bootstrap-tokens.js';
import { clusterCa, clusterCaKey, issueKubeletServing, kubeletCredential } from '../../shared/auth/cluster-state.js';
import { StoreTokens } from '../../shared/auth/store-tokens.js';
import { Registry } from '../../shared/api/registry.js';
import { storeFromEnv } from '../environment.js';
import { createApp } from './app.js';
import { reconcileDnsService } from '../../shared/api/kubernetes-service.js';
import { ensureLocalPathClass } from '../../shared/controllers/persistentvolume.js';
import { ensureSystemPriorityClasses } from '../../shared/api/priority.js';
import { kubeletLogs } from './kubelet-logs.js';
import { kubeletMetrics } from './kubelet-metrics.js';
import { signKubeletCert } from './tls.js';

const store = await storeFromEnv();
const tokens = new ServiceAccountTokens(store, { issuer: process.env.SKIFF_ISSUER });
// Idempotent: the first cold start makes default, kube-system, kube-public and kube-node-lease,
// the default roles and the signing key; the others only read them, at once, not in turn.
await Promise.all([
  new Registry(store).ensureSystemNamespaces(),
  reconcileBootstrapPolicy(store),
  tokens.rotate(),
  ensureLocalPathClass(store),
  ensureSystemPriorityClasses(store),
]);
// kube-system/kube-dns, which each node's kubelet answers (no server of the control plane does here).
await reconcileDnsService(store);
const staticTokens = new StoreTokens(store);
/** Read at the first request for it, then kept. */
let kubelet: Promise<Uint8Array | undefined> | undefined;
const kubeletBundle = () =>
  (kubelet ??= readFile(process.env.SKIFF_KUBELET_BUNDLE ?? fileURLToPath(new URL('./skiff-kubelet.mjs', import.meta.url))).catch(() => undefined));

export const handler = streamHandle(
  createApp({
    store,
    // A token with a dot is a ServiceAccount's JWT or a node bootstrap token; the others are static,
    // looked up in the table's copy.
    authenticate: async (token) =>
      token.includes('.') ? ((await tokens.authenticate(token)) ?? (await authenticateBootstrapToken(store, token))) : staticTokens.authenticate(token),
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
    // Pod logs from the pod's kubelet: its credential and the cluster CA (pinned) are in the table.
    logs: kubeletLogs(store, (node) => kubeletCredential(store, node), { ca: () => clusterCa(store) }),
    metrics: kubeletMetrics(store, (node) => kubeletCredential(store, node), { ca: () => clusterCa(store) }),
    maxWatchSeconds: Number(process.env.SKIFF_MAX_WATCH_SECONDS ?? 840),
    kubeletBundle,
    // How often a quiet watch that asked for bookmarks gets one (default 10 s).
    watchBookmarkIntervalMs: process.env.SKIFF_WATCH_BOOKMARK_SECONDS ? Number(process.env.SKIFF_WATCH_BOOKMARK_SECONDS) * 1000 : undefined,
  }),
);

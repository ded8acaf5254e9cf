/**
 * `skiff up`: the whole cluster on one machine, in one command: the SQLite store in the data
 * directory, the HTTPS API with its kubeconfig, the controllers and scheduler on the store's
 * change feed, and `--nodes` kubelets as child processes (the `local` cloud provider) running
 * pods with the `process` or `docker` runtime. Stops everything it started on Ctrl-C or
 * SIGTERM; started again on the same data directory, it has everything it had, and the
 * kubelets (same node names) start their pods again.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { kubeletLogs, kubeletStreams } from '../functions/api/kubelet-logs.js';
import { kubeletMetrics, podUsage } from '../functions/api/kubelet-metrics.js';
import { kubeletCredential } from '../shared/auth/cluster-state.js';
import { type ApiServer, startApiServer } from '../functions/api/server.js';
import { dockerAvailable } from '../kubelet/runtime/docker.js';
import { LocalCloudProvider } from '../kubelet/local-provider.js';
import { onceBuilt } from '../kubelet/bundle.js';
import { reconcileDnsService } from '../shared/api/kubernetes-service.js';
import { dnsServiceIP } from '../shared/api/service-allocation.js';
import { type DnsServer, startDnsServer, storeDirectory } from '../shared/dns/server.js';
import { INGRESS_CLASS, type IngressController, startIngressController } from '../shared/ingress/controller.js';
import type { CloudProvider } from '../shared/cloud/types.js';
import type { AuditPolicy } from '../shared/auth/audit-policy.js';
import type { JwtIssuerConfig } from '../shared/auth/oidc.js';
import { startControlPlane } from '../shared/control-plane.js';
import { LocalKeyring } from '../shared/encryption/keyring.js';
import { startReencryption } from '../shared/encryption/reencrypt.js';
import { SealedStore } from '../shared/encryption/sealed-store.js';
import { createStore } from '../shared/store/factory.js';
import type { Store } from '../shared/store/types.js';

export interface UpOptions {
  dataDir: string;
  port: number;
  host: string;
  nodes: number;
  runtime: 'process' | 'docker' | 'auto';
  /** Docker engine socket for the docker runtime (default /var/run/docker.sock). */
  dockerSocket?: string;
  /** A node whose Lease is this old goes Unknown (default 40 s). */
  nodeGraceSeconds?: number;
  /** How long pods stay on an unreachable node before they are evicted (default 300 s). */
  evictionSeconds?: number;
  /** Kubelet Lease renewal period (default 10 s). */
  leaseIntervalMs?: number;
  /** How often each kubelet keeps its node's CPU and memory for the charts (default 30 s). */
  historyIntervalMs?: number;
  /** First restart back-off of a crashing container (default 10 s). */
  backoffInitialMs?: number;
  /** How often each HorizontalPodAutoscaler looks (default 15 s), and how long a scale-down waits (default 300 s). */
  hpaSyncSeconds?: number;
  hpaDownscaleStabilizationSeconds?: number;
  /** How often kubelets bring running pods' ConfigMap and Secret volumes up to date (default 60 s). */
  volumeSyncSeconds?: number;
  /** OIDC issuers whose tokens the API accepts (CI pipelines). */
  jwtIssuers?: JwtIssuerConfig[];
  /** The dashboard's client ID at one of those issuers: people sign in to the dashboard with it. */
  dashboardClientId?: string;
  /** What the audit log keeps of each request (default: Metadata for all). */
  auditPolicy?: AuditPolicy;
  /** Where the Ingress controller listens (0: a free port); absent: no Ingress controller. */
  ingressPorts?: { http: number; https: number };
  /** Where local nodes' pod ranges (a /24 each) come from (default 127.16.0.0/12). */
  clusterCidr?: string;
}

export interface Running {
  url: string;
  kubeconfigPath: string;
  /** Where the workers came from (`local` kubelet processes, or the AWS shape's EC2 emulator). */
  provider?: CloudProvider;
  runtime?: 'process' | 'docker';
  stop(): Promise<void>;
}

/** The SQLite file, Secrets sealed before they reach it under the key file's current key, and their re-encryption. */
async function openStore(dataDir: string, log: (line: string) => void) {
  const file = join(dataDir, 'skiff.db');
  const store = new SealedStore(await createStore(`sqlite://${file}`), new LocalKeyring(join(dataDir, 'encryption-keys.json')));
  log(`store     sqlite ${file} at revision ${await store.currentRevision()}, Secrets sealed under ${store.sealer.keyring.currentKeyId()}`);
  return { store, reencryption: startReencryption(store, { log: (line) => log(`store     ${line}`) }) };
}

/** `options.nodes` kubelet child processes, on the runtime asked for (or the one there is). */
async function startKubelets(
  options: UpOptions,
  api: ApiServer,
  dataDir: string,
  log: (line: string) => void,
  clusterDns: string | undefined,
): Promise<{ provider: LocalCloudProvider; runtime: 'process' | 'docker' }> {
  const socket = options.dockerSocket ?? '/var/run/docker.sock';
  const runtime = options.runtime === 'auto' ? ((await dockerAvailable(socket)) ? 'docker' : 'process') : options.runtime;
  if (runtime === 'docker' && !(await dockerAvailable(socket))) throw new Error(`--runtime docker: no Docker engine answers on ${socket}`);
  const provider = new LocalCloudProvider({
    server: api.url,
    caFile: join(dataDir, 'pki', 'ca.crt'),
    servingCaDir: join(dataDir, 'pki'),
    dataDir,
    runtime,
    dockerSocket: runtime === 'docker' ? socket : undefined,
    issueToken: api.issueToken,
    leaseIntervalMs: options.leaseIntervalMs,
    historyIntervalMs: options.historyIntervalMs,
    backoffInitialMs: options.backoffInitialMs,
    volumeSyncSeconds: options.volumeSyncSeconds,
    clusterDns,
    clusterCidr: options.clusterCidr,
    log: (line) => log(`kubelet   ${line}`),
  });
  const names = Array.from({ length: options.nodes }, (_, i) => `local-${i}`);
  await Promise.all(names.map((name) => provider.create({ name, instanceType: 'local', zone: 'local' })));
  log(`nodes     ${names.join(', ')} (runtime ${runtime})`);
  return { provider, runtime };
}

/**
 * Cluster DNS on this machine's loopback, behind `kube-system/kube-dns` (the kubelets' proxies
 * carry the Service's address to it). Without it (its address held by another Service, say), pods
 * use the host's resolver.
 */
async function startClusterDns(store: Store, log: (line: string) => void): Promise<DnsServer | undefined> {
  const dns = await startDnsServer({ directory: storeDirectory(store), host: '127.0.0.1', port: 0 });
  try {
    await reconcileDnsService(store, { ip: '127.0.0.1', port: dns.port });
  } catch (err) {
    await dns.close();
    log(`dns       not served: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  log(`dns       ${dnsServiceIP()}:53 (kube-system/kube-dns; served on 127.0.0.1:${dns.port})`);
  return dns;
}

/** The Ingress controller of the `skiff` class; ports another program holds leave it out, said in the log. */
async function startIngress(store: Store, options: UpOptions, dataDir: string, log: (line: string) => void): Promise<IngressController | undefined> {
  const ports = options.ingressPorts as { http: number; https: number };
  try {
    const pki = join(dataDir, 'pki');
    const controller = await startIngressController({
      store,
      host: options.host,
      httpPort: ports.http,
      httpsPort: ports.https,
      defaultCertificate: { cert: readFileSync(join(pki, 'apiserver.crt'), 'utf8'), key: readFileSync(join(pki, 'apiserver.key'), 'utf8') },
      log: (line) => log(`ingress   ${line}`),
    });
    log(`ingress   http://${options.host}:${controller.httpPort}, https://${options.host}:${controller.httpsPort} (class ${INGRESS_CLASS}, the default)`);
    return controller;
  } catch (err) {
    log(`ingress   not served: ${err instanceof Error ? err.message : String(err)} (--ingress-http-port, --ingress-https-port)`);
    return undefined;
  }
}

/** A kubelet's log credential: the provider that started it knows it, else (joined with a bootstrap token) the store keeps it. */
function credentialOf(store: Store, provider: () => LocalCloudProvider | undefined) {
  return async (node: string) => provider()?.servingTokenFor(node) ?? (await kubeletCredential(store, node));
}

export async function up(options: UpOptions, log: (line: string) => void = console.log): Promise<Running> {
  const dataDir = resolve(options.dataDir);
  const started = Date.now();
  const { store, reencryption } = await openStore(dataDir, log);
  let provider: LocalCloudProvider | undefined;
  const kubelets = [store, credentialOf(store, () => provider), { caFile: join(dataDir, 'pki', 'ca.crt') }] as const;
  const metrics = kubeletMetrics(...kubelets);
  const api = await startApiServer({
    store,
    dataDir,
    port: options.port,
    host: options.host,
    logs: kubeletLogs(...kubelets),
    metrics,
    streams: kubeletStreams(...kubelets),
    jwtIssuers: options.jwtIssuers,
    dashboardClientId: options.dashboardClientId,
    auditLogPath: join(dataDir, 'audit.log'),
    auditPolicy: options.auditPolicy,
    // For workers that join from elsewhere with a bootstrap token: built at the first ask.
    kubeletBundle: onceBuilt(join(dataDir, 'skiff-kubelet.mjs')),
  });
  log(`api       ${api.url} (ready in ${Date.now() - started} ms)`);
  log(`dashboard ${api.url}/dashboard/ (sign in: npm run skiff -- dashboard${options.dataDir === './.skiff' ? '' : ` --data-dir ${options.dataDir}`})`);
  const controlPlane = await startControlPlane({
    store,
    log: (line) => log(`control   ${line}`),
    nodeLifecycle: {
      gracePeriodMs: options.nodeGraceSeconds !== undefined ? options.nodeGraceSeconds * 1000 : undefined,
      defaultTolerationSeconds: options.evictionSeconds,
    },
    hpa: {
      metrics: podUsage(metrics),
      syncMs: options.hpaSyncSeconds !== undefined ? options.hpaSyncSeconds * 1000 : undefined,
      downscaleStabilizationMs: options.hpaDownscaleStabilizationSeconds !== undefined ? options.hpaDownscaleStabilizationSeconds * 1000 : undefined,
    },
  });
  log(`control   ${controlPlane.controllers.map((c) => c.name).join(', ')}`);
  const dns = await startClusterDns(store, log);
  const ingress = options.ingressPorts && (await startIngress(store, options, dataDir, log));

  let runtime: 'process' | 'docker' | undefined;
  if (options.nodes > 0) ({ provider, runtime } = await startKubelets(options, api, dataDir, log, dns && dnsServiceIP()));

  log('');
  log('Skiff is up. Try:');
  log(`  export KUBECONFIG=${api.kubeconfigPath}`);
  log('  kubectl get nodes');
  log('  kubectl apply -f examples/web.yaml');
  log('  kubectl get pods -o wide');
  log('');
  let stopping: Promise<void> | undefined;
  return {
    url: api.url,
    kubeconfigPath: api.kubeconfigPath,
    provider,
    runtime,
    stop: () =>
      (stopping ??= (async () => {
        if (provider) {
          log('stopping  kubelets and their pods');
          await provider.close();
        }
        log('stopping  api');
        await api.close();
        await dns?.close();
        await ingress?.close();
        log('stopping  controllers');
        await controlPlane.stop();
        await reencryption.stop();
        log('stopping  store');
        await store.close();
        log('stopped');
      })()),
  };
}

/**
 * The stream relay: the AWS shape's one long-lived API server, a small container in the VPC (a
 * Fargate service of one task). Neither front of the API function (API Gateway, a Function URL)
 * carries an upgraded connection, so exec, attach and port-forward cannot reach the function:
 * the front routes those paths here (CloudFront behaviours; the router emulator in aws-local),
 * and the relay serves them as the embedded server does: the same app (authentication, RBAC,
 * audit, the pod's checks) over the same table, then the client's WebSocket passed through,
 * bytes as they are, to the pod's kubelet, with the node's credential over TLS pinned to the
 * cluster CA.
 *
 * It is also what pods reach as `kubernetes.default.svc`: it serves the whole API over TLS with
 * a certificate the cluster CA signs for the Service's names and address (an API Gateway or
 * Function URL has AWS's certificate and a name, not an address), and points the `kubernetes`
 * Service at its own address. One relay at a time keeps that Service: a second would take it over.
 *
 * Settings (environment): SKIFF_STORE_URL as the functions; SKIFF_RELAY_PORT (default 443) and
 * SKIFF_RELAY_HOST (default 0.0.0.0); SKIFF_RELAY_HTTP_PORT, a plain listener for the front's
 * VPC origin (none by default); SKIFF_RELAY_ADDRESS, the address pods reach it on (default:
 * the task's own, from the ECS task metadata, else the machine's first IPv4 address).
 */
import type { Server as HttpServer } from 'node:http';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { pathToFileURL } from 'node:url';
import { reconcileKubernetesService } from '../../shared/api/kubernetes-service.js';
import { kubernetesServiceIP } from '../../shared/api/service-allocation.js';
import { clusterCa, clusterCaKey } from '../../shared/auth/cluster-state.js';
import type { Store } from '../../shared/store/types.js';
import { storeFromEnv } from '../environment.js';
import { createApp } from './app.js';
import { cloudAppOptions, kubeletsOf } from './cloud-app.js';
import { kubeletStreams } from './kubelet-logs.js';
import { createGuardedServer } from './server.js';
import { signServingCert } from './tls.js';

export interface RelayOptions {
  store: Store;
  /** The address pods reach the relay on: the `kubernetes` Service's endpoint. */
  address: string;
  port?: number;
  host?: string;
  /**
   * A plain HTTP listener too, for the front alone (CloudFront's VPC origin, which checks an
   * HTTPS origin's certificate against public CAs, and the cluster CA is not one).
   */
  httpPort?: number;
  /** How long to wait for the cluster CA to be in the table (default: not at all). */
  waitForCaMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface Relay {
  url: string;
  port: number;
  httpPort?: number;
  close(): Promise<void>;
}

function listen(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * The cluster CA's key, which signs the relay's certificate; the relay may start before whoever
 * keeps the CA in the table has put it there (a deploy, aws-local), so it is looked for again
 * every half second, for up to `waitMs`.
 */
async function clusterCaKeyOnceThere(store: Store, waitMs: number): Promise<string> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const [ca, key] = await Promise.all([clusterCa(store), clusterCaKey(store)]);
    if (ca && key) return key;
    if (Date.now() >= deadline) throw new Error('the table holds no cluster CA (certificate and key): the relay cannot serve the cluster its certificate');
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The names a client inside the cluster may call the API by. */
const SERVICE_NAMES = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { store, address } = options;
  const env = options.env ?? process.env;
  const caKey = await clusterCaKeyOnceThere(store, options.waitForCaMs ?? 0);
  const tls = signServingCert(caKey, 'skiff-relay', { dns: ['localhost', ...SERVICE_NAMES], ips: [...new Set(['127.0.0.1', kubernetesServiceIP(), address])] });
  const app = createApp({
    ...(await cloudAppOptions(store, env)),
    streams: kubeletStreams(...kubeletsOf(store)),
    // A long-lived server: watches last as long as kube-apiserver's (30 min by default), not a function's 15.
    maxWatchSeconds: env.SKIFF_MAX_WATCH_SECONDS ? Number(env.SKIFF_MAX_WATCH_SECONDS) : undefined,
  });
  const host = options.host ?? '0.0.0.0';
  const servers: (Server | HttpServer)[] = [createGuardedServer(app, tls, host)];
  const port = await listen(servers[0], options.port ?? 443, host);
  let httpPort: number | undefined;
  if (options.httpPort !== undefined) {
    servers.push(createGuardedServer(app, undefined, host));
    httpPort = await listen(servers[1], options.httpPort, host);
  }
  await reconcileKubernetesService(store, { ip: address, port });
  return {
    url: `https://${address}:${port}`,
    port,
    httpPort,
    close: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      ).then(() => undefined),
  };
}

/** The task's own address: ECS's task metadata (awsvpc), else the first IPv4 address that is not loopback. */
async function ownAddress(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.SKIFF_RELAY_ADDRESS) return env.SKIFF_RELAY_ADDRESS;
  const metadata = env.ECS_CONTAINER_METADATA_URI_V4;
  if (metadata) {
    const task = (await (await fetch(`${metadata}/task`)).json()) as { Containers?: { Networks?: { IPv4Addresses?: string[] }[] }[] };
    const ip = task.Containers?.[0]?.Networks?.[0]?.IPv4Addresses?.[0];
    if (ip) return ip;
  }
  const ip = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  return ip ?? '127.0.0.1';
}

/** Run as a container's command: serves until SIGTERM. */
async function main(): Promise<void> {
  const store = await storeFromEnv();
  const relay = await startRelay({
    store,
    address: await ownAddress(process.env),
    port: process.env.SKIFF_RELAY_PORT ? Number(process.env.SKIFF_RELAY_PORT) : undefined,
    host: process.env.SKIFF_RELAY_HOST,
    httpPort: process.env.SKIFF_RELAY_HTTP_PORT ? Number(process.env.SKIFF_RELAY_HTTP_PORT) : undefined,
    // Started beside a deploy or aws-local that puts the CA in the table: waits for it a while.
    waitForCaMs: 10 * 60_000,
  });
  console.log(`relay listening ${relay.url}`);
  const stop = async () => {
    await relay.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  // Started with an IPC channel (aws-local): its parent's end is the relay's end too.
  if (process.connected) process.once('disconnect', () => void stop());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`relay: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}

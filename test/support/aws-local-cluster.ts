/**
 * The test clusters in the AWS shape: `upAwsLocal` with no kubelets (the suites bring simulated
 * nodes), in a temp dir, and a store opened on the same table from this process, as a second
 * writer beside the functions (sim kubelets and direct reads go through it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upAwsLocal } from '../../cli/aws-local.js';
import type { ApiServerOptions } from '../../functions/api/server.js';
import type { NodeLifecycleOptions } from '../../shared/controllers/node-lifecycle.js';
import { createStore } from '../../shared/store/factory.js';
import type { Store } from '../../shared/store/types.js';
import { clientsFor, type TestCluster } from './api-server.js';

/** What the embedded clusters take that this shape can honour. */
const HONOURED = new Set(['watchBookmarkIntervalMs', 'maxWatchSeconds', 'jwtIssuers', 'dashboardClientId']);

export interface AwsLocalClusterOptions {
  nodeLifecycle?: NodeLifecycleOptions;
}

export async function startAwsLocalCluster(options: Partial<ApiServerOptions> = {}, extra: AwsLocalClusterOptions = {}): Promise<TestCluster> {
  const unsupported = Object.keys(options).filter((k) => !HONOURED.has(k));
  if (unsupported.length) throw new Error(`the aws-local test shape does not take ${unsupported.join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-aws-local-test-'));
  const grace = extra.nodeLifecycle?.gracePeriodMs;
  const running = await upAwsLocal(
    {
      dataDir: join(dir, 'data'),
      port: 0,
      host: '127.0.0.1',
      nodes: 0,
      runtime: 'process',
      maxWatchSeconds: options.maxWatchSeconds,
      watchBookmarkIntervalMs: options.watchBookmarkIntervalMs,
      jwtIssuers: options.jwtIssuers,
      dashboardClientId: options.dashboardClientId,
      nodeGraceSeconds: grace === undefined ? undefined : grace / 1000,
      evictionSeconds: extra.nodeLifecycle?.defaultTolerationSeconds,
      tickIntervalMs: 2000,
      inMemory: true,
      // Simulated nodes have no kubelet: no stream to relay.
      relay: false,
      // A cluster that names the dashboard's client serves the dashboard (built, as a deploy does).
      dashboard: options.dashboardClientId !== undefined,
    },
    () => undefined,
  );
  let store: Store | undefined;
  try {
    store = await createStore(running.storeUrl);
  } catch (err) {
    await running.stop();
    throw err;
  }
  const server = {
    url: running.url,
    port: Number(new URL(running.url).port),
    kubeconfigPath: running.kubeconfigPath,
    adminToken: running.adminToken,
    caCert: running.caCert,
    issueToken(): string {
      throw new Error('the aws-local shape keeps tokens in the table: issue them with StoreTokens');
    },
    close: () => running.stop(),
  };
  const opened = store;
  return {
    ...clientsFor(server, dir),
    server,
    store: opened,
    dir,
    async stop() {
      await opened.close();
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

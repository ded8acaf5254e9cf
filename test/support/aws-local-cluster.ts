/**
 * The test clusters in the AWS shape: `upAwsLocal` with no kubelets (the suites bring simulated
 * nodes), in a temp dir, and a store opened on the same table from this process, as a second
 * writer beside the functions (sim kubelets and direct reads go through it).
 *
 * One such cluster at a time on the machine (a slot taken across vitest's workers): each is a
 * JVM and up to ten execution environments loading the whole API, and two starting together on
 * two cores starve each other. Beside one, the other worker runs the embedded files.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const SLOT = join(tmpdir(), 'skiff-aws-local-cluster.slot');

/** Whether a process of this id still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits for the machine's aws-local slot (a directory made atomically), taking it from a holder that died; resolves with its release. */
async function takeSlot(): Promise<() => void> {
  for (;;) {
    try {
      mkdirSync(SLOT);
      writeFileSync(join(SLOT, 'pid'), String(process.pid));
      return () => rmSync(SLOT, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(join(SLOT, 'pid'), 'utf8'));
    } catch {
      // Made, and its pid not written yet: looked at again below.
    }
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) rmSync(SLOT, { recursive: true, force: true });
    else await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startAwsLocalCluster(options: Partial<ApiServerOptions> = {}, extra: AwsLocalClusterOptions = {}): Promise<TestCluster> {
  const unsupported = Object.keys(options).filter((k) => !HONOURED.has(k));
  if (unsupported.length) throw new Error(`the aws-local test shape does not take ${unsupported.join(', ')}`);
  const release = await takeSlot();
  const dir = mkdtempSync(join(tmpdir(), 'skiff-aws-local-test-'));
  const grace = extra.nodeLifecycle?.gracePeriodMs;
  let running: Awaited<ReturnType<typeof upAwsLocal>>;
  try {
    running = await upAwsLocal(
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
      },
      () => undefined,
    );
  } catch (err) {
    release();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let store: Store | undefined;
  try {
    store = await createStore(running.storeUrl);
  } catch (err) {
    await running.stop();
    release();
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
      release();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * What every function of the AWS shape builds from its environment, once per cold start: the
 * store (`SKIFF_STORE_URL`, sealed under `SKIFF_KMS_KEY_ID` when set; the table is the
 * infrastructure's to make, so a cold start never calls CreateTable), the controllers, and the
 * queue for delayed work (`SKIFF_QUEUE_URL`, an `sqs://` URL).
 */
import { type ControllerOptions, controllersFor } from '../shared/control-plane.js';
import type { DispatchResult } from '../shared/controllers/dispatch.js';
import { requeueKey } from '../shared/controllers/dispatch.js';
import type { Controller } from '../shared/controllers/types.js';
import { sealedWhenAsked } from '../shared/encryption/sealed-store.js';
import { createQueue } from '../shared/queue/factory.js';
import { MAX_DELAY_MS, type Queue } from '../shared/queue/types.js';
import { createStore } from '../shared/store/factory.js';
import { migrationFromEnv, provisionerFromEnv } from './provisioning.js';
import { clusterCa, kubeletCredential } from '../shared/auth/cluster-state.js';
import { kubeletMetrics, podUsage } from './api/kubelet-metrics.js';
import type { Store } from '../shared/store/types.js';

/** The store URL, with `createTable=false` unless it says otherwise. */
export function storeUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.SKIFF_STORE_URL ?? 'dynamodb://skiff-state';
  if (!url.startsWith('dynamodb://') || /[?&]createTable=/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}createTable=false`;
}

export async function storeFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  return sealedWhenAsked(await createStore(storeUrl(env)));
}

export async function queueFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Queue | undefined> {
  return env.SKIFF_QUEUE_URL ? createQueue(env.SKIFF_QUEUE_URL) : undefined;
}

/**
 * The controllers as the functions run them: the scheduler coordinates through claims, as
 * several may run at once; node silence is counted from the Lease alone, as a cold start is no
 * evidence that the control plane was down.
 */
export const FUNCTION_CONTROLLERS: ControllerOptions = { scheduler: { coordination: 'claims' }, nodeLifecycle: { graceFromFirstLook: false } };

/**
 * The controllers' settings from the environment: `SKIFF_NODE_GRACE_SECONDS` (a node whose Lease
 * is this old goes Unknown, default 40) and `SKIFF_EVICTION_SECONDS` (how long pods stay on an
 * unreachable node, default 300), as `skiff up --node-grace-seconds --eviction-seconds`.
 */
export function controllerOptions(env: NodeJS.ProcessEnv = process.env): ControllerOptions {
  const seconds = (name: string) => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of seconds, not "${value}"`);
    return n;
  };
  const grace = seconds('SKIFF_NODE_GRACE_SECONDS');
  const eviction = seconds('SKIFF_EVICTION_SECONDS');
  return {
    ...FUNCTION_CONTROLLERS,
    nodeLifecycle: {
      ...FUNCTION_CONTROLLERS.nodeLifecycle,
      ...(grace !== undefined ? { gracePeriodMs: grace * 1000 } : {}),
      ...(eviction !== undefined ? { defaultTolerationSeconds: eviction } : {}),
    },
  };
}

export async function controllersFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<{ controllers: Controller[]; queue?: Queue; store: Store }> {
  const options = controllerOptions(env);
  const [store, queue] = await Promise.all([storeFromEnv(env), queueFromEnv(env)]);
  const provisioner = provisionerFromEnv(store, env);
  // Autoscalers read pods' CPU from their kubelets, as the API's metrics.k8s.io does.
  const metrics = kubeletMetrics(store, (node) => kubeletCredential(store, node), { ca: () => clusterCa(store) });
  const hpa = {
    metrics: podUsage(metrics),
    syncMs: env.SKIFF_HPA_SYNC_SECONDS ? Number(env.SKIFF_HPA_SYNC_SECONDS) * 1000 : undefined,
    downscaleStabilizationMs: env.SKIFF_HPA_DOWNSCALE_SECONDS ? Number(env.SKIFF_HPA_DOWNSCALE_SECONDS) * 1000 : undefined,
  };
  return { controllers: controllersFor(store, { ...options, provisioner, hpa, migration: migrationFromEnv(store, provisioner, env) }), queue, store };
}

/**
 * Puts the keys that asked to come back on the queue (a delay over SQS's 15 minutes comes back
 * at 15 and asks again). Returns the ones that could not be queued, so their records are
 * reported failed and delivered again rather than lost. Without a queue, none can be.
 */
export async function requeue(queue: Queue | undefined, result: DispatchResult): Promise<{ controller: string; key: string }[]> {
  const lost: { controller: string; key: string }[] = [];
  await Promise.all(
    result.requeue.map(async (r) => {
      try {
        if (!queue) throw new Error('no queue (SKIFF_QUEUE_URL) for delayed work');
        await queue.enqueue(requeueKey(r.controller, r.key), { delayMs: Math.min(r.afterMs, MAX_DELAY_MS) });
      } catch (err) {
        console.error(`[requeue] ${r.controller} ${r.key}: ${err instanceof Error ? err.message : String(err)}`);
        lost.push(r);
      }
    }),
  );
  return lost;
}

/**
 * A function's export over its handler: the store, controllers and queue are made on the first
 * invocation (the cold start) and kept for the warm ones; a cold start that failed is tried
 * again by the next invocation.
 */
export function withControllers<E, R>(
  handle: (event: E, controllers: Controller[], queue: Queue | undefined, store: Store) => Promise<R>,
): (event: E) => Promise<R> {
  let ready: ReturnType<typeof controllersFromEnv> | undefined;
  return async (event) => {
    ready ??= controllersFromEnv().catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    const { controllers, queue, store } = await ready;
    return handle(event, controllers, queue, store);
  };
}

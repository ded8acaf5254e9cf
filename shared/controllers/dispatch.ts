/**
 * `dispatch`: a batch of store changes becomes reconciles. The embedded control plane calls it
 * from the store subscription (through the manager); the stream Lambda calls it with decoded
 * DynamoDB stream records. Keys are deduplicated within a batch: ten changes to one
 * ReplicaSet's pods are one reconcile of that ReplicaSet. `reconcileAll` runs a given list of
 * keys the same way (the queue and tick functions), and a key that must come back later travels
 * through the Queue port as `requeueKey(controller, key)`.
 */
import type { ChangeEvent } from '../store/types.js';
import type { Controller } from './types.js';

/** Which keys of which controllers a batch concerns (pure). */
export function route(events: ChangeEvent[], controllers: Controller[]): Map<Controller, Set<string>> {
  const out = new Map<Controller, Set<string>>();
  for (const event of events) {
    for (const controller of controllers) {
      const keys = controller.keysFor(event);
      if (keys.length === 0) continue;
      let set = out.get(controller);
      if (!set) out.set(controller, (set = new Set()));
      for (const k of keys) set.add(k);
    }
  }
  return out;
}

export interface DispatchFailure {
  controller: string;
  key: string;
  error: string;
}

export interface DispatchResult {
  reconciled: number;
  failures: DispatchFailure[];
  /** Keys that asked to come back later, with the delay. */
  requeue: { controller: string; key: string; afterMs: number }[];
}

/** A queue message naming a controller's key. */
export function requeueKey(controller: string, key: string): string {
  return `${controller}|${key}`;
}

/** The controller and key of a queue message, or undefined when it names none. */
export function parseRequeueKey(message: string): { controller: string; key: string } | undefined {
  const bar = message.indexOf('|');
  return bar > 0 ? { controller: message.slice(0, bar), key: message.slice(bar + 1) } : undefined;
}

/** Routes a batch and runs its reconciles, at most `concurrency` at once; failures are reported, not thrown. */
export async function dispatch(events: ChangeEvent[], controllers: Controller[], options: { concurrency?: number } = {}): Promise<DispatchResult> {
  const work: { controller: Controller; key: string }[] = [];
  for (const [controller, keys] of route(events, controllers)) for (const key of keys) work.push({ controller, key });
  return reconcileAll(work, options);
}

/** Runs the reconciles of `work` (deduplicated by the caller), at most `concurrency` at once. */
export async function reconcileAll(work: { controller: Controller; key: string }[], options: { concurrency?: number } = {}): Promise<DispatchResult> {
  const result: DispatchResult = { reconciled: 0, failures: [], requeue: [] };
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < work.length; i = next++) {
      const { controller, key } = work[i];
      try {
        const r = await controller.reconcile(key);
        result.reconciled++;
        if (r?.requeueAfterMs !== undefined) result.requeue.push({ controller: controller.name, key, afterMs: r.requeueAfterMs });
      } catch (err) {
        result.failures.push({ controller: controller.name, key, error: err instanceof Error ? err.message : String(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 16, Math.max(1, work.length)) }, worker));
  return result;
}

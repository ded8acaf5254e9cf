/**
 * The tick Lambda, on a schedule (every minute): what time alone changes. A node that stops
 * renewing its Lease writes nothing, so no stream record wakes anyone; the queue carries the
 * grace checks the controllers ask for, and this tick is the floor under them: it resyncs every
 * key of the controllers that say time matters to them (`Controller.periodic`), so a silent
 * node goes NotReady even if a delayed message was lost.
 *
 * On a second, slower schedule (`{ "reencrypt": true }`, daily), it runs one re-encryption pass:
 * every Secret (and its history) not sealed under the current KMS key is sealed again, so a
 * cluster moved to a new key, or one that had Secrets before it had a key, ends with every
 * Secret under the current one.
 */
import { reconcileAll } from '../../shared/controllers/dispatch.js';
import type { Controller } from '../../shared/controllers/types.js';
import { SealedStore } from '../../shared/encryption/sealed-store.js';
import { type PassResult, reencryptPass } from '../../shared/encryption/reencrypt.js';
import type { Queue } from '../../shared/queue/types.js';
import type { Store } from '../../shared/store/types.js';
import { requeue, withControllers } from '../environment.js';

export interface TickResult {
  reconciled: number;
  failed: number;
}

export async function handleTick(controllers: Controller[], queue: Queue | undefined): Promise<TickResult> {
  const work: { controller: Controller; key: string }[] = [];
  for (const controller of controllers.filter((c) => c.periodic)) for (const key of await controller.allKeys()) work.push({ controller, key });
  const result = await reconcileAll(work);
  for (const f of result.failures) console.error(`[tick] ${f.controller} ${f.key}: ${f.error}`);
  // A key that could not be queued is looked at again by the next tick.
  await requeue(queue, result);
  return { reconciled: result.reconciled, failed: result.failures.length };
}

/** One re-encryption pass, when Secrets are sealed at all (SKIFF_KMS_KEY_ID). */
export async function handleReencrypt(store: Store): Promise<PassResult & { sealed: boolean }> {
  if (!(store instanceof SealedStore)) return { sealed: false, objects: 0, history: 0 };
  const result = await reencryptPass(store);
  console.log(`[tick] re-encryption: ${result.objects} objects and ${result.history} history entries sealed again`);
  return { sealed: true, ...result };
}

export const handler = withControllers(
  (event: { reencrypt?: boolean } | undefined, controllers, queue, store): Promise<TickResult | (PassResult & { sealed: boolean })> =>
    event?.reencrypt ? handleReencrypt(store) : handleTick(controllers, queue),
);

/**
 * The tick Lambda, on a schedule (every minute): what time alone changes. A node that stops
 * renewing its Lease writes nothing, so no stream record wakes anyone; the queue carries the
 * grace checks the controllers ask for, and this tick is the floor under them: it resyncs every
 * key of the controllers that say time matters to them (`Controller.periodic`), so a silent
 * node goes NotReady even if a delayed message was lost.
 */
import { reconcileAll } from '../../shared/controllers/dispatch.js';
import type { Controller } from '../../shared/controllers/types.js';
import type { Queue } from '../../shared/queue/types.js';
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

export const handler = withControllers((_event: unknown, controllers, queue) => handleTick(controllers, queue));

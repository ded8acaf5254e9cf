/**
 * The queue Lambda: SQS messages naming a controller's key (`requeueKey`), the delayed work the
 * controllers asked for (grace periods, retries, deadlines), become reconciles. Partial batch
 * responses (`ReportBatchItemFailures`): a message whose reconcile failed, or that names no
 * controller here, is reported and SQS delivers it again (until its RedrivePolicy moves it to
 * the dead-letter queue); the others are deleted. Two messages for one key in a batch are one
 * reconcile. A reconcile that asks to come back is queued again.
 */
import { parseRequeueKey, reconcileAll, requeueKey } from '../../shared/controllers/dispatch.js';
import type { Controller } from '../../shared/controllers/types.js';
import type { Queue } from '../../shared/queue/types.js';
import { requeue, withControllers } from '../environment.js';

/** An SQS record as Lambda delivers it (the fields this handler reads). */
export interface SqsRecord {
  messageId: string;
  body: string;
  attributes?: Record<string, string>;
}

export interface SqsEvent {
  Records: SqsRecord[];
}

export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export async function handleQueue(event: SqsEvent, controllers: Controller[], queue: Queue | undefined): Promise<BatchResponse> {
  const failed = new Set<string>();
  const work = new Map<string, { controller: Controller; key: string; records: string[] }>();
  for (const record of event.Records) {
    let message: unknown;
    try {
      message = JSON.parse(record.body);
    } catch {
      message = undefined;
    }
    const named = typeof (message as { key?: unknown })?.key === 'string' ? parseRequeueKey((message as { key: string }).key) : undefined;
    const controller = named && controllers.find((c) => c.name === named.controller);
    if (!named || !controller) {
      console.error(`[queue] message ${record.messageId} names no controller here: ${record.body.slice(0, 200)}`);
      failed.add(record.messageId);
      continue;
    }
    const id = requeueKey(named.controller, named.key);
    const entry = work.get(id) ?? { controller, key: named.key, records: [] };
    entry.records.push(record.messageId);
    work.set(id, entry);
  }
  const entries = [...work.values()];
  const result = await reconcileAll(entries);
  const recordsOf = (controller: string, key: string) => work.get(requeueKey(controller, key))?.records ?? [];
  for (const f of result.failures) {
    console.error(`[queue] ${f.controller} ${f.key}: ${f.error}`);
    for (const id of recordsOf(f.controller, f.key)) failed.add(id);
  }
  for (const lost of await requeue(queue, result)) for (const id of recordsOf(lost.controller, lost.key)) failed.add(id);
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}

export const handler = withControllers(handleQueue);

/**
 * The stream Lambda: DynamoDB stream records (the store's log items) become change events and
 * go through `dispatch` to the controllers. Failures are reported per record
 * (`batchItemFailures`): a record that does not decode, or whose change routed to a reconcile
 * that failed, is retried by Lambda; the others are not, so one bad record cannot block a shard.
 * Delayed work (grace periods, retries, deadlines) goes to the queue function through SQS.
 */
import { dispatch, route } from '../../shared/controllers/dispatch.js';
import type { Controller } from '../../shared/controllers/types.js';
import { decodeStreamBatch } from '../../shared/store/dynamodb-stream.js';
import type { Queue } from '../../shared/queue/types.js';
import { requeue, withControllers } from '../environment.js';

export interface StreamEvent {
  Records: unknown[];
}

export interface StreamResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/**
 * The handler over given controllers and queue: what the Lambda export and the tests call. A
 * key that asks to come back goes on the queue; one that cannot be queued fails its records,
 * so Lambda delivers them again rather than the delayed work being lost.
 */
export async function handleStream(event: StreamEvent, controllers: Controller[], queue?: Queue): Promise<StreamResponse> {
  const batch = decodeStreamBatch(event.Records);
  const failed = new Set<string>();
  for (const f of batch.failures) {
    console.error(`[stream] record ${f.itemIdentifier}: ${f.error}`);
    failed.add(f.itemIdentifier);
  }
  const result = await dispatch(batch.events, controllers);
  const failRecordsOf = (controller: string, key: string) => {
    for (const d of batch.records) {
      for (const [c, set] of route([d.event], controllers)) if (c.name === controller && set.has(key)) failed.add(d.itemIdentifier);
    }
  };
  // A reconcile that failed fails the records whose changes routed to it.
  for (const failure of result.failures) {
    console.error(`[stream] ${failure.controller} ${failure.key}: ${failure.error}`);
    failRecordsOf(failure.controller, failure.key);
  }
  for (const lost of await requeue(queue, result)) failRecordsOf(lost.controller, lost.key);
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}

export const handler = withControllers(handleStream);

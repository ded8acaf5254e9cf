/**
 * The stream Lambda: DynamoDB stream records (the store's log items) become change events and
 * go through `dispatch` to the controllers. Failures are reported per record
 * (`batchItemFailures`): a record that does not decode, or whose change routed to a reconcile
 * that failed, is retried by Lambda; the others are not, so one bad record cannot block a shard.
 */
import { controllersFor } from '../../shared/control-plane.js';
import { dispatch, route } from '../../shared/controllers/dispatch.js';
import type { Controller } from '../../shared/controllers/types.js';
import { decodeStreamBatch } from '../../shared/store/dynamodb-stream.js';
import { sealedWhenAsked } from '../../shared/encryption/sealed-store.js';
import { createStore } from '../../shared/store/factory.js';

export interface StreamEvent {
  Records: unknown[];
}

export interface StreamResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The handler over given controllers: what the Lambda export and the tests call. */
export async function handleStream(event: StreamEvent, controllers: Controller[]): Promise<StreamResponse> {
  const batch = decodeStreamBatch(event.Records);
  const failed = new Set<string>();
  for (const f of batch.failures) {
    console.error(`[stream] record ${f.itemIdentifier}: ${f.error}`);
    failed.add(f.itemIdentifier);
  }
  const result = await dispatch(batch.events, controllers);
  // A reconcile that failed fails the records whose changes routed to it.
  for (const failure of result.failures) {
    console.error(`[stream] ${failure.controller} ${failure.key}: ${failure.error}`);
    for (const d of batch.records) {
      const keys = route([d.event], controllers);
      for (const [controller, set] of keys) if (controller.name === failure.controller && set.has(failure.key)) failed.add(d.itemIdentifier);
    }
  }
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}

let controllers: Promise<Controller[]> | undefined;

export async function handler(event: StreamEvent): Promise<StreamResponse> {
  controllers ??= createStore(process.env.SKIFF_STORE_URL ?? 'dynamodb://skiff-state')
    .then(sealedWhenAsked)
    .then((store) => controllersFor(store, { scheduler: { coordination: 'claims' } }));
  return handleStream(event, await controllers);
}

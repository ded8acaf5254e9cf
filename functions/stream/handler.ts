/**
 * The stream Lambda: DynamoDB stream records (the store's log items) become change events and
 * go through `dispatch` to the controllers. Failures are reported per record
 * (`batchItemFailures`): a record that does not decode, or whose change routed to a reconcile
 * that failed, is retried by Lambda; the others are not, so one bad record cannot block a shard.
 */
import { controllersFor } from '../../shared/control-plane.js';
import { dispatch, route } from '../../shared/controllers/dispatch.js';
import type { Controller } from '../../shared/controllers/types.js';
import { decodeStreamRecord } from '../../shared/store/dynamodb-stream.js';
import { createStore } from '../../shared/store/factory.js';
import type { ChangeEvent } from '../../shared/store/types.js';

export interface StreamEvent {
  Records: unknown[];
}

export interface StreamResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

function recordId(record: unknown, index: number): string {
  const r = record as { eventID?: string; dynamodb?: { SequenceNumber?: string } } | null;
  return r?.dynamodb?.SequenceNumber ?? r?.eventID ?? `#${index}`;
}

/** The handler over given controllers: what the Lambda export and the tests call. */
export async function handleStream(event: StreamEvent, controllers: Controller[]): Promise<StreamResponse> {
  const failed = new Set<string>();
  const decoded: { id: string; change: ChangeEvent }[] = [];
  event.Records.forEach((record, i) => {
    try {
      const change = decodeStreamRecord(record);
      if (change) decoded.push({ id: recordId(record, i), change });
    } catch (err) {
      console.error(`[stream] record ${recordId(record, i)}: ${(err as Error).message}`);
      failed.add(recordId(record, i));
    }
  });
  decoded.sort((a, b) => a.change.revision - b.change.revision);
  const result = await dispatch(decoded.map((d) => d.change), controllers);
  for (const failure of result.failures) {
    console.error(`[stream] ${failure.controller} ${failure.key}: ${failure.error}`);
    for (const d of decoded) {
      const keys = route([d.change], controllers);
      for (const [controller, set] of keys) if (controller.name === failure.controller && set.has(failure.key)) failed.add(d.id);
    }
  }
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}

let controllers: Promise<Controller[]> | undefined;

export async function handler(event: StreamEvent): Promise<StreamResponse> {
  controllers ??= createStore(process.env.SKIFF_STORE_URL ?? 'dynamodb://skiff-state').then((store) => controllersFor(store, { scheduler: { coordination: 'claims' } }));
  return handleStream(event, await controllers);
}

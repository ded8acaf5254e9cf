/**
 * DynamoDB Streams records -> the store's change events. The stream carries every item write;
 * only the log items (pk = 'log') inserted by a commit are changes, in revision order per
 * shard. Works on the shape a Lambda receives (binary attributes base64 strings) and the shape
 * GetRecords returns (binary attributes as bytes). Each record is decoded on its own, so one
 * bad record is reported by its id and cannot block the others.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { logItemToEvent } from './dynamodb-items.js';
import type { ChangeEvent } from './types.js';

const binary = z.union([z.string(), z.instanceof(Uint8Array)]).transform((v) => (typeof v === 'string' ? Buffer.from(v, 'base64') : v));

/** The attributes of a log item, as the stream shows them. */
const LogImage = z.object({
  pk: z.object({ S: z.literal('log') }),
  sk: z.object({ S: z.string().regex(/^\d{16}$/) }),
  rev: z.object({ N: z.string().regex(/^\d+$/) }),
  type: z.object({ S: z.enum(['ADDED', 'MODIFIED', 'DELETED']) }),
  resource: z.object({ S: z.string().min(1) }),
  namespace: z.object({ S: z.string() }),
  name: z.object({ S: z.string().min(1) }),
  body: z.object({ B: binary }),
  prev: z.object({ B: binary }).optional(),
});

export const StreamRecord = z.object({
  eventID: z.string().optional(),
  eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
  dynamodb: z.object({
    Keys: z.record(z.string(), z.unknown()),
    NewImage: z.record(z.string(), z.unknown()).optional(),
    SequenceNumber: z.string().optional(),
  }),
});

export class StreamRecordError extends Error {}

/**
 * The change a record carries, or undefined when it carries none (an object item's write, a
 * log item trimmed by compaction or TTL). Throws `StreamRecordError` for a malformed record.
 */
export function decodeStreamRecord(record: unknown): ChangeEvent | undefined {
  const parsed = StreamRecord.safeParse(record);
  if (!parsed.success)
    throw new StreamRecordError(`not a DynamoDB stream record: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { eventName, dynamodb } = parsed.data;
  const pk = (dynamodb.Keys.pk as { S?: string } | undefined)?.S;
  if (pk !== 'log' || eventName !== 'INSERT') return undefined;
  const image = LogImage.safeParse(dynamodb.NewImage);
  if (!image.success)
    throw new StreamRecordError(
      `log record ${dynamodb.SequenceNumber ?? ''} is malformed: ${image.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  try {
    return logItemToEvent(image.data as unknown as Record<string, AttributeValue>);
  } catch (err) {
    throw new StreamRecordError(`log record ${dynamodb.SequenceNumber ?? ''} has an unreadable body: ${(err as Error).message}`);
  }
}

export interface DecodedBatch {
  /** The changes, in revision order. */
  events: ChangeEvent[];
  /** Each change with the id of the record it came from (for per-record failure reports). */
  records: { itemIdentifier: string; event: ChangeEvent }[];
  /** Records that could not be decoded, by their id (`eventID` or sequence number). */
  failures: { itemIdentifier: string; error: string }[];
}

/** A record's id as Lambda's batchItemFailures name it: its sequence number, else its eventID. */
export function recordId(record: unknown, index: number): string {
  const r = record as { eventID?: string; dynamodb?: { SequenceNumber?: string } } | null;
  return r?.dynamodb?.SequenceNumber ?? r?.eventID ?? `#${index}`;
}

/** Decodes a batch record by record, collecting failures instead of throwing. */
export function decodeStreamBatch(records: unknown[]): DecodedBatch {
  const decoded: DecodedBatch['records'] = [];
  const failures: DecodedBatch['failures'] = [];
  records.forEach((record, index) => {
    try {
      const event = decodeStreamRecord(record);
      if (event) decoded.push({ itemIdentifier: recordId(record, index), event });
    } catch (err) {
      failures.push({ itemIdentifier: recordId(record, index), error: (err as Error).message });
    }
  });
  decoded.sort((a, b) => a.event.revision - b.event.revision);
  return { events: decoded.map((d) => d.event), records: decoded, failures };
}

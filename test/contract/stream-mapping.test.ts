/**
 * The event-source mapping emulator (emulators/stream-mapping.ts) over DynamoDB Local's real
 * stream of the store's table: each change delivered once and in order in Lambda's shape; a
 * batch that fails once retried from the failed record; a poison record sent to the on-failure
 * destination without blocking its shard; a function error bisected down to the bad record.
 */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LambdaStreamRecord, type StreamFailure, type StreamFunction, StreamMapping } from '../../emulators/stream-mapping.js';
import { openDynamoStore } from '../../shared/store/dynamodb.js';
import { decodeStreamBatch } from '../../shared/store/dynamodb-stream.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../emulators/dynamodb-local.js';
import { until } from '../support/until.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let local: DynamoDbLocal;
let streams: DynamoDBStreamsClient;
let n = 0;
const open: (Store | StreamMapping)[] = [];

beforeAll(async () => {
  local = await startDynamoDbLocal();
  streams = new DynamoDBStreamsClient({ endpoint: local.endpoint, region: 'us-east-1', credentials });
}, 90_000);
afterAll(async () => {
  for (const o of open) await (o instanceof StreamMapping ? o.stop() : o.close());
  streams?.destroy();
  await local?.stop();
});

const cm = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v: name } });
/** The names of the configmap changes a batch carries, in order. */
const names = (records: LambdaStreamRecord[]) => decodeStreamBatch(records).events.map((e) => e.object.metadata.name!);
const seqOf = (records: LambdaStreamRecord[], name: string) =>
  decodeStreamBatch(records).records.find((r) => r.event.object.metadata.name === name)?.itemIdentifier;

/** A fresh table with these configmaps written, and its stream. */
async function tableWith(written: string[]): Promise<string> {
  return (await storeWith(written)).arn;
}

async function storeWith(written: string[]): Promise<{ store: Store; arn: string }> {
  const table = `mapping-${n++}`;
  const store = await openDynamoStore({ tableName: table, endpoint: local.endpoint, region: 'us-east-1', createTable: true });
  open.push(store);
  for (const name of written) await store.create('configmaps', cm(name));
  return { store, arn: await local.streamArn(table) };
}

function mapping(streamArn: string, fn: StreamFunction, extra: Partial<ConstructorParameters<typeof StreamMapping>[0]> = {}): StreamMapping {
  const m = new StreamMapping({ streams, streamArn, fn, pollIntervalMs: 50, retryDelayMs: 10, ...extra }).start();
  open.push(m);
  return m;
}

describe('stream event-source mapping', () => {
  it("delivers every change once, in order, in Lambda's shape", async () => {
    const arn = await tableWith(['a', 'b', 'c', 'd', 'e']);
    const seen: string[] = [];
    const shapes: LambdaStreamRecord[] = [];
    const m = mapping(arn, async (event) => {
      shapes.push(...event.Records);
      seen.push(...names(event.Records));
      return { batchItemFailures: [] };
    });
    await until('five changes', async () => seen.length >= 5);
    await m.stop();
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    const log = shapes.find((r) => (r.dynamodb.Keys as { pk: { S: string } }).pk.S === 'log')!;
    expect(log).toMatchObject({ eventSource: 'aws:dynamodb', eventSourceARN: arn, eventName: 'INSERT', awsRegion: 'us-east-1' });
    expect(typeof (log.dynamodb.NewImage as { body: { B: unknown } }).body.B).toBe('string');
    expect(typeof log.dynamodb.ApproximateCreationDateTime).toBe('number');
  });

  it('a batch that fails once is retried from the failed record, not before it', async () => {
    const arn = await tableWith(['a', 'b', 'c', 'd', 'e']);
    const invocations: string[][] = [];
    let failed = false;
    mapping(
      arn,
      async (event) => {
        invocations.push(names(event.Records));
        const c = seqOf(event.Records, 'c');
        if (c && !failed) {
          failed = true;
          return { batchItemFailures: [{ itemIdentifier: c }] };
        }
        return { batchItemFailures: [] };
      },
      { batchingWindowMs: 1000 },
    );
    await until('c delivered again', async () => invocations.flat().filter((x) => x === 'c').length === 2);
    const flat = invocations.flat();
    expect(flat.filter((x) => x === 'a')).toHaveLength(1);
    expect(flat.filter((x) => x === 'b')).toHaveLength(1);
    expect(flat.filter((x) => x === 'c')).toHaveLength(2);
    expect(invocations[1][0]).toBe('c');
  });

  it('a poison record goes to the on-failure destination after its retries, and the shard goes on', async () => {
    const { store, arn } = await storeWith(['a', 'poison']);
    const failures: StreamFailure[] = [];
    const delivered: string[] = [];
    let poisonSeq = '';
    const m = mapping(
      arn,
      async (event) => {
        const poison = seqOf(event.Records, 'poison');
        if (poison) poisonSeq = poison;
        const before = poison ? names(event.Records).slice(0, names(event.Records).indexOf('poison')) : names(event.Records);
        delivered.push(...before);
        return poison ? { batchItemFailures: [{ itemIdentifier: poison }] } : { batchItemFailures: [] };
      },
      { maximumRetryAttempts: 2, onFailure: (f) => void failures.push(f) },
    );
    // The batch from the poison on is given up (as Lambda does); what comes after it flows.
    await until('the poison given up', async () => failures.length === 1);
    await store.create('configmaps', cm('b'));
    await until('b delivered after the poison', async () => delivered.includes('b'));
    expect(failures).toHaveLength(1);
    expect(failures[0].requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 });
    expect(failures[0].DDBStreamBatchInfo).toMatchObject({ startSequenceNumber: poisonSeq, streamArn: arn });
    expect(delivered.filter((x) => x === 'a')).toEqual(['a']);
    expect(m.stats.sentToOnFailure).toBeGreaterThanOrEqual(1);
  });

  it('a function error is bisected down to the record that causes it; the others are delivered', async () => {
    const arn = await tableWith(['a', 'b', 'bad', 'c', 'd']);
    const failures: StreamFailure[] = [];
    const delivered: string[] = [];
    const m = mapping(
      arn,
      async (event) => {
        if (names(event.Records).includes('bad')) throw new Error('the function crashed');
        delivered.push(...names(event.Records));
      },
      { batchingWindowMs: 1000, bisectBatchOnFunctionError: true, maximumRetryAttempts: 1, onFailure: (f) => void failures.push(f) },
    );
    await until('the bad record set aside', async () => failures.length === 1 && delivered.includes('d'));
    expect([...delivered].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(m.stats.bisections).toBeGreaterThan(0);
    expect(failures[0].requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', functionError: 'the function crashed' });
    // Only the bad record's log item (and at most the object write beside it) was set aside.
    expect(failures[0].DDBStreamBatchInfo.batchSize).toBeLessThanOrEqual(2);
  });

  it('refuses settings outside what Lambda allows', () => {
    const fn: StreamFunction = async () => undefined;
    expect(() => new StreamMapping({ streams, streamArn: 'x', fn, batchSize: 0 })).toThrow('BatchSize 0 is outside what Lambda allows');
    expect(() => new StreamMapping({ streams, streamArn: 'x', fn, maximumRecordAgeSeconds: 30 })).toThrow(RangeError);
    expect(() => new StreamMapping({ streams, streamArn: 'x', fn, maximumRetryAttempts: 10_001 })).toThrow(RangeError);
  });
});

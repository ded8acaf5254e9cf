/**
 * What only the DynamoDB driver promises: the table is laid out as docs/store-dynamodb.md says,
 * big objects are compressed up to a stated limit, log items carry a TTL, concurrent stores on
 * one table never both win, and the table's stream decodes to the same events a watch yields.
 */
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_COMPRESSED_BYTES, openDynamoStore } from '../../shared/store/dynamodb.js';
import { StreamRecordError, decodeStreamBatch, decodeStreamRecord } from '../../shared/store/dynamodb-stream.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import type { ChangeEvent, KubeObject } from '../../shared/store/types.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../emulators/dynamodb-local.js';

let local: DynamoDbLocal;
let n = 0;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
beforeAll(async () => {
  local = await startDynamoDbLocal();
});
afterAll(async () => {
  await local?.stop();
});
const open = (tableName = `driver-${n++}`) => openDynamoStore({ tableName, endpoint: local.endpoint, createTable: true, pollIntervalMs: 20 });
const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data,
});

describe('dynamodb driver', () => {
  it('creates its table once, with NEW_AND_OLD_IMAGES streams; opening it again is harmless', async () => {
    const a = await open('shared-table');
    const b = await open('shared-table');
    const client = new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials });
    const table = await client.send(new DescribeTableCommand({ TableName: 'shared-table' }));
    expect(table.Table?.StreamSpecification).toMatchObject({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    await a.create('configmaps', cm('x'));
    expect((await b.get('configmaps', 'default', 'x')).metadata.name).toBe('x');
    client.destroy();
    await a.close();
    await b.close();
  });

  it('two stores on one table (two Lambdas) never both win, and revisions stay contiguous', async () => {
    const a = await open('two-writers');
    const b = await open('two-writers');
    await a.create('configmaps', cm('counter', { n: '0' }));
    await Promise.all(
      [a, b].flatMap((store) =>
        Array.from({ length: 5 }, async () => {
          for (let i = 0; i < 4; i++) {
            await guaranteedUpdate(store, 'configmaps', 'default', 'counter', (o) => ({
              ...o,
              data: { n: String(Number((o.data as Record<string, string>).n) + 1) },
            }));
          }
        }),
      ),
    );
    expect(((await a.get('configmaps', 'default', 'counter')).data as Record<string, string>).n).toBe('40');
    const revisions: number[] = [];
    const abort = new AbortController();
    const watch = a.watch('configmaps', { fromRevision: 0, signal: abort.signal });
    const head = await a.currentRevision();
    while (revisions.length < head) revisions.push(((await watch.next()).value as ChangeEvent).revision);
    abort.abort();
    expect(revisions).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    await a.close();
    await b.close();
  }, 60_000);

  it('compresses bodies: a 1 MiB object that compresses well is stored; one that does not is refused naming the limit', async () => {
    const store = await open();
    const big = cm('big', { text: 'kubernetes '.repeat(100_000) });
    const stored = await store.create('configmaps', big);
    expect((await store.get('configmaps', 'default', 'big')).data).toEqual(big.data);
    expect(stored.metadata.resourceVersion).toBe('1');
    const noise = cm('noise', { text: Buffer.from(Array.from({ length: 400_000 }, () => Math.floor(Math.random() * 256))).toString('base64') });
    await expect(store.create('configmaps', noise)).rejects.toMatchObject({ code: 'TooLarge', message: expect.stringContaining(String(MAX_COMPRESSED_BYTES)) });
    await store.close();
  });

  it('log items carry a TTL attribute for DynamoDB to expire them', async () => {
    const store = await open('ttl-table');
    await store.create('configmaps', cm('a'));
    const client = new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials });
    const item = await client.send(new GetItemCommand({ TableName: 'ttl-table', Key: { pk: { S: 'log' }, sk: { S: '0000000000000001' } } }));
    const ttl = Number(item.Item?.ttl?.N);
    expect(ttl).toBeGreaterThan(Date.now() / 1000);
    client.destroy();
    await store.close();
  });

  it('the table stream, read back through the Streams API, decodes to the events a watch yields', async () => {
    const table = `stream-${n++}`;
    const store = await openDynamoStore({ tableName: table, endpoint: local.endpoint, createTable: true, pollIntervalMs: 20 });
    const abort = new AbortController();
    const watch = store.watch('configmaps', { fromRevision: 0, signal: abort.signal });
    const a = await store.create('configmaps', cm('a', { v: '1' }));
    await store.update('configmaps', { ...a, data: { v: '2' } });
    await store.create('configmaps', cm('b'));
    await store.delete('configmaps', 'default', 'a');
    const watched: ChangeEvent[] = [];
    while (watched.length < 4) watched.push((await watch.next()).value as ChangeEvent);
    abort.abort();

    const streamArn = await local.streamArn(table);
    const streams = new DynamoDBStreamsClient({ endpoint: local.endpoint, region: 'us-east-1', credentials });
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription!.Shards!;
    const records: unknown[] = [];
    for (const shard of shards) {
      let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' })))
        .ShardIterator;
      for (let i = 0; iterator && i < 5; i++) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        records.push(...(page.Records ?? []));
        iterator = page.NextShardIterator;
        if (!page.Records?.length) break;
      }
    }
    const { events, failures } = decodeStreamBatch(records);
    expect(failures).toEqual([]);
    expect(events.map((e) => [e.type, e.revision, e.object.metadata.name])).toEqual(watched.map((e) => [e.type, e.revision, e.object.metadata.name]));
    expect(events.map((e) => e.object)).toEqual(watched.map((e) => e.object));
    expect(events[1].prevObject).toEqual(watched[1].prevObject);
    streams.destroy();
    await store.close();
  }, 60_000);

  it('a malformed record is reported by its id, the rest of the batch still decodes', () => {
    const good = {
      eventID: 'good',
      eventName: 'INSERT',
      dynamodb: {
        Keys: { pk: { S: 'log' }, sk: { S: '0000000000000007' } },
        SequenceNumber: '100',
        NewImage: {
          pk: { S: 'log' },
          sk: { S: '0000000000000007' },
          rev: { N: '7' },
          type: { S: 'ADDED' },
          resource: { S: 'pods' },
          namespace: { S: 'default' },
          name: { S: 'p' },
          body: { B: gzipSync(JSON.stringify({ metadata: { name: 'p', namespace: 'default', resourceVersion: '7' } })).toString('base64') },
        },
      },
    };
    const bad = {
      ...good,
      eventID: 'bad',
      dynamodb: { ...good.dynamodb, SequenceNumber: '101', NewImage: { ...good.dynamodb.NewImage, body: { B: 'bm90IGd6aXA=' } } },
    };
    const objectWrite = { eventID: 'obj', eventName: 'MODIFY', dynamodb: { Keys: { pk: { S: 'o#pods' }, sk: { S: 'default/p' } } } };
    const { events, failures } = decodeStreamBatch([good, bad, objectWrite, { junk: true }]);
    expect(events.map((e) => e.revision)).toEqual([7]);
    expect(failures.map((f) => f.itemIdentifier)).toEqual(['101', '#3']);
    expect(() => decodeStreamRecord(bad)).toThrow(StreamRecordError);
    expect(decodeStreamRecord(objectWrite)).toBeUndefined();
  });
});

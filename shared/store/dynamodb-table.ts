/**
 * The DynamoDB driver's requests to its table (see dynamodb.ts for the layout): creating it,
 * reading the meta counters and single objects, paging through a partition, reading the log,
 * rebuilding a resource's objects at an older revision, trimming compacted log items, and
 * rewriting or forgetting logged states (data at rest).
 * Apart from the driver so that the driver holds only the write, watch and compaction logic,
 * and every request's key and condition shapes sit next to each other.
 */
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ResourceInUseException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { compareKeys } from './continue-token.js';
import { N, S, logItemToEvent, objectKey, pack, revKey, unpack, type Item } from './dynamodb-items.js';
import { deepFreeze } from './object-cache.js';
import type { KubeObject } from './object.js';
import type { ChangeEvent } from './types.js';

/** An object item as read: absent, or its object (frozen) and the revision it was written at. */
export interface StoredObject {
  object?: KubeObject;
  rev?: number;
}

export class DynamoTable {
  constructor(
    readonly client: DynamoDBClient,
    readonly name: string,
  ) {}

  /** Creates the table with its stream, waits until it is active, and turns on the log's TTL. */
  async ensure(): Promise<void> {
    try {
      await this.client.send(
        new CreateTableCommand({
          TableName: this.name,
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
        }),
      );
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
    for (let i = 0; i < 100; i++) {
      const d = await this.client.send(new DescribeTableCommand({ TableName: this.name }));
      if (d.Table?.TableStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      await this.client.send(new UpdateTimeToLiveCommand({ TableName: this.name, TimeToLiveSpecification: { Enabled: true, AttributeName: 'ttl' } }));
    } catch {
      // Already enabled, or the emulator does not track it: the explicit compaction still runs.
    }
  }

  async readMeta(sk: 'head' | 'compacted'): Promise<number> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.name, Key: { pk: S('meta'), sk: S(sk) }, ConsistentRead: true }));
    return Number(got.Item?.rev?.N ?? 0);
  }

  async writeCompacted(revision: number): Promise<void> {
    await this.transact([{ Put: { TableName: this.name, Item: { pk: S('meta'), sk: S('compacted'), rev: N(revision) } } }]);
  }

  async transact(items: TransactWriteItem[]): Promise<void> {
    await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
  }

  async getObject(resource: string, namespace: string, name: string): Promise<StoredObject> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.name, Key: objectKey(resource, namespace, name), ConsistentRead: true }));
    const object = got.Item ? unpack(got.Item.body) : undefined;
    return { object: object && deepFreeze(object), rev: got.Item ? Number(got.Item.rev.N) : undefined };
  }

  /** Every item a query matches, following its pages, read consistently. */
  async *query(input: Omit<QueryCommandInput, 'TableName'>): AsyncGenerator<Item> {
    let start: Item | undefined;
    do {
      const page = await this.client.send(new QueryCommand({ TableName: this.name, ConsistentRead: true, ...input, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) yield item;
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /** Log entries with from < revision <= to, for `resource` (all when undefined), oldest first, at most `limit`. */
  async readLog(from: number, to: number, resource: string | undefined, limit: number): Promise<ChangeEvent[]> {
    const out: ChangeEvent[] = [];
    for await (const item of this.query({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': S('log'), ':from': S(revKey(from + 1)), ':to': S(revKey(to)) },
    })) {
      const event = logItemToEvent(item);
      if (resource === undefined || event.resource === resource) out.push(event);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * The objects as they were at `revision`, in list order after `after`: a scan that keeps
   * objects not written since, then for keys written since, the state before their first later
   * write, from the log. The caller checks compaction afterwards: entries this needed may have
   * been trimmed while it read.
   */
  async objectsAt(
    resource: string,
    namespace: string | undefined,
    after: { namespace: string; name: string } | undefined,
    revision: number,
  ): Promise<KubeObject[]> {
    const byKey = new Map<string, KubeObject>();
    const keyOfObject = (ns: string, name: string) => `${ns}/${name}`;
    const input: Omit<QueryCommandInput, 'TableName'> =
      namespace !== undefined
        ? { KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ns)', ExpressionAttributeValues: { ':pk': S(`o#${resource}`), ':ns': S(`${namespace}/`) } }
        : { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': S(`o#${resource}`) } };
    for await (const item of this.query(input)) {
      if (Number(item.rev.N) > revision) continue;
      const object = unpack(item.body)!;
      byKey.set(keyOfObject(object.metadata.namespace ?? '', object.metadata.name ?? ''), object);
    }
    const seen = new Set<string>();
    for await (const entry of this.query({
      KeyConditionExpression: 'pk = :pk AND sk > :from',
      ExpressionAttributeValues: { ':pk': S('log'), ':from': S(revKey(revision)) },
    })) {
      if (entry.resource.S !== resource) continue;
      const ns = entry.namespace.S ?? '';
      const name = entry.name.S ?? '';
      if (namespace !== undefined && ns !== namespace) continue;
      const k = keyOfObject(ns, name);
      if (seen.has(k)) continue;
      seen.add(k);
      byKey.delete(k);
      if (entry.type.S !== 'ADDED' && entry.prev) byKey.set(k, unpack(entry.prev)!);
    }
    const all = [...byKey.values()].map((o) => deepFreeze(o));
    all.sort((a, b) => compareKeys(a.metadata.namespace ?? '', a.metadata.name ?? '', b.metadata.namespace ?? '', b.metadata.name ?? ''));
    if (!after) return all;
    return all.filter((o) => compareKeys(o.metadata.namespace ?? '', o.metadata.name ?? '', after.namespace, after.name) > 0);
  }

  /** Deletes the log items at and below `revision` (TTL trims them too, later, in AWS). */
  async trimLog(revision: number): Promise<void> {
    const doomed: Item[] = [];
    for await (const item of this.query({
      KeyConditionExpression: 'pk = :pk AND sk <= :to',
      ExpressionAttributeValues: { ':pk': S('log'), ':to': S(revKey(revision)) },
      ProjectionExpression: 'pk, sk',
    })) {
      doomed.push({ pk: item.pk, sk: item.sk });
    }
    await this.deleteItems(doomed);
  }

  /** The log item at `revision`, if it is still there. */
  async logItem(revision: number): Promise<Item | undefined> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.name, Key: { pk: S('log'), sk: S(revKey(revision)) }, ConsistentRead: true }));
    return got.Item;
  }

  /** Every log item of `resource`, oldest first. */
  logOf(resource: string): AsyncGenerator<Item> {
    return this.query({
      KeyConditionExpression: 'pk = :pk',
      FilterExpression: '#resource = :resource',
      ExpressionAttributeNames: { '#resource': 'resource' },
      ExpressionAttributeValues: { ':pk': S('log'), ':resource': S(resource) },
    });
  }

  /**
   * Replaces the states a log item keeps: `body` when given, `prev` when given (null removes
   * it). An item trimmed meanwhile stays gone.
   */
  async rewriteLogItem(revision: number, body: KubeObject | undefined, prev: KubeObject | null | undefined, maxObjectBytes: number): Promise<void> {
    const set: string[] = [];
    const values: Item = {};
    if (body) {
      set.push('body = :body');
      values[':body'] = { B: pack(body, maxObjectBytes) };
    }
    if (prev) {
      set.push('prev = :prev');
      values[':prev'] = { B: pack(prev, maxObjectBytes) };
    }
    const expression = [set.length ? `SET ${set.join(', ')}` : '', prev === null ? 'REMOVE prev' : ''].filter(Boolean).join(' ');
    if (!expression) return;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.name,
          Key: { pk: S('log'), sk: S(revKey(revision)) },
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(pk)',
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
    } catch (err) {
      if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
    }
  }

  private async deleteItems(keys: Item[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests.length && attempt < 10; attempt++) {
        const res = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.name]: requests } }));
        requests = (res.UnprocessedItems?.[this.name] ?? []) as typeof requests;
      }
    }
  }
}

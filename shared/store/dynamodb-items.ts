/**
 * The DynamoDB driver's items (see dynamodb.ts for the table's layout): keys, gzip JSON bodies,
 * the TransactWriteItems of one group commit, and a log item read back as a change event, which
 * the stream handler's decoder uses too without loading the driver.
 */
import type { AttributeValue, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TooLargeError } from './errors.js';
import { deepFreeze } from './object-cache.js';
import { encodeObject, type KubeObject } from './object.js';
import type { ChangeEvent, ChangeType } from './types.js';

/**
 * A stored body's limit, compressed. DynamoDB's item limit is 400 KB, and a log item carries the
 * object and its previous state.
 */
export const MAX_COMPRESSED_BYTES = 190 * 1024;

export type Item = Record<string, AttributeValue>;

export const S = (v: string): AttributeValue => ({ S: v });
export const N = (v: number): AttributeValue => ({ N: String(v) });
export const revKey = (rev: number) => String(rev).padStart(16, '0');
export const objectKey = (resource: string, namespace: string, name: string): Item => ({ pk: S(`o#${resource}`), sk: S(`${namespace}/${name}`) });

export function pack(object: KubeObject, limit: number): Uint8Array {
  const json = encodeObject(object, limit);
  const packed = gzipSync(json);
  if (packed.byteLength > MAX_COMPRESSED_BYTES) {
    throw new TooLargeError(packed.byteLength, MAX_COMPRESSED_BYTES);
  }
  return packed;
}

export function unpack(value: AttributeValue | undefined): KubeObject | undefined {
  if (!value?.B) return undefined;
  return JSON.parse(gunzipSync(value.B).toString('utf8')) as KubeObject;
}

/** A change a transaction will write. */
export interface PlannedChange {
  type: ChangeType;
  resource: string;
  namespace: string;
  name: string;
  /** The object after the change (or its last state for DELETED). */
  object: KubeObject;
  prev?: KubeObject;
  /** The object's revision as read (condition), or undefined when it must not exist. */
  expectRev?: number;
  /** Remove the object item instead of writing it. */
  remove: boolean;
}

/** What the transaction items need of the table. */
export interface TableSettings {
  name: string;
  /** How long log items live before their TTL ends them (the history window). */
  historyMs: number;
  maxObjectBytes: number;
}

/**
 * One group commit's items: the head counter moved from `head` on the condition that it is
 * `head`, each object's put or delete on the condition that it is as read, and a log item per
 * change.
 */
export function transactItems(table: TableSettings, head: number, changes: PlannedChange[]): TransactWriteItem[] {
  const items: TransactWriteItem[] = [
    {
      Update: {
        TableName: table.name,
        Key: { pk: S('meta'), sk: S('head') },
        UpdateExpression: 'SET rev = :next',
        ConditionExpression: head === 0 ? 'attribute_not_exists(rev) OR rev = :head' : 'rev = :head',
        ExpressionAttributeValues: { ':next': N(head + changes.length), ':head': N(head) },
      },
    },
  ];
  const ttl = Math.floor((Date.now() + table.historyMs) / 1000) + 3600;
  // Two changes to one key in one transaction are not allowed by DynamoDB: the last wins for
  // the object item (each change still gets its own log item).
  const lastForKey = new Map<string, number>();
  for (const [i, c] of changes.entries()) lastForKey.set(`${c.resource}\u0000${c.namespace}\u0000${c.name}`, i);
  const firstExpect = new Map<string, number | undefined>();
  for (const c of changes) {
    const k = `${c.resource}\u0000${c.namespace}\u0000${c.name}`;
    if (!firstExpect.has(k)) firstExpect.set(k, c.expectRev);
  }
  changes.forEach((c, i) => {
    const k = `${c.resource}\u0000${c.namespace}\u0000${c.name}`;
    const rev = Number(c.object.metadata.resourceVersion);
    if (lastForKey.get(k) === i) {
      const expect = firstExpect.get(k);
      const condition =
        expect === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: { ':rev': N(expect) } };
      if (c.remove) {
        items.push({ Delete: { TableName: table.name, Key: objectKey(c.resource, c.namespace, c.name), ...condition } });
      } else {
        items.push({
          Put: {
            TableName: table.name,
            Item: { ...objectKey(c.resource, c.namespace, c.name), rev: N(rev), body: { B: pack(c.object, table.maxObjectBytes) } },
            ...condition,
          },
        });
      }
    }
    const log: Item = {
      pk: S('log'),
      sk: S(revKey(rev)),
      rev: N(rev),
      type: S(c.type),
      resource: S(c.resource),
      namespace: S(c.namespace),
      name: S(c.name),
      body: { B: pack(c.object, table.maxObjectBytes) },
      ttl: N(ttl),
    };
    if (c.prev) log.prev = { B: pack(c.prev, table.maxObjectBytes) };
    items.push({ Put: { TableName: table.name, Item: log } });
  });
  return items;
}

/** A log item (from a Query or a stream image) as the change event it records. */
export function logItemToEvent(item: Item): ChangeEvent {
  const object = unpack(item.body);
  if (!object) throw new Error('log item without a body');
  const prev = unpack(item.prev);
  return {
    type: item.type.S as ChangeType,
    resource: item.resource.S!,
    revision: Number(item.rev.N),
    object: deepFreeze(object),
    prevObject: prev && deepFreeze(prev),
  };
}

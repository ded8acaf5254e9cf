/**
 * The `dynamodb` driver: the whole store in one table (docs/store-dynamodb.md).
 *
 *   pk = 'meta'           sk = 'head' | 'compacted'     rev: the newest / compacted revision
 *   pk = 'o#<resource>'   sk = '<namespace>/<name>'     rev, body (gzip JSON): current objects
 *   pk = 'log'            sk = '<revision, 16 digits>'  type, resource, key, body, prev, ttl
 *
 * Every write is one TransactWriteItems holding: the head counter moved from N to N+k on the
 * condition that it is N, each object's put/delete on the condition that it is as read, and
 * one log item per change. A revision is therefore committed only after every smaller one,
 * so a reader of the log never finds a hole that is later filled: watches can simply read the
 * log in order. Writes this process has queued in the same tick go in one transaction (group
 * commit, up to 49 changes). A lost race on the counter or an object is retried from a fresh
 * read. Streams (NEW_AND_OLD_IMAGES) on the table carry the log items to the stream handler
 * (`dynamodb-stream.ts`).
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ResourceInUseException,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  BatchWriteItemCommand,
  UpdateTimeToLiveCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { compareKeys, decodeContinue } from './continue-token.js';
import { N, S, logItemToEvent, objectKey, pack, revKey, transactItems, unpack, type Item, type PlannedChange, type TableSettings } from './dynamodb-items.js';
import { AlreadyExistsError, GoneError, NotFoundError } from './errors.js';
import { compileFilter } from './filter.js';
import { pageOf } from './paging.js';
import { ChangeFeed, liveWatch } from './live-watch.js';
import { deepFreeze } from './object-cache.js';
import {
  asDeleted,
  checkPreconditions,
  keyOf,
  prepareCreate,
  prepareDeletionMark,
  prepareUpdate,
  randomSuffix,
  readyToRemove,
  sameContent,
  type KubeObject,
} from './object.js';
import { subscribeVia } from './subscription.js';
import type {
  ChangeEvent,
  ChangeListener,
  DeleteOptions,
  DeleteResult,
  ListOptions,
  ListResult,
  Preconditions,
  Store,
  SubscribeOptions,
  Subscription,
  WatchEvent,
  WatchOptions,
} from './types.js';

export interface DynamoStoreOptions {
  tableName: string;
  endpoint?: string;
  region?: string;
  /** Create the table (with its stream and TTL) when it does not exist. */
  createTable?: boolean;
  client?: DynamoDBClient;
  historyWindow?: { revisions?: number; ms?: number };
  /** How often the log is read for changes while anyone watches. */
  pollIntervalMs?: number;
  /** Largest serialized object accepted (before compression). */
  maxObjectBytes?: number;
}

/** Changes per transaction: 100 items, less the counter, two items (object, log) each. */
const MAX_CHANGES_PER_TRANSACTION = 49;

/** A write to one key, decided against the state read at the start of a transaction attempt. */
interface Op {
  key: { resource: string; namespace: string; name: string };
  run: (state: BatchState) => { result: unknown; change?: PlannedChange };
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** What one transaction attempt has read and decided so far. */
interface BatchState {
  head: number;
  /** Objects as this attempt sees them: read from the table, then as earlier ops changed them. */
  objects: Map<string, { object?: KubeObject; rev?: number }>;
  read(resource: string, namespace: string, name: string): { object?: KubeObject; rev?: number };
  nextRevision(): number;
}

export class DynamoStore implements Store {
  readonly maxObjectBytes: number;
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly feed = new ChangeFeed();
  private readonly window: { revisions: number; ms: number };
  private readonly pollIntervalMs: number;
  private pending: Op[] = [];
  private flushing = false;
  private closed = false;
  /** The newest revision the poller has delivered to the feed. */
  private seenHead = 0;
  private compactedRev = 0;
  private poller?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private compactTimer?: NodeJS.Timeout;

  constructor(options: DynamoStoreOptions) {
    this.table = options.tableName;
    this.client =
      options.client ??
      new DynamoDBClient({
        endpoint: options.endpoint,
        region: options.region ?? 'us-east-1',
        ...(options.endpoint ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
      });
    this.maxObjectBytes = options.maxObjectBytes ?? 1.5 * 1024 * 1024;
    this.window = { revisions: options.historyWindow?.revisions ?? 100_000, ms: options.historyWindow?.ms ?? 5 * 60_000 };
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
  }

  private get tableSettings(): TableSettings {
    return { name: this.table, historyMs: this.window.ms, maxObjectBytes: this.maxObjectBytes };
  }

  /** Creates the table when asked, reads the head and compacted revisions, starts the poller. */
  async init(createTable: boolean): Promise<void> {
    if (createTable) await this.ensureTable();
    this.seenHead = await this.readMeta('head');
    this.compactedRev = await this.readMeta('compacted');
    this.poller = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.poller.unref();
    this.compactTimer = setInterval(() => void this.compactByWindow().catch(() => undefined), 60_000);
    this.compactTimer.unref();
  }

  private async ensureTable(): Promise<void> {
    try {
      await this.client.send(
        new CreateTableCommand({
          TableName: this.table,
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
      const d = await this.client.send(new DescribeTableCommand({ TableName: this.table }));
      if (d.Table?.TableStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      await this.client.send(new UpdateTimeToLiveCommand({ TableName: this.table, TimeToLiveSpecification: { Enabled: true, AttributeName: 'ttl' } }));
    } catch {
      // Already enabled, or the emulator does not track it: the explicit compaction still runs.
    }
  }

  private async readMeta(sk: string): Promise<number> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: S('meta'), sk: S(sk) }, ConsistentRead: true }));
    return Number(got.Item?.rev?.N ?? 0);
  }

  // ---- writes ----------------------------------------------------------------------------

  private enqueue<T>(key: Op['key'], run: Op['run']): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ key, run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_CHANGES_PER_TRANSACTION);
      await this.commit(batch);
    }
    this.flushing = false;
  }

  /** Decides every op against fresh reads and commits them in one transaction, retrying lost races. */
  private async commit(batch: Op[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let head: number;
      try {
        head = await this.readMeta('head');
      } catch (err) {
        for (const op of batch) op.reject(err);
        return;
      }
      const outcomes: { ok: boolean; value: unknown; change?: PlannedChange }[] = [];
      const state = await this.batchState(head, batch);
      for (const op of batch) {
        try {
          const { result, change } = op.run(state);
          outcomes.push({ ok: true, value: result, change });
        } catch (err) {
          outcomes.push({ ok: false, value: err });
        }
      }
      const changes = outcomes.flatMap((o) => (o.change ? [o.change] : []));
      if (changes.length === 0) {
        for (const [i, o] of outcomes.entries()) {
          if (o.ok) batch[i].resolve(o.value);
          else batch[i].reject(o.value);
        }
        return;
      }
      try {
        await this.client.send(new TransactWriteItemsCommand({ TransactItems: transactItems(this.tableSettings, head, changes) }));
      } catch (err) {
        const lostRace =
          err instanceof TransactionCanceledException ||
          err instanceof ConditionalCheckFailedException ||
          (err as { name?: string }).name === 'TransactionConflictException';
        if (lostRace && attempt < 200) {
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 2 ** attempt)));
          continue;
        }
        for (const op of batch) op.reject(err);
        return;
      }
      for (const [i, o] of outcomes.entries()) {
        if (o.ok) batch[i].resolve(o.value);
        else batch[i].reject(o.value);
      }
      // Wake the poller: local watchers see their own writes without waiting for the interval.
      void this.poll();
      return;
    }
  }

  /** Reads (consistently) every key the batch may touch. */
  private async batchState(head: number, batch: Op[]): Promise<BatchState> {
    const objects = new Map<string, { object?: KubeObject; rev?: number }>();
    let next = head;
    const wanted = new Map(batch.map((op) => [`${op.key.resource}\u0000${op.key.namespace}\u0000${op.key.name}`, op.key]));
    await Promise.all(
      [...wanted.values()].map(async ({ resource, namespace, name }) => {
        const got = await this.client.send(new GetItemCommand({ TableName: this.table, Key: objectKey(resource, namespace, name), ConsistentRead: true }));
        const object = got.Item ? unpack(got.Item.body) : undefined;
        objects.set(`${resource}\u0000${namespace}\u0000${name}`, { object: object && deepFreeze(object), rev: got.Item ? Number(got.Item.rev.N) : undefined });
      }),
    );
    return {
      head,
      objects,
      read: (resource, namespace, name) => objects.get(`${resource}\u0000${namespace}\u0000${name}`) ?? {},
      nextRevision: () => ++next,
    };
  }

  create(resource: string, object: KubeObject): Promise<KubeObject> {
    // A generated name is chosen once, before queueing, so every retry writes the same key.
    const meta = object.metadata;
    const named = !meta.name && meta.generateName ? { ...object, metadata: { ...meta, name: meta.generateName + randomSuffix() } } : object;
    const { namespace, name } = keyOf(named);
    return this.enqueue({ resource, namespace, name }, (state) => {
      if (state.read(resource, namespace, name).object) throw new AlreadyExistsError(resource, namespace, name);
      // Size first: a revision, once taken, must be written.
      const candidate = prepareCreate(named, state.head + 1);
      pack(candidate, this.maxObjectBytes);
      const rev = state.nextRevision();
      const created = deepFreeze({ ...candidate, metadata: { ...candidate.metadata, resourceVersion: String(rev) } });
      state.objects.set(`${resource}\u0000${namespace}\u0000${name}`, { object: created, rev });
      return { result: created, change: { type: 'ADDED', resource, namespace, name, object: created, remove: false, expectRev: undefined } };
    });
  }

  async get(resource: string, namespace: string, name: string): Promise<KubeObject> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.table, Key: objectKey(resource, namespace, name), ConsistentRead: true }));
    const object = got.Item ? unpack(got.Item.body) : undefined;
    if (!object) throw new NotFoundError(resource, namespace, name);
    return deepFreeze(object);
  }

  update(resource: string, object: KubeObject, options: { preconditions?: Preconditions } = {}): Promise<KubeObject> {
    const { namespace, name } = keyOf(object);
    return this.enqueue({ resource, namespace, name }, (state) => {
      const current = state.read(resource, namespace, name);
      const stored = current.object;
      if (!stored) throw new NotFoundError(resource, namespace, name);
      const pre = { ...options.preconditions };
      if (object.metadata.resourceVersion) pre.resourceVersion ??= object.metadata.resourceVersion;
      checkPreconditions(resource, stored, pre);
      const unchanged = prepareUpdate(stored, object, Number(stored.metadata.resourceVersion));
      if (!readyToRemove(unchanged) && sameContent(unchanged, stored)) return { result: stored };
      pack(prepareUpdate(stored, object, state.head + 1), this.maxObjectBytes);
      const rev = state.nextRevision();
      const next = deepFreeze(prepareUpdate(stored, object, rev));
      const remove = readyToRemove(next);
      state.objects.set(`${resource}\u0000${namespace}\u0000${name}`, remove ? {} : { object: next, rev });
      return {
        result: next,
        change: { type: remove ? 'DELETED' : 'MODIFIED', resource, namespace, name, object: next, prev: stored, expectRev: current.rev, remove },
      };
    });
  }

  delete(resource: string, namespace: string, name: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    return this.enqueue({ resource, namespace, name }, (state) => {
      const current = state.read(resource, namespace, name);
      const stored = current.object;
      if (!stored) throw new NotFoundError(resource, namespace, name);
      checkPreconditions(resource, stored, options.preconditions);
      if ((stored.metadata.finalizers ?? []).length > 0) {
        if (stored.metadata.deletionTimestamp) return { result: { object: stored, deleted: false } };
        const rev = state.nextRevision();
        const marked = deepFreeze(prepareDeletionMark(stored, rev));
        state.objects.set(`${resource}\u0000${namespace}\u0000${name}`, { object: marked, rev });
        return {
          result: { object: marked, deleted: false },
          change: { type: 'MODIFIED', resource, namespace, name, object: marked, prev: stored, expectRev: current.rev, remove: false },
        };
      }
      const rev = state.nextRevision();
      const gone = deepFreeze(asDeleted(stored, rev));
      state.objects.set(`${resource}\u0000${namespace}\u0000${name}`, {});
      return {
        result: { object: gone, deleted: true },
        change: { type: 'DELETED', resource, namespace, name, object: gone, prev: stored, expectRev: current.rev, remove: true },
      };
    });
  }

  // ---- reads -----------------------------------------------------------------------------

  private async *query(input: Omit<QueryCommandInput, 'TableName'>): AsyncGenerator<Item> {
    let start: Item | undefined;
    do {
      const page = await this.client.send(new QueryCommand({ TableName: this.table, ConsistentRead: true, ...input, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) yield item;
      start = page.LastEvaluatedKey;
    } while (start);
  }

  async list(resource: string, options: ListOptions = {}): Promise<ListResult> {
    const filter = compileFilter(options);
    const token = options.continue ? decodeContinue(options.continue) : undefined;
    const revision = token?.revision ?? options.revision ?? (await this.readMeta('head'));
    if (revision < this.compactedRev) throw new GoneError(revision, this.compactedRev);
    return pageOf(await this.objectsAt(resource, filter.namespace, token, revision), filter, options.limit, revision);
  }

  /**
   * The objects as they were at `revision`: a scan that keeps objects not written since, then
   * for keys written since, the state before their first later write, from the log.
   */
  private async objectsAt(
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
    if (revision < this.compactedRev) throw new GoneError(revision, this.compactedRev);
    const all = [...byKey.values()].map((o) => deepFreeze(o));
    all.sort((a, b) => compareKeys(a.metadata.namespace ?? '', a.metadata.name ?? '', b.metadata.namespace ?? '', b.metadata.name ?? ''));
    if (!after) return all;
    return all.filter((o) => compareKeys(o.metadata.namespace ?? '', o.metadata.name ?? '', after.namespace, after.name) > 0);
  }

  private async readLog(from: number, to: number, resource: string | undefined, limit: number): Promise<ChangeEvent[]> {
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

  /** Reads new log entries and publishes them, in order, to local watchers. */
  private poll(): Promise<void> {
    if (this.polling || this.closed) return this.polling ?? Promise.resolve();
    if (this.feed.size === 0) {
      return Promise.resolve();
    }
    this.polling = (async () => {
      try {
        for (;;) {
          const events: ChangeEvent[] = [];
          let skipped = false;
          for await (const item of this.query({
            KeyConditionExpression: 'pk = :pk AND sk > :from',
            ExpressionAttributeValues: { ':pk': S('log'), ':from': S(revKey(this.seenHead)) },
            Limit: 500,
          })) {
            const event = logItemToEvent(item);
            if (event.revision !== this.seenHead + events.length + 1) {
              skipped = events.length === 0;
              break;
            }
            events.push(event);
            if (events.length >= 500) break;
          }
          if (events.length === 0) {
            // The next entries were compacted before we read them: nobody can watch from there
            // any more (Gone), so go on from the compacted revision.
            const compacted = skipped ? await this.readMeta('compacted') : 0;
            if (compacted > this.seenHead) {
              this.compactedRev = Math.max(this.compactedRev, compacted);
              this.seenHead = compacted;
              continue;
            }
            break;
          }
          this.seenHead = events[events.length - 1].revision;
          this.feed.publish(events);
        }
        this.compactedRev = Math.max(this.compactedRev, await this.readMeta('compacted'));
      } catch {
        // The next tick tries again.
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  watch(resource: string, options: WatchOptions): AsyncIterableIterator<WatchEvent> {
    return this.watchAll(resource, options);
  }

  private watchAll(resource: string | undefined, options: WatchOptions): AsyncGenerator<WatchEvent> {
    const filter = compileFilter(options);
    return liveWatch(
      { feed: this.feed, head: () => this.seenHead, compacted: () => this.compactedRev, readLog: (from, to, r, limit) => this.readLog(from, to, r, limit) },
      { resource, filter, fromRevision: options.fromRevision, bookmarkIntervalMs: options.bookmarkIntervalMs, signal: options.signal },
    );
  }

  subscribe(listener: ChangeListener, options: SubscribeOptions = {}): Subscription {
    return subscribeVia((from, signal) => this.watchAll(undefined, { fromRevision: from, signal }), options.fromRevision ?? this.seenHead, listener);
  }

  async currentRevision(): Promise<number> {
    const head = await this.readMeta('head');
    // Watches started from this revision must find everything up to it in the feed or the log.
    if (head > this.seenHead && this.feed.size === 0) this.seenHead = head;
    return head;
  }

  async compactedRevision(): Promise<number> {
    this.compactedRev = Math.max(this.compactedRev, await this.readMeta('compacted'));
    return this.compactedRev;
  }

  async compact(revision: number): Promise<void> {
    const head = await this.readMeta('head');
    const target = Math.min(revision, head);
    if (target <= (await this.compactedRevision())) return;
    await this.client.send(
      new TransactWriteItemsCommand({
        TransactItems: [{ Put: { TableName: this.table, Item: { pk: S('meta'), sk: S('compacted'), rev: N(target) } } }],
      }),
    );
    this.compactedRev = target;
    // Trim the log items at and below the target (TTL trims them too, later, in AWS).
    const doomed: Item[] = [];
    for await (const item of this.query({
      KeyConditionExpression: 'pk = :pk AND sk <= :to',
      ExpressionAttributeValues: { ':pk': S('log'), ':to': S(revKey(target)) },
      ProjectionExpression: 'pk, sk',
    })) {
      doomed.push({ pk: item.pk, sk: item.sk });
    }
    for (let i = 0; i < doomed.length; i += 25) {
      let requests = doomed.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests.length && attempt < 10; attempt++) {
        const res = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: requests } }));
        requests = (res.UnprocessedItems?.[this.table] ?? []) as typeof requests;
      }
    }
  }

  private async compactByWindow(): Promise<void> {
    const head = await this.readMeta('head');
    const target = head - this.window.revisions;
    if (target > this.compactedRev) await this.compact(target);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing || this.pending.length) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    clearInterval(this.poller);
    clearInterval(this.compactTimer);
    await this.polling;
    this.client.destroy();
  }
}

export { MAX_COMPRESSED_BYTES, logItemToEvent } from './dynamodb-items.js';

export async function openDynamoStore(options: DynamoStoreOptions): Promise<DynamoStore> {
  const store = new DynamoStore(options);
  await store.init(options.createTable ?? false);
  return store;
}

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
 * (`dynamodb-stream.ts`). The items are encoded in `dynamodb-items.ts`, the table's requests are
 * in `dynamodb-table.ts` and the group commit in `dynamodb-commit.ts`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { decodeContinue } from './continue-token.js';
import { GroupCommit } from './dynamodb-commit.js';
import { S, logItemToEvent, pack, revKey, unpack, type Item } from './dynamodb-items.js';
import { DynamoTable } from './dynamodb-table.js';
import { AlreadyExistsError, GoneError, NotFoundError } from './errors.js';
import { compileFilter } from './filter.js';
import { ChangeFeed, type LogSource } from './live-watch.js';
import { LogStore } from './log-store.js';
import { deepFreeze } from './object-cache.js';
import {
  asDeleted,
  checkPreconditions,
  identityOf,
  keyOf,
  prepareCreate,
  prepareDeletionMark,
  prepareUpdate,
  randomSuffix,
  readyToRemove,
  sameContent,
  type KubeObject,
} from './object.js';
import { pageOf } from './paging.js';
import type { ChangeEvent, DeleteOptions, DeleteResult, ListOptions, ListResult, Preconditions, Store } from './types.js';

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

export class DynamoStore extends LogStore implements Store {
  readonly maxObjectBytes: number;
  private readonly client: DynamoDBClient;
  private readonly table: DynamoTable;
  private readonly writes: GroupCommit;

  /** What this instance's writes cost: transactions, the changes in them, and the races lost. */
  get commitStats(): Readonly<GroupCommit['stats']> {
    return this.writes.stats;
  }
  private readonly feed = new ChangeFeed();
  private readonly window: { revisions: number; ms: number };
  private readonly pollIntervalMs: number;
  private closed = false;
  /** The newest revision the poller has delivered to the feed. */
  private seenHead = 0;
  private compactedRev = 0;
  private poller?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private compactTimer?: NodeJS.Timeout;

  constructor(options: DynamoStoreOptions) {
    super();
    this.client =
      options.client ??
      new DynamoDBClient({
        endpoint: options.endpoint,
        region: options.region ?? 'us-east-1',
        ...(options.endpoint ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
      });
    this.table = new DynamoTable(this.client, options.tableName);
    this.maxObjectBytes = options.maxObjectBytes ?? 1.5 * 1024 * 1024;
    this.window = { revisions: options.historyWindow?.revisions ?? 100_000, ms: options.historyWindow?.ms ?? 5 * 60_000 };
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
    // Wake the poller after each commit: local watchers see their own writes without waiting for the interval.
    this.writes = new GroupCommit(
      this.table,
      { name: options.tableName, historyMs: this.window.ms, maxObjectBytes: this.maxObjectBytes },
      () => void this.poll(),
    );
  }

  /** Creates the table when asked, reads the head and compacted revisions, starts the poller. */
  async init(createTable: boolean): Promise<void> {
    if (createTable) await this.table.ensure();
    this.seenHead = await this.table.readMeta('head');
    this.compactedRev = await this.table.readMeta('compacted');
    this.poller = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.poller.unref();
    this.compactTimer = setInterval(() => void this.compactByWindow().catch(() => undefined), 60_000);
    this.compactTimer.unref();
  }

  // ---- writes: each decided in `run`, committed by the group commit ----------------------

  create(resource: string, object: KubeObject): Promise<KubeObject> {
    // A generated name is chosen once, before queueing, so every retry writes the same key.
    const meta = object.metadata;
    const named = !meta.name && meta.generateName ? { ...object, metadata: { ...meta, name: meta.generateName + randomSuffix() } } : object;
    const { namespace, name } = keyOf(named);
    return this.writes.enqueue({ resource, namespace, name }, (state) => {
      if (state.read(resource, namespace, name).object) throw new AlreadyExistsError(resource, namespace, name);
      // Size first: a revision, once taken, must be written.
      const candidate = prepareCreate(named, state.head + 1);
      pack(candidate, this.maxObjectBytes);
      const rev = state.nextRevision();
      const created = deepFreeze({ ...candidate, metadata: { ...candidate.metadata, resourceVersion: String(rev) } });
      state.write(resource, namespace, name, { object: created, rev });
      return { result: created, change: { type: 'ADDED', resource, namespace, name, object: created, remove: false, expectRev: undefined } };
    });
  }

  async get(resource: string, namespace: string, name: string): Promise<KubeObject> {
    const { object } = await this.table.getObject(resource, namespace, name);
    if (!object) throw new NotFoundError(resource, namespace, name);
    return object;
  }

  update(resource: string, object: KubeObject, options: { preconditions?: Preconditions } = {}): Promise<KubeObject> {
    const { namespace, name } = keyOf(object);
    return this.writes.enqueue({ resource, namespace, name }, (state) => {
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
      state.write(resource, namespace, name, remove ? {} : { object: next, rev });
      return {
        result: next,
        change: { type: remove ? 'DELETED' : 'MODIFIED', resource, namespace, name, object: next, prev: stored, expectRev: current.rev, remove },
      };
    });
  }

  delete(resource: string, namespace: string, name: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    return this.writes.enqueue({ resource, namespace, name }, (state) => {
      const current = state.read(resource, namespace, name);
      const stored = current.object;
      if (!stored) throw new NotFoundError(resource, namespace, name);
      checkPreconditions(resource, stored, options.preconditions);
      if ((stored.metadata.finalizers ?? []).length > 0) {
        if (stored.metadata.deletionTimestamp) return { result: { object: stored, deleted: false } };
        const rev = state.nextRevision();
        const marked = deepFreeze(prepareDeletionMark(stored, rev));
        state.write(resource, namespace, name, { object: marked, rev });
        return {
          result: { object: marked, deleted: false },
          change: { type: 'MODIFIED', resource, namespace, name, object: marked, prev: stored, expectRev: current.rev, remove: false },
        };
      }
      const rev = state.nextRevision();
      const gone = deepFreeze(asDeleted(stored, rev));
      state.write(resource, namespace, name, {});
      return {
        result: { object: gone, deleted: true },
        change: { type: 'DELETED', resource, namespace, name, object: gone, prev: stored, expectRev: current.rev, remove: true },
      };
    });
  }

  // ---- reads -----------------------------------------------------------------------------

  async list(resource: string, options: ListOptions = {}): Promise<ListResult> {
    const filter = compileFilter(options);
    const token = options.continue ? decodeContinue(options.continue) : undefined;
    const revision = token?.revision ?? options.revision ?? (await this.table.readMeta('head'));
    if (revision < this.compactedRev) throw new GoneError(revision, this.compactedRev);
    const objects = await this.table.objectsAt(resource, filter.namespace, token, revision);
    // Compaction may have trimmed, while they were read, the log entries the snapshot needed.
    if (revision < this.compactedRev) throw new GoneError(revision, this.compactedRev);
    return pageOf(objects, filter, options.limit, revision);
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
          for await (const item of this.table.query({
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
            const compacted = skipped ? await this.table.readMeta('compacted') : 0;
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
        this.compactedRev = Math.max(this.compactedRev, await this.table.readMeta('compacted'));
      } catch {
        // The next tick tries again.
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  protected logSource(): LogSource {
    return {
      feed: this.feed,
      head: () => this.seenHead,
      compacted: () => this.compactedRev,
      readLog: (from, to, r, limit) => this.table.readLog(from, to, r, limit),
    };
  }

  // ---- data at rest ---------------------------------------------------------------------

  async rewriteHistory(resource: string, rewrite: (object: KubeObject) => Promise<KubeObject | undefined>): Promise<number> {
    let changed = 0;
    for await (const item of this.table.logOf(resource)) {
      const body = await rewrite(unpack(item.body)!);
      const prev = item.prev ? await rewrite(unpack(item.prev)!) : undefined;
      if (!body && !prev) continue;
      await this.table.rewriteLogItem(Number(item.rev.N), body, prev, this.maxObjectBytes);
      changed++;
    }
    return changed;
  }

  /**
   * The earlier entries are found by following the chain of previous states (each one's
   * resourceVersion is the revision of the entry that wrote it), not by reading the whole log.
   */
  async forgetHistory(resource: string, namespace: string, name: string, revision: number): Promise<void> {
    const sameKey = (item: Item | undefined): item is Item => item?.resource.S === resource && item.namespace.S === namespace && item.name.S === name;
    for (let rev: number | undefined = revision; rev !== undefined; ) {
      const entry = await this.table.logItem(rev);
      if (!sameKey(entry)) break;
      const prev = entry.type.S === 'ADDED' ? undefined : unpack(entry.prev);
      await this.table.rewriteLogItem(rev, identityOf(unpack(entry.body)!), null, this.maxObjectBytes);
      rev = prev ? Number(prev.metadata.resourceVersion) : undefined;
    }
  }

  async currentRevision(): Promise<number> {
    const head = await this.table.readMeta('head');
    // Watches started from this revision must find everything up to it in the feed or the log.
    if (head > this.seenHead && this.feed.size === 0) this.seenHead = head;
    return head;
  }

  async compactedRevision(): Promise<number> {
    this.compactedRev = Math.max(this.compactedRev, await this.table.readMeta('compacted'));
    return this.compactedRev;
  }

  async compact(revision: number): Promise<void> {
    const head = await this.table.readMeta('head');
    const target = Math.min(revision, head);
    if (target <= (await this.compactedRevision())) return;
    await this.table.writeCompacted(target);
    this.compactedRev = target;
    await this.table.trimLog(target);
  }

  private async compactByWindow(): Promise<void> {
    const head = await this.table.readMeta('head');
    const target = head - this.window.revisions;
    if (target > this.compactedRev) await this.compact(target);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.writes.close();
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

/**
 * The `sqlite` driver: the embedded default. One SQLite file (better-sqlite3, WAL,
 * synchronous=FULL), so a write is acknowledged only once it is on disk.
 *
 * Layout (docs/store.md): `objects` holds the current state by key; `log` holds every write
 * (revision, key, type, object, previous object) and is the watch history; `meta` holds the
 * head and compacted revisions. Writes that arrive in the same tick are committed together in
 * one transaction (group commit), each checked on its own; watchers are fed from memory after
 * the commit and catch up from `log` when they start behind or fall behind. The current
 * objects of each resource are also kept in memory (`ObjectCache`, loaded on first use), so
 * gets and current lists read no rows and parse no JSON. The tables and statements are in
 * `sqlite-schema.ts`.
 */
import type Database from 'better-sqlite3';
import { compareKeys, decodeContinue } from './continue-token.js';
import { AlreadyExistsError, GoneError, NotFoundError } from './errors.js';
import { compileFilter } from './filter.js';
import { changesOf, decideEach, settle, type Decision, type Outcome, type Waiting } from './group-commit.js';
import { ChangeFeed, type LogSource } from './live-watch.js';
import { LogStore } from './log-store.js';
import { INDEXED_FIELDS, ObjectCache, deepFreeze, jsonOf, rememberJson } from './object-cache.js';
import {
  asDeleted,
  checkPreconditions,
  encodeObject,
  identityOf,
  keyOf,
  prepareCreate,
  prepareDeletionMark,
  prepareUpdate,
  readyToRemove,
  sameContent,
  type KubeObject,
} from './object.js';
import { pageOf } from './paging.js';
import { CODE_TYPE, TYPE_CODE, logRowToEvent, openDatabase, prepareStatements, type LogRow, type Statements } from './sqlite-schema.js';
import type { ChangeEvent, ChangeType, DeleteOptions, DeleteResult, ListOptions, ListResult, Preconditions, Store } from './types.js';

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' (nothing survives close; for simulations and tests). */
  path: string;
  /** Log entries older than both bounds' limits are compacted: keep at least this much. */
  historyWindow?: { revisions?: number; ms?: number };
  /** How often automatic compaction runs (0 disables it). */
  compactIntervalMs?: number;
  /** Largest serialized object accepted, in bytes (Kubernetes: 1.5 MiB). */
  maxObjectBytes?: number;
}

/** A write waiting for the next group commit. */
interface PendingWrite extends Waiting {
  run: () => Decision<ChangeEvent>;
}

export class SqliteStore extends LogStore implements Store {
  readonly maxObjectBytes: number;
  private readonly db: Database.Database;
  private readonly feed = new ChangeFeed();
  private head = 0;
  private compactedRev = 0;
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly compactTimer?: NodeJS.Timeout;
  private readonly window: { revisions: number; ms: number };
  private readonly stmt: Statements;
  private readonly caches = new Map<string, ObjectCache>();
  /** changeStamp: per resource, the serial of its last change; `baseStamp` for the rest. */
  private readonly stamps = new Map<string, number>();
  private stampSerial = 0;
  private baseStamp = 0;

  constructor(options: SqliteStoreOptions) {
    super();
    this.maxObjectBytes = options.maxObjectBytes ?? 1.5 * 1024 * 1024;
    this.window = { revisions: options.historyWindow?.revisions ?? 100_000, ms: options.historyWindow?.ms ?? 5 * 60_000 };
    this.db = openDatabase(options.path);
    this.stmt = prepareStatements(this.db);
    const meta = (key: string) => (this.stmt.getMeta.get(key) as { value: number } | undefined)?.value ?? 0;
    const lastLogged = (this.db.prepare('SELECT MAX(revision) AS r FROM log').get() as { r: number | null }).r ?? 0;
    this.head = Math.max(meta('head'), lastLogged);
    this.compactedRev = meta('compacted');
    const interval = options.compactIntervalMs ?? 60_000;
    if (interval > 0) {
      this.compactTimer = setInterval(() => this.compactByWindow(), interval);
      this.compactTimer.unref();
    }
  }

  // ---- writes: queued, then committed together --------------------------------------------

  private enqueue<T>(run: () => { result: T; change?: ChangeEvent }): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every queued write in one transaction; one write's error fails only that write. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const startHead = this.head;
    let outcomes: Outcome<ChangeEvent>[] = [];
    try {
      this.db.transaction(() => {
        outcomes = decideEach(batch, (write) => write.run());
        if (this.head !== startHead) this.stmt.setMeta.run('head', this.head);
      })();
    } catch (err) {
      // The commit failed: memory may hold writes that never reached the disk. Forget it all.
      this.head = startHead;
      this.caches.clear();
      // Any stamp handed out may describe what was just forgotten: start every one afresh.
      this.stamps.clear();
      this.baseStamp = ++this.stampSerial;
      for (const write of batch) write.reject(err);
      return;
    }
    this.feed.publish(changesOf(outcomes));
    settle(batch, outcomes);
  }

  /** The resource's current objects, loaded from the file on first use. */
  private cacheFor(resource: string): ObjectCache {
    let cache = this.caches.get(resource);
    if (!cache) {
      cache = new ObjectCache(INDEXED_FIELDS[resource]);
      for (const body of this.stmt.loadResource.iterate(resource) as Iterable<string>) cache.set(JSON.parse(body) as KubeObject);
      this.caches.set(resource, cache);
    }
    return cache;
  }

  /** Appends one change to the log (inside the running transaction) and returns its event. */
  private record(type: ChangeType, resource: string, object: KubeObject, body: string, prev?: KubeObject): ChangeEvent {
    const { namespace, name } = keyOf(object);
    // The previous state is the body of the key's previous entry: point at it rather than
    // write the object a third time. Only when that entry is compacted away is it copied.
    const prevRev = prev ? Number(prev.metadata.resourceVersion) : NaN;
    const linked = prev !== undefined && prevRev > this.compactedRev && prevRev < this.head;
    this.stmt.log.run(this.head, resource, namespace, name, TYPE_CODE[type], body, prev && !linked ? jsonOf(prev) : null, Date.now(), linked ? prevRev : null);
    rememberJson(object, body);
    this.stamps.set(resource, ++this.stampSerial);
    return { type, resource, revision: this.head, object, prevObject: prev };
  }

  changeStamp(resource: string): number {
    return this.stamps.get(resource) ?? this.baseStamp;
  }

  create(resource: string, object: KubeObject): Promise<KubeObject> {
    return this.enqueue(() => {
      const created = prepareCreate(object, this.head + 1);
      const { namespace, name } = keyOf(created);
      const body = encodeObject(created, this.maxObjectBytes);
      const cache = this.cacheFor(resource);
      if (cache.get(namespace, name)) throw new AlreadyExistsError(resource, namespace, name);
      this.head++;
      this.stmt.insert.run(resource, namespace, name, this.head, body);
      cache.set(created);
      return { result: created, change: this.record('ADDED', resource, created, body) };
    });
  }

  async get(resource: string, namespace: string, name: string): Promise<KubeObject> {
    const object = this.cacheFor(resource).get(namespace, name);
    if (!object) throw new NotFoundError(resource, namespace, name);
    return object;
  }

  update(resource: string, object: KubeObject, options: { preconditions?: Preconditions } = {}): Promise<KubeObject> {
    return this.enqueue(() => {
      const { namespace, name } = keyOf(object);
      const cache = this.cacheFor(resource);
      const stored = cache.get(namespace, name);
      if (!stored) throw new NotFoundError(resource, namespace, name);
      const pre = { ...options.preconditions };
      if (object.metadata.resourceVersion) pre.resourceVersion ??= object.metadata.resourceVersion;
      checkPreconditions(resource, stored, pre);
      const candidate = prepareUpdate(stored, object, this.head + 1);
      if (!readyToRemove(candidate) && sameContent(candidate, stored)) return { result: stored };
      const body = encodeObject(candidate, this.maxObjectBytes);
      this.head++;
      deepFreeze(candidate);
      if (readyToRemove(candidate)) {
        this.stmt.remove.run(resource, namespace, name);
        cache.delete(namespace, name);
        return { result: candidate, change: this.record('DELETED', resource, candidate, body, stored) };
      }
      this.stmt.update.run(this.head, body, resource, namespace, name);
      cache.set(candidate);
      return { result: candidate, change: this.record('MODIFIED', resource, candidate, body, stored) };
    });
  }

  delete(resource: string, namespace: string, name: string, options: DeleteOptions = {}): Promise<DeleteResult> {
    return this.enqueue<DeleteResult>(() => {
      const cache = this.cacheFor(resource);
      const stored = cache.get(namespace, name);
      if (!stored) throw new NotFoundError(resource, namespace, name);
      checkPreconditions(resource, stored, options.preconditions);
      if ((stored.metadata.finalizers ?? []).length > 0) {
        if (stored.metadata.deletionTimestamp) return { result: { object: stored, deleted: false } };
        const marked = prepareDeletionMark(stored, this.head + 1);
        const body = encodeObject(marked, this.maxObjectBytes);
        this.head++;
        this.stmt.update.run(this.head, body, resource, namespace, name);
        cache.set(marked);
        return { result: { object: marked, deleted: false }, change: this.record('MODIFIED', resource, marked, body, stored) };
      }
      this.head++;
      const gone = deepFreeze(asDeleted(stored, this.head));
      this.stmt.remove.run(resource, namespace, name);
      cache.delete(namespace, name);
      return { result: { object: gone, deleted: true }, change: this.record('DELETED', resource, gone, jsonOf(gone), stored) };
    });
  }

  // ---- reads ---------------------------------------------------------------------------

  async list(resource: string, options: ListOptions = {}): Promise<ListResult> {
    const filter = compileFilter(options);
    const token = options.continue ? decodeContinue(options.continue) : undefined;
    const revision = token?.revision ?? options.revision ?? this.head;
    if (revision > this.head) throw new GoneError(revision, this.compactedRev);
    // At the head, memory has the answer; a later page of an older list is rebuilt from the log.
    const candidates =
      revision === this.head
        ? this.cacheFor(resource).select(filter.namespace, token, filter.labels, filter.fields)
        : this.objectsAt(resource, filter.namespace, token ?? { namespace: '', name: '' }, revision);
    return pageOf(candidates, filter, options.limit, revision);
  }

  /**
   * The objects of `resource` as they were at `revision`, in list order after `after`:
   * objects unchanged since as they are, and for keys written since, the state before their
   * first later write (the `prev` the log kept).
   */
  private *objectsAt(resource: string, namespace: string | undefined, after: { namespace: string; name: string }, revision: number): Generator<KubeObject> {
    if (revision < this.compactedRev) throw new GoneError(revision, this.compactedRev);
    const isAfter = (ns: string, name: string) => ns > after.namespace || (ns === after.namespace && name > after.name);
    const objects: KubeObject[] = [];
    for (const object of this.cacheFor(resource).range(namespace, after)) {
      if (Number(object.metadata.resourceVersion) <= revision) objects.push(object);
    }
    const seen = new Set<string>();
    for (const entry of this.stmt.logAfter.iterate(resource, revision) as Iterable<{ namespace: string; name: string; type: number; prev: string | null }>) {
      const key = `${entry.namespace}\u0000${entry.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (entry.prev === null || CODE_TYPE[entry.type] === 'ADDED') continue;
      if (namespace !== undefined && entry.namespace !== namespace) continue;
      if (isAfter(entry.namespace, entry.name)) objects.push(JSON.parse(entry.prev) as KubeObject);
    }
    objects.sort((a, b) => compareKeys(a.metadata.namespace ?? '', a.metadata.name ?? '', b.metadata.namespace ?? '', b.metadata.name ?? ''));
    yield* objects;
  }

  private readLog(from: number, to: number, resource: string | undefined, limit: number): ChangeEvent[] {
    const rows = (resource === undefined ? this.stmt.readLogAll.all(from, to, limit) : this.stmt.readLogFor.all(resource, from, to, limit)) as LogRow[];
    return rows.map(logRowToEvent);
  }

  protected logSource(): LogSource {
    return {
      feed: this.feed,
      head: () => this.head,
      compacted: () => this.compactedRev,
      readLog: (from: number, to: number, resource: string | undefined, limit: number) => this.readLog(from, to, resource, limit),
    };
  }

  // ---- data at rest ---------------------------------------------------------------------

  async rewriteHistory(resource: string, rewrite: (object: KubeObject) => Promise<KubeObject | undefined>): Promise<number> {
    let after = 0;
    let changed = 0;
    const again = async (text: string | null) => {
      if (text === null) return null;
      const next = await rewrite(JSON.parse(text) as KubeObject);
      return next ? JSON.stringify(next) : null;
    };
    for (;;) {
      if (this.closed) throw new Error('store is closed');
      const rows = this.stmt.historyOf.all(resource, after, 256) as { revision: number; body: string; prev: string | null }[];
      if (rows.length === 0) break;
      const updates: [string | null, string | null, number][] = [];
      for (const row of rows) {
        const update: [string | null, string | null, number] = [await again(row.body), await again(row.prev), row.revision];
        if (update[0] !== null || update[1] !== null) updates.push(update);
      }
      // A chunk at a time, each in one transaction: a crash leaves every entry whole, old or new.
      if (!this.closed)
        this.db.transaction(() => {
          for (const u of updates) this.stmt.rewriteEntry.run(...u);
        })();
      changed += updates.length;
      after = rows[rows.length - 1].revision;
    }
    // The old states leave the write-ahead log too, not only the tables.
    if (changed > 0 && !this.closed) this.db.pragma('wal_checkpoint(TRUNCATE)');
    return changed;
  }

  async forgetHistory(resource: string, namespace: string, name: string, revision: number): Promise<void> {
    if (this.closed) return;
    const entries = this.stmt.entriesOf.all(resource, namespace, name, revision) as { revision: number; body: string }[];
    this.db.transaction(() => {
      for (const entry of entries) this.stmt.forgetEntry.run(JSON.stringify(identityOf(JSON.parse(entry.body) as KubeObject)), entry.revision);
    })();
  }

  async currentRevision(): Promise<number> {
    return this.head;
  }

  async compactedRevision(): Promise<number> {
    return this.compactedRev;
  }

  async compact(revision: number): Promise<void> {
    this.compactTo(revision);
  }

  private compactTo(revision: number): void {
    const target = Math.min(revision, this.head);
    if (target <= this.compactedRev || this.closed) return;
    this.db.transaction(() => {
      this.stmt.keepPrev.run(target, target);
      this.stmt.compact.run(target);
      this.stmt.setMeta.run('compacted', target);
    })();
    this.compactedRev = target;
  }

  /** Trims entries more than `revisions` behind the head or older than `ms`. */
  private compactByWindow(): void {
    const byCount = this.head - this.window.revisions;
    const byTime = (this.stmt.revisionAt.get(Date.now() - this.window.ms) as { r: number | null }).r ?? 0;
    const target = Math.max(byCount, byTime);
    if (target > this.compactedRev) this.compactTo(target);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pending.length) this.flush();
    this.closed = true;
    if (this.compactTimer) clearInterval(this.compactTimer);
    this.db.close();
  }
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}

/**
 * The SQLite driver's file (see sqlite.ts for the layout): opening it with the durability
 * settings, its tables and the upgrade of files written before `prev_rev`, every statement the
 * driver runs, and a log row read back as a change event. Apart from the driver so that the
 * driver holds only what a write, a list and a watch do, and the SQL reads as one schema.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import type { KubeObject } from './object.js';
import type { ChangeEvent, ChangeType } from './types.js';

export const TYPE_CODE: Record<ChangeType, number> = { ADDED: 0, MODIFIED: 1, DELETED: 2 };
export const CODE_TYPE: ChangeType[] = ['ADDED', 'MODIFIED', 'DELETED'];

/** A log entry as `readLogAll` / `readLogFor` return it, its previous state resolved. */
export interface LogRow {
  revision: number;
  resource: string;
  type: number;
  body: string;
  prev: string | null;
}

/**
 * Opens (or creates) the file; a write is acknowledged only once it is on disk. The file is its
 * owner's alone (0600): it holds Secrets. SQLite gives the WAL and shared-memory files the mode
 * of the database file; files left by an older version are narrowed too.
 */
export function openDatabase(path: string): Database.Database {
  if (path !== ':memory:') {
    closeSync(openSync(path, 'a', 0o600));
    for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = OFF');
  // What a write frees is zeroed where that costs no extra I/O: a deleted Secret's bytes do not
  // linger in the file's free space.
  db.pragma('secure_delete = FAST');
  db.exec(`
    CREATE TABLE IF NOT EXISTS objects (
      resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
      revision INTEGER NOT NULL, body TEXT NOT NULL,
      PRIMARY KEY (resource, namespace, name)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS log (
      revision INTEGER PRIMARY KEY, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
      type INTEGER NOT NULL, body TEXT NOT NULL, prev TEXT, at INTEGER NOT NULL, prev_rev INTEGER
    );
    CREATE INDEX IF NOT EXISTS log_by_resource ON log (resource, revision);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
  `);
  // Files from before prev_rev existed keep working: their entries carry `prev` itself.
  const columns = db.prepare('PRAGMA table_info(log)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'prev_rev')) db.exec('ALTER TABLE log ADD COLUMN prev_rev INTEGER');
  return db;
}

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
  return {
    loadResource: db.prepare('SELECT body FROM objects WHERE resource = ?').pluck(),
    insert: db.prepare('INSERT INTO objects (resource, namespace, name, revision, body) VALUES (?, ?, ?, ?, ?)'),
    update: db.prepare('UPDATE objects SET revision = ?, body = ? WHERE resource = ? AND namespace = ? AND name = ?'),
    remove: db.prepare('DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?'),
    log: db.prepare('INSERT INTO log (revision, resource, namespace, name, type, body, prev, at, prev_rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    readLogAll: db.prepare(
      'SELECT revision, resource, type, body, COALESCE(prev, (SELECT p.body FROM log AS p WHERE p.revision = log.prev_rev)) AS prev FROM log WHERE revision > ? AND revision <= ? ORDER BY revision LIMIT ?',
    ),
    readLogFor: db.prepare(
      'SELECT revision, resource, type, body, COALESCE(prev, (SELECT p.body FROM log AS p WHERE p.revision = log.prev_rev)) AS prev FROM log WHERE resource = ? AND revision > ? AND revision <= ? ORDER BY revision LIMIT ?',
    ),
    logAfter: db.prepare(
      'SELECT namespace, name, revision, type, COALESCE(prev, (SELECT p.body FROM log AS p WHERE p.revision = log.prev_rev)) AS prev FROM log WHERE resource = ? AND revision > ? ORDER BY revision',
    ),
    // Before entries go, the ones that stay and point at them take their previous state along.
    keepPrev: db.prepare(
      'UPDATE log SET prev = (SELECT p.body FROM log AS p WHERE p.revision = log.prev_rev), prev_rev = NULL WHERE revision > ? AND prev_rev <= ?',
    ),
    compact: db.prepare('DELETE FROM log WHERE revision <= ?'),
    historyOf: db.prepare('SELECT revision, body, prev FROM log WHERE resource = ? AND revision > ? ORDER BY revision LIMIT ?'),
    rewriteEntry: db.prepare('UPDATE log SET body = COALESCE(?, body), prev = COALESCE(?, prev) WHERE revision = ?'),
    entriesOf: db.prepare('SELECT revision, body FROM log WHERE resource = ? AND namespace = ? AND name = ? AND revision <= ?'),
    forgetEntry: db.prepare('UPDATE log SET body = ?, prev = NULL, prev_rev = NULL WHERE revision = ?'),
    revisionAt: db.prepare('SELECT MAX(revision) AS r FROM log WHERE at <= ?'),
  };
}

export function logRowToEvent(r: LogRow): ChangeEvent {
  return {
    type: CODE_TYPE[r.type],
    resource: r.resource,
    revision: r.revision,
    object: JSON.parse(r.body) as KubeObject,
    prevObject: r.prev === null ? undefined : (JSON.parse(r.prev) as KubeObject),
  };
}

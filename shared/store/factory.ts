/**
 * The one place that chooses a `Store` driver, from a URL:
 *   sqlite:///abs/path/skiff.db   sqlite://relative/path.db   sqlite::memory:
 *   dynamodb://<table>?endpoint=http://127.0.0.1:8000&region=us-east-1
 * Nothing else in the code base branches on the driver.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Store } from './types.js';

export interface StoreFactoryOptions {
  /** Passed to the driver: history kept for watches. */
  historyWindow?: { revisions?: number; ms?: number };
  compactIntervalMs?: number;
}

export async function createStore(url: string, options: StoreFactoryOptions = {}): Promise<Store> {
  if (url === 'sqlite::memory:' || url.startsWith('sqlite://')) {
    // Named through a variable so that a bundler leaves it out: the AWS functions' bundles carry
    // the DynamoDB driver and no native SQLite.
    const driver = './sqlite.js';
    const { openSqliteStore } = (await import(driver)) as typeof import('./sqlite.js');
    if (url === 'sqlite::memory:') return openSqliteStore({ path: ':memory:', ...options });
    const rest = url.slice('sqlite://'.length);
    const path = resolve(rest);
    // The folder holds the cluster's state, Secrets among it: its owner's alone.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return openSqliteStore({ path, ...options });
  }
  if (url.startsWith('dynamodb://')) {
    const parsed = new URL(url);
    const { openDynamoStore } = await import('./dynamodb.js');
    return openDynamoStore({
      tableName: parsed.hostname || parsed.pathname.replace(/^\/+/, ''),
      endpoint: parsed.searchParams.get('endpoint') ?? undefined,
      region: parsed.searchParams.get('region') ?? undefined,
      createTable: parsed.searchParams.get('createTable') !== 'false',
      ...options,
    });
  }
  throw new Error(`unknown store URL "${url}": use sqlite:///path/to/file.db, sqlite::memory: or dynamodb://table?endpoint=...`);
}

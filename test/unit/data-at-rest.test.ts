/**
 * The embedded store's files are their owner's alone: the data folder 0700, the database and
 * the WAL and shared-memory files SQLite makes beside it 0600, also when an older version left
 * them readable by others.
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore } from '../../shared/store/factory.js';

const root = mkdtempSync(join(tmpdir(), 'skiff-rest-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

describe('data at rest', () => {
  it('a new store: folder 0700, database, WAL and shm 0600', async () => {
    const dir = join(root, 'new', 'data');
    const store = await createStore(`sqlite://${join(dir, 'skiff.db')}`);
    await store.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'default' }, data: { k: 'dmFsdWU=' } });
    try {
      expect(mode(dir).toString(8)).toBe('700');
      for (const file of ['skiff.db', 'skiff.db-wal', 'skiff.db-shm']) expect(mode(join(dir, file)).toString(8), file).toBe('600');
    } finally {
      await store.close();
    }
  });

  it('files an older version left readable are narrowed when opened', async () => {
    const dir = join(root, 'old');
    const first = await createStore(`sqlite://${join(dir, 'skiff.db')}`);
    await first.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } });
    await first.close();
    chmodSync(join(dir, 'skiff.db'), 0o644);
    writeFileSync(join(dir, 'skiff.db-wal'), '', { mode: 0o644 });
    chmodSync(join(dir, 'skiff.db-wal'), 0o644);
    const again = await createStore(`sqlite://${join(dir, 'skiff.db')}`);
    try {
      expect((await again.get('configmaps', 'default', 'c')).metadata.name).toBe('c');
      expect(mode(join(dir, 'skiff.db')).toString(8)).toBe('600');
      expect(mode(join(dir, 'skiff.db-wal')).toString(8)).toBe('600');
    } finally {
      await again.close();
    }
  });
});

/**
 * What only the SQLite driver promises: a kill -9 loses no acknowledged write, and a store
 * reopened from its file has its objects and its revision.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { ChangeEvent } from '../../shared/store/types.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-sqlite-durability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sqlite durability', () => {
  it('loses no acknowledged write when the writer is killed with SIGKILL, and revisions have no hole or repeat', async () => {
    const path = join(dir, 'killed.db');
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../support/sqlite-writer.ts'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const check = setInterval(() => {
        // Kill once the writer has acknowledged a good number of writes (or after a while).
        const acks = out.split('\n').filter((l) => l.startsWith('ack ')).length;
        if (acks >= 2000 || (acks > 0 && Date.now() - started > 8000)) {
          clearInterval(check);
          child.kill('SIGKILL');
          resolve();
        } else if (Date.now() - started > 30_000) {
          clearInterval(check);
          child.kill('SIGKILL');
          reject(new Error(`writer made no progress: ${out.slice(0, 500)}`));
        }
      }, 20);
    });
    await new Promise((r) => child.once('exit', r));

    const acked = new Map<string, number>();
    for (const line of out.split('\n')) {
      const [kind, name, rv] = line.split(' ');
      if ((kind === 'ack' || kind === 'upd') && rv) acked.set(name, Math.max(acked.get(name) ?? 0, Number(rv)));
    }
    expect(acked.size).toBeGreaterThan(100);

    const store = openSqliteStore({ path });
    try {
      const { items, revision } = await store.list('configmaps');
      const stored = new Map(items.map((i) => [i.metadata.name!, Number(i.metadata.resourceVersion)]));
      for (const [name, rv] of acked) {
        expect(stored.has(name), `acknowledged ${name} is missing`).toBe(true);
        expect(stored.get(name)!).toBeGreaterThanOrEqual(rv);
      }
      // The log holds every revision from 1 to the head exactly once.
      const revisions: number[] = [];
      const abort = new AbortController();
      const watch = store.watch('configmaps', { fromRevision: 0, signal: abort.signal });
      while (revisions.length < revision) {
        const step = await watch.next();
        revisions.push((step.value as ChangeEvent).revision);
      }
      abort.abort();
      expect(revisions).toEqual(Array.from({ length: revision }, (_, i) => i + 1));
      // And the store goes on from there.
      const next = await store.create('configmaps', { metadata: { name: 'after-restart', namespace: 'default' } });
      expect(Number(next.metadata.resourceVersion)).toBe(revision + 1);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a reopened store has its objects, its revision and its compacted revision', async () => {
    const path = join(dir, 'reopen.db');
    const first = openSqliteStore({ path });
    for (let i = 0; i < 5; i++) await first.create('pods', { metadata: { name: `p${i}`, namespace: 'default' } });
    const deleted = await first.delete('pods', 'default', 'p0');
    await first.compact(2);
    await first.close();

    const second = openSqliteStore({ path });
    try {
      expect(await second.currentRevision()).toBe(Number(deleted.object.metadata.resourceVersion));
      expect(await second.compactedRevision()).toBe(2);
      expect((await second.list('pods')).items.map((p) => p.metadata.name)).toEqual(['p1', 'p2', 'p3', 'p4']);
      await expect(second.watch('pods', { fromRevision: 1 }).next()).rejects.toMatchObject({ code: 'Gone' });
    } finally {
      await second.close();
    }
  });

  it('the head revision survives even when the whole log was compacted', async () => {
    const path = join(dir, 'compacted.db');
    const first = openSqliteStore({ path });
    for (let i = 0; i < 3; i++) await first.create('pods', { metadata: { name: `p${i}`, namespace: 'default' } });
    await first.compact(3);
    await first.close();
    const second = openSqliteStore({ path });
    try {
      const next = await second.create('pods', { metadata: { name: 'p3', namespace: 'default' } });
      expect(next.metadata.resourceVersion).toBe('4');
    } finally {
      await second.close();
    }
  });
});

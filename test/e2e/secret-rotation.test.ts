/**
 * A key rotation killed halfway loses nothing: `skiff up` with a thousand Secrets, `skiff keys
 * rotate`, SIGKILL while the background re-encryption is partway through, then a restart on the
 * same data directory finishes the rotation: every Secret reads back as written, all are
 * sealed under the new key, the old key is gone, and no value is in the database's files.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startSkiffUp } from '../support/skiff-up.js';
import { until } from '../support/until.js';

const root = mkdtempSync(join(tmpdir(), 'skiff-rotate-'));
const dataDir = join(root, 'data');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const COUNT = 1000;
const value = (i: number) => `rotation-secret-value-${i}-${'x'.repeat(i % 7)}`;

/** How the Secrets are sealed in the file right now, by key id, read as another process would. */
function sealedByKey(): Record<string, number> {
  const db = new Database(join(dataDir, 'skiff.db'), { readonly: true, fileMustExist: true });
  try {
    const counts: Record<string, number> = {};
    for (const body of db.prepare("SELECT body FROM objects WHERE resource = 'secrets'").pluck().iterate() as Iterable<string>) {
      const key = (JSON.parse(body) as { sealed?: { key: string } }).sealed?.key ?? 'plain';
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  } finally {
    db.close();
  }
}

function skiff(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/skiff.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('Secrets at rest across a rotation killed halfway', () => {
  it('kill -9 during re-encryption loses nothing; the restart finishes the rotation', async () => {
    const first = await startSkiffUp(dataDir, ['--nodes', '0']);
    let killed = false;
    try {
      expect(first.output()).toMatch(/Secrets sealed under key-1/);
      const manifests = Array.from({ length: COUNT }, (_, i) =>
        JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `s-${i}`, namespace: 'default' }, stringData: { value: value(i) } }),
      );
      const created = await first.kubectl(['create', '-f', '-', '-o', 'name'], { input: manifests.map((m) => `---\n${m}\n`).join('') });
      expect(created.code, created.stderr).toBe(0);
      expect(sealedByKey()).toEqual({ 'key-1': COUNT });

      const rotated = await skiff(['keys', 'rotate', '--data-dir', dataDir]);
      expect(rotated.out).toMatch(/key-2 is now current/);
      // Kill the server once the re-encryption is partway: some Secrets under each key.
      const partway = await until(
        'the re-encryption to be partway',
        async () => {
          const counts = sealedByKey();
          return (counts['key-2'] ?? 0) > 0 && (counts['key-1'] ?? 0) > 0 ? counts : undefined;
        },
        60_000,
        5,
      );
      first.child.kill('SIGKILL');
      killed = true;
      await first.stop();
      expect(partway['key-1'] + partway['key-2']).toBe(COUNT);
    } finally {
      if (!killed) await first.stop();
    }

    const { keys } = JSON.parse(readFileSync(join(dataDir, 'encryption-keys.json'), 'utf8')) as { keys: { id: string }[] };
    expect(keys.map((k) => k.id)).toEqual(['key-1', 'key-2']);

    const second = await startSkiffUp(dataDir, ['--nodes', '0']);
    try {
      await eventually('the rotation to finish after the restart', async () => /dropped key-1/.test(second.output()), 60_000);
      expect(sealedByKey()).toEqual({ 'key-2': COUNT });
      const listed = await second.kubectl(['get', 'secrets', '-o', 'json']);
      expect(listed.code, listed.stderr).toBe(0);
      const items = (JSON.parse(listed.stdout) as { items: { metadata: { name: string }; data: { value: string } }[] }).items;
      const byName = new Map(items.map((s) => [s.metadata.name, Buffer.from(s.data.value, 'base64').toString()]));
      for (let i = 0; i < COUNT; i++) expect(byName.get(`s-${i}`), `s-${i}`).toBe(value(i));
      const after = JSON.parse(readFileSync(join(dataDir, 'encryption-keys.json'), 'utf8')) as { current: string; keys: { id: string }[] };
      expect(after.keys.map((k) => k.id)).toEqual(['key-2']);
      const files = ['skiff.db', 'skiff.db-wal'].map((f) => join(dataDir, f)).filter(existsSync);
      const bytes = files.map((f) => readFileSync(f).toString('latin1')).join('');
      for (const i of [0, 1, 500, COUNT - 1]) {
        expect(bytes).not.toContain(value(i));
        expect(bytes).not.toContain(Buffer.from(value(i)).toString('base64'));
      }
    } finally {
      await second.stop();
    }
    // A thousand Secrets, two starts, a rotation and its finish: longer than a unit test on a loaded machine.
  }, 240_000);
});

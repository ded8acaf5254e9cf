/**
 * Secrets encrypted at rest (shared/encryption): the SQLite file, its WAL and its change log
 * hold only ciphertext; readers get the Secret back whole; a deleted Secret's history goes at
 * once; Secrets written before encryption was on are sealed, history included; a key rotation
 * seals everything again and drops the old key.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalKeyring, rotateKeyFile } from '../../shared/encryption/keyring.js';
import { reencryptPass, startReencryption } from '../../shared/encryption/reencrypt.js';
import { SealedStore } from '../../shared/encryption/sealed-store.js';
import { sealedOf } from '../../shared/encryption/sealer.js';
import { createStore } from '../../shared/store/factory.js';
import type { ChangeEvent, KubeObject, Store } from '../../shared/store/types.js';

const root = mkdtempSync(join(tmpdir(), 'skiff-seal-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const b64 = (text: string) => Buffer.from(text).toString('base64');
const secret = (name: string, value: string, extra: Partial<KubeObject> = {}): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default', labels: { app: 'web' } },
    type: 'Opaque',
    data: { password: b64(value) },
    ...extra,
  }) as KubeObject;
const dataOf = (object: KubeObject) => (object as { data?: Record<string, string> }).data;

/** Every byte of the database's files, as text: what a local user could grep. */
function fileBytes(dir: string): string {
  return ['skiff.db', 'skiff.db-wal']
    .map((f) => join(dir, f))
    .filter(existsSync)
    .map((f) => readFileSync(f).toString('latin1'))
    .join('');
}

async function open(name: string) {
  const dir = join(root, name);
  const inner = await createStore(`sqlite://${join(dir, 'skiff.db')}`);
  const keyring = new LocalKeyring(join(dir, 'encryption-keys.json'));
  return { dir, inner, keyring, store: new SealedStore(inner, keyring) };
}

async function history(store: Store, resource: string): Promise<ChangeEvent[]> {
  const events: ChangeEvent[] = [];
  const ac = new AbortController();
  // The first bookmark comes once the watch has caught up.
  for await (const event of store.watch(resource, { fromRevision: 0, signal: ac.signal, bookmarkIntervalMs: 1 })) {
    if (event.type === 'BOOKMARK') break;
    events.push(event);
  }
  ac.abort();
  return events;
}

describe('Secrets sealed at rest', () => {
  it('the file holds ciphertext; get, list, watch and subscribe give the Secret back; other kinds pass through', async () => {
    const { dir, inner, store } = await open('basic');
    try {
      const seen: KubeObject[] = [];
      const sub = store.subscribe((events) => {
        for (const e of events) if (e.resource === 'secrets') seen.push(e.object);
      });
      const created = await store.create('secrets', secret('db', 'hunter2-very-secret'));
      await store.create('configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'c', namespace: 'default' },
        data: { plain: 'visible-value' },
      } as KubeObject);
      expect(dataOf(created)).toEqual({ password: b64('hunter2-very-secret') });
      const raw = await inner.get('secrets', 'default', 'db');
      expect(dataOf(raw)).toBeUndefined();
      expect(sealedOf(raw)?.key).toBe('key-1');
      expect(raw.metadata.labels).toEqual({ app: 'web' });
      expect(dataOf(await store.get('secrets', 'default', 'db'))).toEqual({ password: b64('hunter2-very-secret') });
      const listed = await store.list('secrets', { labelSelector: 'app=web', fieldSelector: 'type=Opaque' });
      expect(listed.items.map(dataOf)).toEqual([{ password: b64('hunter2-very-secret') }]);
      expect((await history(store, 'secrets')).map((e) => dataOf(e.object))).toEqual([{ password: b64('hunter2-very-secret') }]);
      await new Promise((r) => setTimeout(r, 50));
      expect(seen.map(dataOf)).toEqual([{ password: b64('hunter2-very-secret') }]);
      sub.close();
      const bytes = fileBytes(dir);
      expect(bytes).toContain('visible-value');
      expect(bytes).not.toContain(b64('hunter2-very-secret'));
      expect(bytes).not.toContain('hunter2-very-secret');
    } finally {
      await store.close();
    }
  });

  it('an update that changes nothing stays a no-op; one that changes the data seals it anew', async () => {
    const { store } = await open('noop');
    try {
      const created = await store.create('secrets', secret('s', 'one'));
      const same = await store.update('secrets', created);
      expect(same.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
      const changed = await store.update('secrets', { ...same, data: { password: b64('two') } } as KubeObject);
      expect(Number(changed.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
      expect(dataOf(await store.get('secrets', 'default', 's'))).toEqual({ password: b64('two') });
      const named = await store.create('secrets', { ...secret('', 'generated'), metadata: { namespace: 'default', generateName: 'tok-' } });
      expect(named.metadata.name).toMatch(/^tok-[a-z0-9]{5}$/);
      expect(dataOf(await store.get('secrets', 'default', named.metadata.name!))).toEqual({ password: b64('generated') });
    } finally {
      await store.close();
    }
  });

  it('a sealed value copied into another Secret does not open there', async () => {
    const { inner, store } = await open('moved');
    try {
      await store.create('secrets', secret('a', 'only-for-a'));
      await store.create('secrets', secret('b', 'for-b'));
      const a = await inner.get('secrets', 'default', 'a');
      const b = await inner.get('secrets', 'default', 'b');
      await inner.update('secrets', { ...b, sealed: sealedOf(a) } as KubeObject);
      await expect(store.get('secrets', 'default', 'b')).rejects.toThrow(/authenticate/);
      expect(dataOf(await store.get('secrets', 'default', 'a'))).toEqual({ password: b64('only-for-a') });
    } finally {
      await store.close();
    }
  });

  it("a deleted Secret's history is emptied at once: a watch from the start sees it come and go, without data", async () => {
    const { store } = await open('forget');
    try {
      const kept = await store.create('secrets', secret('kept', 'stays'));
      const s = await store.create('secrets', secret('gone', 'v1'));
      const v2 = await store.update('secrets', { ...s, data: { password: b64('v2') } } as KubeObject);
      await store.update('secrets', { ...v2, data: { password: b64('v3') } } as KubeObject);
      await store.delete('secrets', 'default', 'gone');
      const events = await history(store, 'secrets');
      expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED kept', 'ADDED gone', 'MODIFIED gone', 'MODIFIED gone', 'DELETED gone']);
      for (const e of events.slice(1)) {
        expect(dataOf(e.object)).toBeUndefined();
        expect(e.prevObject).toBeUndefined();
        expect(e.object.metadata.uid).toBe(s.metadata.uid);
      }
      expect(dataOf(events[0].object)).toEqual(dataOf(kept));
    } finally {
      await store.close();
    }
  });

  it('Secrets written before encryption was on are sealed, their history too', async () => {
    const dir = join(root, 'upgrade');
    const plain = await createStore(`sqlite://${join(dir, 'skiff.db')}`);
    const first = await plain.create('secrets', secret('old', 'plaintext-from-before'));
    await plain.update('secrets', { ...first, data: { password: b64('plaintext-then-changed') } } as KubeObject);
    await plain.close();
    expect(fileBytes(dir)).toContain(b64('plaintext-from-before'));
    const { inner, store } = await open('upgrade');
    try {
      expect(dataOf(await store.get('secrets', 'default', 'old'))).toEqual({ password: b64('plaintext-then-changed') });
      const pass = await reencryptPass(store);
      expect(pass.objects).toBe(1);
      expect(pass.history).toBeGreaterThanOrEqual(2);
      expect(sealedOf(await inner.get('secrets', 'default', 'old'))?.key).toBe('key-1');
      expect((await history(store, 'secrets')).map((e) => dataOf(e.object)?.password)).toEqual([
        b64('plaintext-from-before'),
        b64('plaintext-then-changed'),
        b64('plaintext-then-changed'),
      ]);
      expect(await reencryptPass(store)).toEqual({ objects: 0, history: 0 });
      const bytes = fileBytes(dir);
      expect(bytes).not.toContain(b64('plaintext-from-before'));
      expect(bytes).not.toContain(b64('plaintext-then-changed'));
    } finally {
      await store.close();
    }
  });

  it('a rotation seals every Secret and its history under the new key, then drops the old key', async () => {
    const { dir, inner, keyring, store } = await open('rotate');
    const running = startReencryption(store, { intervalMs: 50 });
    try {
      for (let i = 0; i < 20; i++) await store.create('secrets', secret(`s${i}`, `value-${i}`));
      const s0 = await store.get('secrets', 'default', 's0');
      await store.update('secrets', { ...s0, data: { password: b64('value-0b') } } as KubeObject);
      expect(rotateKeyFile(join(dir, 'encryption-keys.json'))).toBe('key-2');
      const keyIds = () => JSON.parse(readFileSync(join(dir, 'encryption-keys.json'), 'utf8')).keys.map((k: { id: string }) => k.id);
      await expect.poll(keyIds, { timeout: 10_000 }).toEqual(['key-2']);
      await running.idle();
      expect(keyring.currentKeyId()).toBe('key-2');
      const raw = (await inner.list('secrets')).items;
      expect(raw.map((o) => sealedOf(o)?.key)).toEqual(Array(20).fill('key-2'));
      const events = await history(inner, 'secrets');
      expect(events.every((e) => sealedOf(e.object)?.key === 'key-2' && (!e.prevObject || sealedOf(e.prevObject)?.key === 'key-2'))).toBe(true);
      const opened = await history(store, 'secrets');
      expect(opened[0].object.metadata.name).toBe('s0');
      expect(dataOf(opened[0].object)).toEqual({ password: b64('value-0') });
      expect(dataOf(await store.get('secrets', 'default', 's0'))).toEqual({ password: b64('value-0b') });
    } finally {
      await running.stop();
      await store.close();
    }
  });

  it('a key that is gone from the keyring fails the read clearly, and the stored Secret is untouched', async () => {
    const { dir, inner, store } = await open('lost');
    try {
      await store.create('secrets', secret('s', 'v'));
      const other = new SealedStore(inner, new LocalKeyring(join(dir, 'other-keys.json')));
      const before = await inner.get('secrets', 'default', 's');
      // Both files name their first key key-1: the wrapped data key does not open under another key-1.
      await expect(other.get('secrets', 'default', 's')).rejects.toThrow(/authenticate/);
      expect(await inner.get('secrets', 'default', 's')).toEqual(before);
    } finally {
      await store.close();
    }
  });
});

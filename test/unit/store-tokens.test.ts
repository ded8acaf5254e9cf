import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreTokens } from '../../shared/auth/store-tokens.js';
import { tokenId } from '../../shared/auth/tokens.js';
import { token as tokenCommand } from '../../cli/token.js';
import { createStore } from '../../shared/store/factory.js';
import type { Store } from '../../shared/store/types.js';

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-store-tokens-'));
  store = await createStore(`sqlite://${join(dir, 'skiff.db')}`);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('static tokens kept in the store', () => {
  it('keeps only hashes, and a token made by one instance works at once on another', async () => {
    const cli = new StoreTokens(store);
    const api = new StoreTokens(store);
    expect(await api.authenticate('nothing-yet')).toBeUndefined();
    const { token, record } = await cli.issue('alice', ['devs'], { description: 'laptop' });
    expect(JSON.stringify(await store.get('statictokens', '', 'tokens'))).not.toContain(token);
    // The API instance read a moment ago; an unknown token makes it look again, in a read begun
    // after the request arrived, so the new token works on its first use.
    const began = Date.now();
    expect(await api.authenticate(token)).toEqual({ name: 'alice', groups: ['devs'] });
    expect(Date.now() - began).toBeLessThan(1500);
    // A wrong token is looked up too, and is no one's.
    expect(await api.authenticate('not-a-token')).toBeUndefined();
    expect((await api.list()).map(tokenId)).toEqual([tokenId(record)]);
  });

  it('stops a revoked token on every instance within the refresh interval', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const cli = new StoreTokens(store, { now: clock });
    const api = new StoreTokens(store, { now: clock, refreshMs: 5000 });
    const { token, record } = await cli.issue('bob', ['ops'], {});
    expect(await api.authenticate(token)).toEqual({ name: 'bob', groups: ['ops'] });
    expect(await cli.revoke(tokenId(record))).toBe(true);
    now += 4000;
    expect(await api.authenticate(token)).toBeDefined(); // its copy is still fresh
    now += 1000;
    expect(await api.authenticate(token)).toBeUndefined();
    expect(await cli.revoke(tokenId(record))).toBe(false);
  });

  it('keeps the tokens two writers make at the same time, and honours expiry and replace', async () => {
    let now = Date.now();
    const clock = () => now;
    const a = new StoreTokens(store, { now: clock });
    const b = new StoreTokens(store, { now: clock });
    const [x, y] = await Promise.all([a.issue('carol', [], { ttlSeconds: 60 }), b.issue('dave', [], {})]);
    const ids = (await a.list()).map(tokenId);
    expect(ids).toEqual(expect.arrayContaining([tokenId(x.record), tokenId(y.record)]));
    now += 61_000;
    expect(await a.authenticate(x.token)).toBeUndefined();
    const again = await a.issue('dave', [], { replace: true });
    expect((await a.list()).filter((r) => r.user === 'dave').map(tokenId)).toEqual([tokenId(again.record)]);
  });

  it('skiff token --store makes, lists and revokes them in the store', async () => {
    // A store file of its own: the command opens it as another process would.
    const url = `sqlite://${join(dir, 'cli.db')}`;
    const lines: string[] = [];
    expect(await tokenCommand(['create', '--user', 'release-bot', '--group', 'ci', '--store', url], (l) => lines.push(l))).toBe(0);
    const listed: string[] = [];
    await tokenCommand(['list', '--store', url], (l) => listed.push(l));
    expect(listed[1]).toMatch(/^[0-9a-f]{12}\s+release-bot\s+ci\s/);
    const reader = await createStore(url);
    try {
      expect(await new StoreTokens(reader).authenticate(lines[0])).toEqual({ name: 'release-bot', groups: ['ci'] });
    } finally {
      await reader.close();
    }
    await tokenCommand(['revoke', listed[1].slice(0, 12), '--store', url], () => undefined);
    const after: string[] = [];
    await tokenCommand(['list', '--store', url], (l) => after.push(l));
    expect(after).toHaveLength(1);
  });
});

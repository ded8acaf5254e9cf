/**
 * The service account issuer's keys: made once, rotated when due (a start that finds them not due
 * writes nothing), old keys kept while a token they signed may live, then dropped.
 */
import { describe, expect, it } from 'vitest';
import { ServiceAccountTokens, SIGNING_KEYS_RESOURCE } from '../../shared/auth/service-account-tokens.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';

const DAY = 24 * 3600_000;

describe('service account signing keys', () => {
  it('are made once, rotated when due, and retired keys verify until no token of theirs can live', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    let now = Date.parse('2026-11-01T00:00:00Z');
    const issuer = () => new ServiceAccountTokens(store, { now: () => now, rotateAfterMs: 7 * DAY, maxExpirationSeconds: DAY / 1000 });
    const account = await store.create('serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ci', namespace: 'default' } });
    const claims = {
      namespace: 'default',
      serviceAccount: { name: 'ci', uid: account.metadata.uid! },
      audiences: ['https://kubernetes.default.svc.cluster.local'],
      expirationSeconds: 3600,
    };
    const kids = async () =>
      ((await store.get(SIGNING_KEYS_RESOURCE, '', 'service-account-issuer')) as unknown as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    try {
      const first = issuer();
      await first.rotate();
      const [k1] = await kids();
      const revision = await store.currentRevision();
      now += DAY;
      await issuer().rotate();
      expect(await store.currentRevision()).toBe(revision); // not due: nothing written
      now += 7 * DAY;
      // Signed by the first key just before it retires.
      const old = (await first.issue(claims)).token;
      expect(JSON.parse(Buffer.from(old.split('.')[0], 'base64url').toString()).kid).toBe(k1);
      const second = issuer();
      await second.rotate();
      expect(await kids()).toHaveLength(2);
      expect((await kids())[0]).toBe(k1);
      // The new key signs; a token of the old one still works while it may live.
      const fresh = (await second.issue(claims)).token;
      expect(JSON.parse(Buffer.from(fresh.split('.')[0], 'base64url').toString()).kid).not.toBe(k1);
      expect((await second.authenticate(fresh))?.name).toBe('system:serviceaccount:default:ci');
      expect((await second.jwks()).keys.map((k) => k.kid)).toContain(k1);
      expect((await second.authenticate(old))?.name).toBe('system:serviceaccount:default:ci');
      // Past another rotation and the longest lifetime, the first key is gone.
      now += 8 * DAY;
      await issuer().rotate();
      expect(await kids()).not.toContain(k1);
      expect(await issuer().authenticate(old)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

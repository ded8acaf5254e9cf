/**
 * The service account issuer's keys: made once, rotated when due (a start that finds them not due
 * writes nothing), old keys kept while a token they signed may live, then dropped. A pod's
 * default-length token is extended to a year, as kube-apiserver extends it, and dies with its pod.
 */
import { describe, expect, it } from 'vitest';
import { EXTENDED_SECONDS, ServiceAccountTokens, SIGNING_KEYS_RESOURCE } from '../../shared/auth/service-account-tokens.js';
import { requestToken } from '../../shared/auth/token-request.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';

const DAY = 24 * 3600_000;

describe('service account signing keys', () => {
  it('are made once, rotated when due, and retired keys verify until no token of theirs can live', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    let now = Date.parse('2026-11-01T00:00:00Z');
    const issuer = () => new ServiceAccountTokens(store, { now: () => now, rotateAfterMs: 7 * DAY, maxExpirationSeconds: DAY / 1000, extendExpiration: false });
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

  it('extend a pod’s default-length token to a year with warnafter at the length asked for, and end it with the pod', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    let now = Date.parse('2026-11-01T00:00:00Z');
    const tokens = new ServiceAccountTokens(store, { now: () => now, rotateAfterMs: 7 * DAY });
    const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    try {
      await tokens.rotate();
      await store.create('serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } });
      await store.create('pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: 'default' },
        spec: { containers: [{ name: 'c', image: 'i' }] },
      });
      const ask = async (expirationSeconds: number, bound: boolean) =>
        (await requestToken(store, tokens, 'default', 'default', {
          spec: { expirationSeconds, ...(bound ? { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web' } } : {}) },
        })) as unknown as { spec: { expirationSeconds: number }; status: { token: string; expirationTimestamp: string } };
      const extended = await ask(3607, true);
      const c = claims(extended.status.token);
      expect(c.exp - c.iat).toBe(EXTENDED_SECONDS);
      expect(c['kubernetes.io'].warnafter - c.iat).toBe(3607);
      // The answer says when to replace it, as for any token of that length.
      expect(extended.spec.expirationSeconds).toBe(3607);
      expect(extended.status.expirationTimestamp).toBe('2026-11-01T01:00:07Z');
      // Other lengths, and tokens bound to no pod, are not extended.
      for (const [seconds, bound] of [
        [3600, true],
        [3607, false],
      ] as const) {
        const other = claims((await ask(seconds, bound)).status.token);
        expect(other.exp - other.iat).toBe(seconds);
        expect(other['kubernetes.io'].warnafter).toBeUndefined();
      }
      // A month and several key rotations later it still works: its key is kept while it may live.
      for (let week = 0; week < 5; week++) {
        now += 7 * DAY;
        await tokens.rotate();
      }
      expect((await tokens.authenticate(extended.status.token))?.name).toBe('system:serviceaccount:default:default');
      await store.delete('pods', 'default', 'web');
      expect(await tokens.authenticate(extended.status.token)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

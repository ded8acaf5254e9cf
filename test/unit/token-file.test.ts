/**
 * Static tokens: kept as hashes in a 0600 file, expiring, revocable by id, replaced when a node
 * registers again, and a revocation made by another process (`skiff token revoke`) is followed
 * by the one serving requests.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDuration, token } from '../../cli/token.js';
import { TokenFile } from '../../shared/auth/token-file.js';
import { tokenId } from '../../shared/auth/tokens.js';
import { until } from '../support/until.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('static tokens', () => {
  it('expire, are revoked by id, and only hashes are stored (0600)', () => {
    let now = Date.parse('2026-11-27T10:00:00Z');
    const file = new TokenFile(join(dir, 'a.json'), () => now);
    const { token: short, record } = file.issue('ci', ['deployers'], { ttlSeconds: 3600 });
    const { token: forever } = file.issue('ops', []);
    expect(file.auth.authenticate(short)).toEqual({ name: 'ci', groups: ['deployers'] });
    expect(record.expiresAt).toBe('2026-11-27T11:00:00.000Z');
    now += 3601_000;
    expect(file.auth.authenticate(short)).toBeUndefined();
    expect(file.auth.authenticate(forever)?.name).toBe('ops');
    const id = tokenId(file.list().find((r) => r.user === 'ops')!);
    expect(file.revoke(id.slice(0, 3))).toBe(false); // too short to name one
    expect(file.revoke(id)).toBe(true);
    expect(file.auth.authenticate(forever)).toBeUndefined();
    expect(statSync(join(dir, 'a.json')).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(file.list())).not.toContain(forever);
  });

  it('a node that registers again gets a new token and its old ones stop working', () => {
    const file = new TokenFile(join(dir, 'b.json'));
    const first = file.issue('system:node:n1', ['system:nodes'], { replace: true }).token;
    const other = file.issue('system:node:n2', ['system:nodes'], { replace: true }).token;
    const second = file.issue('system:node:n1', ['system:nodes'], { replace: true }).token;
    expect(file.auth.authenticate(first)).toBeUndefined();
    expect(file.auth.authenticate(second)?.name).toBe('system:node:n1');
    expect(file.auth.authenticate(other)?.name).toBe('system:node:n2');
    expect(file.list()).toHaveLength(2);
    expect(file.revokeUser('system:node:n2')).toBe(1);
    expect(file.auth.authenticate(other)).toBeUndefined();
  });

  it('skiff token create, list and revoke; the serving process follows the file', async () => {
    const serving = new TokenFile(join(dir, 'tokens.json'));
    serving.watch(50);
    try {
      const lines: string[] = [];
      expect(
        await token(['create', '--user', 'release-bot', '--group', 'ci', '--ttl', '2h', '--description', 'releases', '--data-dir', dir], (l) => lines.push(l)),
      ).toBe(0);
      const value = lines[0];
      await until('the new token is known', async () => serving.auth.authenticate(value)?.name === 'release-bot');
      const listed: string[] = [];
      await token(['list', '--data-dir', dir], (l) => listed.push(l));
      expect(listed[0]).toMatch(/^ID\s+USER\s+GROUPS\s+CREATED\s+EXPIRES\s+DESCRIPTION$/);
      expect(listed[1]).toMatch(/^[0-9a-f]{12}\s+release-bot\s+ci\s+\S+Z\s+\S+Z\s+releases$/);
      await token(['revoke', listed[1].slice(0, 12), '--data-dir', dir], () => undefined);
      await until('the revoked token is refused', async () => serving.auth.authenticate(value) === undefined);
      await expect(token(['create', '--user', 'system:node:x', '--data-dir', dir], () => undefined)).rejects.toThrow(/system: space/);
      await expect(token(['revoke', 'ffffffffffff', '--data-dir', dir], () => undefined)).rejects.toThrow(/no single token/);
    } finally {
      serving.close();
    }
  });

  it('durations', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('24h')).toBe(86400);
    expect(parseDuration('7d')).toBe(604800);
    expect(() => parseDuration('1w')).toThrow(/--ttl/);
  });
});

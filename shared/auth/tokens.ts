/**
 * Static bearer tokens (the admin's, the nodes', ones made with `skiff token create`), kept only
 * as SHA-256 hashes: a leaked token file grants nothing. Each maps to a user and groups, may
 * expire, and can be revoked by its id (the first 12 hex digits of its hash: enough to name
 * it, not to find it).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UserInfo } from './authorizer.js';

export interface TokenRecord {
  /** Hex SHA-256 of the token. */
  sha256: string;
  user: string;
  groups: string[];
  /** When it was made (RFC 3339); absent in files written before tokens had one. */
  createdAt?: string;
  /** After this (RFC 3339) the token is no one's. */
  expiresAt?: string;
  description?: string;
}

export const tokenId = (record: Pick<TokenRecord, 'sha256'>) => record.sha256.slice(0, 12);

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new random token: 32 bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export interface IssueOptions {
  /** The token stops working after this many seconds (default: never). */
  ttlSeconds?: number;
  description?: string;
  /** Revoke the user's other tokens first (a node that registers again gets a new one, the old ones die). */
  replace?: boolean;
}

/** A new token for `user` and the records that keep it (with `replace`, without the user's others). */
export function issueRecord(
  records: TokenRecord[],
  user: string,
  groups: string[],
  options: IssueOptions,
  at: number,
): { token: string; record: TokenRecord; records: TokenRecord[] } {
  const token = newToken();
  const record: TokenRecord = {
    sha256: hashToken(token),
    user,
    groups,
    createdAt: new Date(at).toISOString(),
    ...(options.ttlSeconds !== undefined ? { expiresAt: new Date(at + options.ttlSeconds * 1000).toISOString() } : {}),
    ...(options.description ? { description: options.description } : {}),
  };
  return { token, record, records: [...records.filter((r) => !(options.replace && r.user === user)), record] };
}

/** The records without the one token whose id starts with `id` (6 characters at least); undefined if not exactly one matches. */
export function withoutToken(records: TokenRecord[], id: string): TokenRecord[] | undefined {
  const matching = records.filter((r) => tokenId(r).startsWith(id));
  if (matching.length !== 1 || id.length < 6) return undefined;
  return records.filter((r) => r !== matching[0]);
}

const MAX_VERIFIED = 1024;

export class TokenAuthenticator {
  private byHash = new Map<string, TokenRecord>();
  /** Tokens already checked, so a client's every request does not hash again (bounded). */
  private verified = new Map<string, { record: TokenRecord; identity: UserInfo }>();

  constructor(
    records: TokenRecord[] = [],
    private readonly now: () => number = Date.now,
  ) {
    this.replace(records);
  }

  /** Takes `records` as the whole set: tokens not among them stop working at once. */
  replace(records: TokenRecord[]): void {
    this.byHash = new Map(records.map((r) => [r.sha256, r]));
    this.verified = new Map();
  }

  records(): TokenRecord[] {
    return [...this.byHash.values()];
  }

  /** The identity for a token, or undefined (unknown, or expired). Compares hashes in constant time. */
  authenticate(token: string): UserInfo | undefined {
    const known = this.verified.get(token);
    if (known && this.byHash.get(known.record.sha256) === known.record) return this.live(known.record) ? known.identity : undefined;
    const hash = hashToken(token);
    const record = this.byHash.get(hash);
    if (!record) return undefined;
    if (!timingSafeEqual(Buffer.from(record.sha256, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    if (!this.live(record)) return undefined;
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    // One identity object per token: its groups array is the same on every request (callers key caches on it).
    const identity = { name: record.user, groups: record.groups };
    this.verified.set(token, { record, identity });
    return identity;
  }

  private live(record: TokenRecord): boolean {
    return record.expiresAt === undefined || Date.parse(record.expiresAt) > this.now();
  }
}

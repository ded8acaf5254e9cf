/**
 * Bearer tokens, kept only as SHA-256 hashes: a leaked token file grants nothing. Each token
 * maps to an identity (user name and groups); `system:masters` is cluster-admin until RBAC.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface TokenRecord {
  /** Hex SHA-256 of the token. */
  sha256: string;
  user: string;
  groups: string[];
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new random token: 32 bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export class TokenAuthenticator {
  private readonly byHash = new Map<string, TokenRecord>();

  constructor(records: TokenRecord[] = []) {
    for (const r of records) this.byHash.set(r.sha256, r);
  }

  add(record: TokenRecord): void {
    this.byHash.set(record.sha256, record);
  }

  records(): TokenRecord[] {
    return [...this.byHash.values()];
  }

  /** Tokens already checked, so a client's every request does not hash again (bounded). */
  private readonly verified = new Map<string, TokenRecord>();

  /** The identity for a token, or undefined. Compares hashes in constant time. */
  authenticate(token: string): { name: string; groups: string[] } | undefined {
    const known = this.verified.get(token);
    if (known && this.byHash.get(known.sha256) === known) return { name: known.user, groups: known.groups };
    const hash = hashToken(token);
    const record = this.byHash.get(hash);
    if (!record) return undefined;
    if (!timingSafeEqual(Buffer.from(record.sha256, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    if (this.verified.size >= 1024) this.verified.clear();
    this.verified.set(token, record);
    return { name: record.user, groups: record.groups };
  }
}

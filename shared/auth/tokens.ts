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

  /** The identity for a token, or undefined. Compares hashes in constant time. */
  authenticate(token: string): { name: string; groups: string[] } | undefined {
    const hash = hashToken(token);
    const record = this.byHash.get(hash);
    if (!record) return undefined;
    if (!timingSafeEqual(Buffer.from(record.sha256, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    return { name: record.user, groups: record.groups };
  }
}

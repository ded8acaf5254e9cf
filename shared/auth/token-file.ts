/**
 * The embedded shape's static tokens in `<data-dir>/tokens.json` (0600, hashes only), shared by
 * the running API server and `skiff token`: the server watches the file, so a token the command
 * revokes stops working within a second, without a restart. Writes go to a temporary file that
 * is renamed over the old one: a reader never sees half a file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileStamp, writeFileAtomically } from '../files.js';
import { type TokenRecord, TokenAuthenticator, hashToken, newToken, tokenId } from './tokens.js';

export interface IssueOptions {
  /** The token stops working after this many seconds (default: never). */
  ttlSeconds?: number;
  description?: string;
  /** Revoke the user's other tokens first (a node that registers again gets a new one, the old ones die). */
  replace?: boolean;
}

export class TokenFile {
  readonly auth: TokenAuthenticator;
  private timer?: NodeJS.Timeout;
  /** The file as last read or written here: its mtime and size. */
  private seen = '';

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {
    this.auth = new TokenAuthenticator(this.read(), now);
  }

  /** Makes a token for `user`, stores its hash, and returns it (the only time it is seen). */
  issue(user: string, groups: string[], options: IssueOptions = {}): { token: string; record: TokenRecord } {
    this.reload();
    const token = newToken();
    const at = this.now();
    const record: TokenRecord = {
      sha256: hashToken(token),
      user,
      groups,
      createdAt: new Date(at).toISOString(),
      ...(options.ttlSeconds !== undefined ? { expiresAt: new Date(at + options.ttlSeconds * 1000).toISOString() } : {}),
      ...(options.description ? { description: options.description } : {}),
    };
    const kept = this.auth.records().filter((r) => !(options.replace && r.user === user));
    this.write([...kept, record]);
    return { token, record };
  }

  /** Revokes the token with this id (or unique id prefix); false if none matches. */
  revoke(id: string): boolean {
    this.reload();
    const matching = this.auth.records().filter((r) => tokenId(r).startsWith(id));
    if (matching.length !== 1 || id.length < 6) return false;
    this.write(this.auth.records().filter((r) => r !== matching[0]));
    return true;
  }

  /** Revokes every token of `user` (a node that is deleted); the number revoked. */
  revokeUser(user: string): number {
    this.reload();
    const kept = this.auth.records().filter((r) => r.user !== user);
    const revoked = this.auth.records().length - kept.length;
    if (revoked) this.write(kept);
    return revoked;
  }

  list(): TokenRecord[] {
    this.reload();
    return this.auth.records();
  }

  /**
   * Follows changes others make to the file (`skiff token revoke`): a look at its stat every
   * `intervalMs`. Not fs.watchFile: its baseline is its own first look, so a change made before
   * that look would never be seen; here the baseline is what this process last read or wrote.
   */
  watch(intervalMs = 250): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.reload(), intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the file again if it changed since it was last read or written here. */
  reload(): void {
    if (!existsSync(this.path)) return;
    if (fileStamp(this.path) === this.seen) return;
    this.auth.replace(this.read());
  }

  private read(): TokenRecord[] {
    if (!existsSync(this.path)) return [];
    this.seen = fileStamp(this.path);
    return JSON.parse(readFileSync(this.path, 'utf8')) as TokenRecord[];
  }

  private write(records: TokenRecord[]): void {
    writeFileAtomically(this.path, JSON.stringify(records, null, 2));
    this.seen = fileStamp(this.path);
    this.auth.replace(records);
  }
}

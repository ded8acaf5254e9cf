/**
 * The embedded shape's static tokens in `<data-dir>/tokens.json` (0600, hashes only), shared by
 * the running API server and `skiff token`: the server watches the file, so a token the command
 * revokes stops working within a second, without a restart. Writes go to a temporary file that
 * is renamed over the old one: a reader never sees half a file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileStamp, writeFileAtomically } from '../files.js';
import { type IssueOptions, type TokenRecord, TokenAuthenticator, issueRecord, withoutToken } from './tokens.js';

export type { IssueOptions } from './tokens.js';

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
    const { token, record, records } = issueRecord(this.auth.records(), user, groups, options, this.now());
    this.write(records);
    return { token, record };
  }

  /** Revokes the token with this id (or unique id prefix); false if none matches. */
  revoke(id: string): boolean {
    this.reload();
    const kept = withoutToken(this.auth.records(), id);
    if (kept) this.write(kept);
    return kept !== undefined;
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

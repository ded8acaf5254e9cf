/**
 * Static tokens kept in the store, for the AWS shape, where no file is shared: one internal
 * object (`statictokens/tokens`, hashes only, not served by the API) that `skiff token --store`
 * writes and every API function instance reads. An instance reads it again when its copy is
 * older than `refreshMs` (default 5 s), so a revoked token stops working within seconds on every
 * instance, at one read per instance per interval, not per request. A token the copy does not
 * know is looked up again in a read begun after the request arrived (reads at most one a second
 * apart, shared by the requests waiting), so a token made a moment ago by another instance (a
 * node's credential, issued as it joins) works on its first use; a wrong token waits for that
 * read and gets nothing.
 */
import { ignoreNotFound, isAlreadyExists } from '../errors.js';
import type { KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';
import type { UserInfo } from './authorizer.js';
import { type IssueOptions, type TokenRecord, TokenAuthenticator, issueRecord, withoutToken } from './tokens.js';

export const STATIC_TOKENS_RESOURCE = 'statictokens';
const NAME = 'tokens';
const EARLY_READ_MS = 1000;

interface TokenList extends KubeObject {
  records: TokenRecord[];
}

export interface StoreTokensOptions {
  refreshMs?: number;
  now?: () => number;
}

export class StoreTokens {
  readonly auth: TokenAuthenticator;
  private readonly refreshMs: number;
  private readonly now: () => number;
  /** When the copy was last read (finished), and when that read began. */
  private readAt = Number.NEGATIVE_INFINITY;
  private readBegan = Number.NEGATIVE_INFINITY;
  private reading?: Promise<void>;
  private readingBegan = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    options: StoreTokensOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 5000;
    this.now = options.now ?? Date.now;
    this.auth = new TokenAuthenticator([], this.now);
  }

  async authenticate(token: string): Promise<UserInfo | undefined> {
    const arrived = this.now();
    if (arrived - this.readAt >= this.refreshMs) await this.read();
    const known = this.auth.authenticate(token);
    // Unknown to a copy read after the request arrived: unknown.
    if (known || this.readBegan >= arrived) return known;
    const wait = this.readAt + EARLY_READ_MS - this.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await this.read(arrived);
    return this.auth.authenticate(token);
  }

  /** Makes a token for `user`, stores its hash, and returns it (the only time it is seen). */
  async issue(user: string, groups: string[], options: IssueOptions = {}): Promise<{ token: string; record: TokenRecord }> {
    let issued: { token: string; record: TokenRecord } | undefined;
    await this.change((records) => {
      const { token, record, records: next } = issueRecord(records, user, groups, options, this.now());
      issued = { token, record };
      return next;
    });
    return issued as { token: string; record: TokenRecord };
  }

  /** Revokes the token with this id (or unique id prefix of 6 characters or more); false if none matches. */
  async revoke(id: string): Promise<boolean> {
    let found = false;
    await this.change((records) => {
      const kept = withoutToken(records, id);
      found = kept !== undefined;
      return kept;
    });
    return found;
  }

  async list(): Promise<TokenRecord[]> {
    await this.read();
    return this.auth.records();
  }

  /** Reads the copy again, sharing a read under way if it began at `notBefore` or later. */
  private async read(notBefore = Number.NEGATIVE_INFINITY): Promise<void> {
    while (this.reading) {
      const began = this.readingBegan;
      await this.reading;
      if (began >= notBefore) return;
    }
    const began = this.now();
    this.readingBegan = began;
    this.reading = this.store
      .get(STATIC_TOKENS_RESOURCE, '', NAME)
      .catch(ignoreNotFound)
      .then((list) => {
        this.auth.replace((list as TokenList | undefined)?.records ?? []);
        this.readAt = this.now();
        this.readBegan = began;
      })
      .finally(() => {
        this.reading = undefined;
      });
    await this.reading;
  }

  /** Applies `mutate` to the records (retrying on conflict); `undefined` from it changes nothing. */
  private async change(mutate: (records: TokenRecord[]) => TokenRecord[] | undefined): Promise<void> {
    for (;;) {
      const exists = await this.store.get(STATIC_TOKENS_RESOURCE, '', NAME).catch(ignoreNotFound);
      if (exists) {
        await guaranteedUpdate<TokenList>(this.store, STATIC_TOKENS_RESOURCE, '', NAME, (list) => {
          const records = mutate(list.records);
          return records === undefined ? undefined : { ...list, records };
        });
        break;
      }
      const records = mutate([]);
      if (records === undefined) break;
      try {
        await this.store.create(STATIC_TOKENS_RESOURCE, { apiVersion: 'skiff.dev/v1', kind: 'StaticTokens', metadata: { name: NAME }, records } as TokenList);
        break;
      } catch (err) {
        // Made by another writer since the look: apply the change to theirs.
        if (!isAlreadyExists(err)) throw err;
      }
    }
    await this.read();
  }
}

/**
 * `skiff token create|list|revoke`: static tokens. The embedded shape keeps them in the data
 * folder the running control plane reads (it follows the file, so a revoked token stops working
 * at once); the AWS shape keeps them in its table (`--store dynamodb://<table>`), where every API
 * function instance reads them again within seconds.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { storeUrl } from '../functions/environment.js';
import { StoreTokens } from '../shared/auth/store-tokens.js';
import { TokenFile } from '../shared/auth/token-file.js';
import { type IssueOptions, type TokenRecord, tokenId } from '../shared/auth/tokens.js';
import { createStore } from '../shared/store/factory.js';

export const TOKEN_USAGE = `usage: skiff token create --user NAME [--group GROUP]... [--ttl 24h] [--description TEXT] [--data-dir ./.skiff | --store URL]
       skiff token list [--data-dir ./.skiff | --store URL]
       skiff token revoke ID [--data-dir ./.skiff | --store URL]
         (--store dynamodb://<table>?region=<region>: the AWS shape's tokens, in its table)`;

/** Where the tokens are: the data folder's file, or the store. */
interface TokenBook {
  issue(user: string, groups: string[], options: IssueOptions): { token: string } | Promise<{ token: string }>;
  list(): TokenRecord[] | Promise<TokenRecord[]>;
  revoke(id: string): boolean | Promise<boolean>;
  close(): Promise<void>;
}

export async function openBook(dataDir: string, store: string | undefined): Promise<TokenBook> {
  if (!store) {
    const file = new TokenFile(join(dataDir, 'tokens.json'));
    return { issue: (...a) => file.issue(...a), list: () => file.list(), revoke: (id) => file.revoke(id), close: async () => undefined };
  }
  const opened = await createStore(storeUrl({ SKIFF_STORE_URL: store }));
  const tokens = new StoreTokens(opened);
  return { issue: (...a) => tokens.issue(...a), list: () => tokens.list(), revoke: (id) => tokens.revoke(id), close: () => opened.close() };
}

/** `90s`, `15m`, `24h`, `7d` in seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`--ttl must be a number and a unit (s, m, h, d), like 24h; got ${text}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export async function token(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      'data-dir': { type: 'string', default: './.skiff' },
      store: { type: 'string' },
      user: { type: 'string' },
      group: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      description: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const book = await openBook(values['data-dir']!, values.store);
  try {
    return await run(book, verb, values, positionals, out);
  } finally {
    await book.close();
  }
}

async function run(
  file: TokenBook,
  verb: string | undefined,
  values: { user?: string; group?: string[]; ttl?: string; description?: string },
  positionals: string[],
  out: (line: string) => void,
): Promise<number> {
  switch (verb) {
    case 'create': {
      if (!values.user) throw new Error(`--user is required\n${TOKEN_USAGE}`);
      if (values.user.startsWith('system:')) throw new Error('users in the system: space are the cluster own (nodes, service accounts); pick another name');
      const { token: value } = await file.issue(values.user, values.group ?? [], {
        ttlSeconds: values.ttl ? parseDuration(values.ttl) : undefined,
        description: values.description,
      });
      out(value);
      return 0;
    }
    case 'list': {
      const rows = (await file.list()).map((r) => [
        tokenId(r),
        r.user,
        r.groups.join(',') || '<none>',
        r.createdAt ?? '<unknown>',
        r.expiresAt ?? '<never>',
        r.description ?? '',
      ]);
      const header = ['ID', 'USER', 'GROUPS', 'CREATED', 'EXPIRES', 'DESCRIPTION'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const row of [header, ...rows])
        out(
          row
            .map((cell, i) => cell.padEnd(widths[i]))
            .join('  ')
            .trimEnd(),
        );
      return 0;
    }
    case 'revoke': {
      const [id] = positionals;
      if (!id) throw new Error(`an ID is required (skiff token list shows them)\n${TOKEN_USAGE}`);
      if (!(await file.revoke(id))) throw new Error(`no single token has an ID starting with ${id} (at least 6 characters)`);
      out(`token ${id} revoked`);
      return 0;
    }
    default:
      throw new Error(TOKEN_USAGE);
  }
}

/**
 * `skiff token create|list|revoke`: the embedded shape's static tokens, in the data folder the
 * running control plane reads (it follows the file, so a revoked token stops working at once).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TokenFile } from '../shared/auth/token-file.js';
import { tokenId } from '../shared/auth/tokens.js';

export const TOKEN_USAGE = `usage: skiff token create --user NAME [--group GROUP]... [--ttl 24h] [--description TEXT] [--data-dir ./.skiff]
       skiff token list [--data-dir ./.skiff]
       skiff token revoke ID [--data-dir ./.skiff]`;

/** `90s`, `15m`, `24h`, `7d` in seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`--ttl must be a number and a unit (s, m, h, d), like 24h; got ${text}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export function token(argv: string[], out: (line: string) => void = console.log): number {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      'data-dir': { type: 'string', default: './.skiff' },
      user: { type: 'string' },
      group: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      description: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const file = new TokenFile(join(values['data-dir']!, 'tokens.json'));
  switch (verb) {
    case 'create': {
      if (!values.user) throw new Error(`--user is required\n${TOKEN_USAGE}`);
      if (values.user.startsWith('system:')) throw new Error('users in the system: space are the cluster own (nodes, service accounts); pick another name');
      const { token: value } = file.issue(values.user, values.group ?? [], {
        ttlSeconds: values.ttl ? parseDuration(values.ttl) : undefined,
        description: values.description,
      });
      out(value);
      return 0;
    }
    case 'list': {
      const rows = file
        .list()
        .map((r) => [tokenId(r), r.user, r.groups.join(',') || '<none>', r.createdAt ?? '<unknown>', r.expiresAt ?? '<never>', r.description ?? '']);
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
      if (!file.revoke(id)) throw new Error(`no single token has an ID starting with ${id} (at least 6 characters)`);
      out(`token ${id} revoked`);
      return 0;
    }
    default:
      throw new Error(TOKEN_USAGE);
  }
}

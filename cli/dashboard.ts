/**
 * `skiff dashboard`: a sign-in link to the local cluster's dashboard. It makes a token of its own
 * for the link (a cluster admin's, for 8 hours unless `--ttl` says otherwise, revocable with
 * `skiff token revoke`), and puts it in the link's fragment, which the browser never sends to a
 * server: the dashboard takes it from there and wipes it from the address bar.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { TokenFile } from '../shared/auth/token-file.js';
import { parseDuration } from './token.js';

export const DASHBOARD_USAGE = "usage: skiff dashboard [--data-dir ./.skiff] [--ttl 8h]   (a sign-in link to the local cluster's dashboard)";

export async function dashboard(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string', default: './.skiff' }, ttl: { type: 'string', default: '8h' } },
    strict: true,
  });
  const dataDir = values['data-dir']!;
  let server: string;
  try {
    const config = parseYaml(readFileSync(join(dataDir, 'kubeconfig'), 'utf8')) as { clusters: { cluster: { server: string } }[] };
    server = config.clusters[0].cluster.server;
  } catch {
    throw new Error(`no cluster in ${dataDir} (no kubeconfig there): start one with \`npm start\`, or name its --data-dir`);
  }
  const { token } = new TokenFile(join(dataDir, 'tokens.json')).issue('dashboard', ['system:masters'], {
    ttlSeconds: parseDuration(values.ttl!),
    description: 'dashboard sign-in link',
  });
  out(`${server}/dashboard/#token=${encodeURIComponent(token)}`);
  return 0;
}

/**
 * `skiff dashboard`: a sign-in link to the local cluster's dashboard. It makes a token of its own
 * for the link (a cluster admin's, for 8 hours unless `--ttl` says otherwise, revocable with
 * `skiff token revoke`), and puts it in the link's fragment, which the browser never sends to a
 * server: the dashboard takes it from there and wipes it from the address bar. The AWS shape
 * keeps its tokens in its table: `--store` names it, as `skiff token` takes it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { openBook, parseDuration } from './token.js';

export const DASHBOARD_USAGE =
  "usage: skiff dashboard [--data-dir ./.skiff] [--store dynamodb://<table>?...] [--ttl 8h]   (a sign-in link to the local cluster's dashboard; --store: the AWS shape's table)";

export async function dashboard(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string', default: './.skiff' }, store: { type: 'string' }, ttl: { type: 'string', default: '8h' } },
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
  const ttlSeconds = parseDuration(values.ttl!);
  const book = await openBook(dataDir, values.store);
  let token: string;
  try {
    ({ token } = await book.issue('dashboard', ['system:masters'], { ttlSeconds, description: 'dashboard sign-in link' }));
  } finally {
    await book.close();
  }
  out(`${server}/dashboard/#token=${encodeURIComponent(token)}`);
  return 0;
}

/**
 * `skiff keys list|rotate`: the key-encryption keys Secrets are sealed under, in the data
 * folder. A rotation makes a new key current; the running control plane follows the file,
 * seals every Secret (and its history) again in the background and then drops the old key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type KeyFile, rotateKeyFile } from '../shared/encryption/keyring.js';

export const KEYS_USAGE = `usage: skiff keys list [--data-dir ./.skiff]
       skiff keys rotate [--data-dir ./.skiff]`;

export function keys(argv: string[], out: (line: string) => void = console.log): number {
  const [verb, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { 'data-dir': { type: 'string', default: './.skiff' } }, strict: true });
  const path = join(values['data-dir']!, 'encryption-keys.json');
  if (verb !== 'list' && verb !== 'rotate') throw new Error(KEYS_USAGE);
  if (!existsSync(path)) throw new Error(`${path} does not exist: \`skiff up\` makes it on its first start`);
  if (verb === 'rotate') {
    out(`${rotateKeyFile(path)} is now current; the running control plane seals every Secret under it and then drops the old key`);
    return 0;
  }
  const file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
  for (const key of file.keys) out(`${key.id}  ${key.createdAt}  ${key.id === file.current ? 'current' : 'retired'}`);
  return 0;
}

/**
 * A folder of files that changes all at once, as the kubelet's AtomicWriter keeps a configMap,
 * secret, downwardAPI or projected volume: the files live in a timestamped folder
 * (`..2026_11_28_09_30_00.123456789`), `..data` is a link to it, and each name the user sees is
 * a link through `..data` (`key -> ..data/key`). An update writes a new timestamped folder and
 * renames a new `..data` link over the old one, so a reader sees every file old or every file
 * new, never a mix; then the old folder goes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A file's content and mode, by its path below the volume (`a/b/c`). */
export type Payload = Map<string, { data: Buffer; mode: number }>;

const DATA = '..data';

function stampName(): string {
  const t = new Date().toISOString().replace(/[-:T]/g, '_').replace(/\..*/, '');
  return `..${t}.${randomBytes(4).toString('hex')}`;
}

/** True when the folder `..data` points at holds exactly `payload`. */
function holds(dir: string, payload: Payload): boolean {
  const current = join(dir, DATA);
  if (!existsSync(current)) return false;
  for (const [path, file] of payload) {
    const at = join(current, path);
    if (!existsSync(at) || (statSync(at).mode & 0o7777) !== file.mode || !readFileSync(at).equals(file.data)) return false;
  }
  const count = (d: string): number => readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? count(join(d, e.name)) : 1), 0);
  return count(current) === payload.size;
}

/**
 * Makes `dir` hold `payload`, atomically; returns false when it already did (nothing written).
 * Paths are checked by the API (relative, no `..`); they are checked again here.
 */
export function writeAtomicDir(dir: string, payload: Payload): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (holds(dir, payload)) return false;
  const stamp = stampName();
  for (const [path, file] of payload) {
    if (path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '') || path.startsWith('..'))
      throw new Error(`not a relative path in a volume: ${path}`);
    const target = join(dir, stamp, path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, file.data, { mode: file.mode });
  }
  mkdirSync(join(dir, stamp), { recursive: true, mode: 0o755 });
  const previous = existsSync(join(dir, DATA)) ? readlinkSync(join(dir, DATA)) : undefined;
  symlinkSync(stamp, join(dir, `${DATA}_tmp`));
  renameSync(join(dir, `${DATA}_tmp`), join(dir, DATA));
  const top = new Set([...payload.keys()].map((p) => p.split('/')[0]));
  for (const name of top) if (!existsSync(join(dir, name)) && !isLink(join(dir, name))) symlinkSync(join(DATA, name), join(dir, name));
  for (const name of readdirSync(dir)) {
    if (name.startsWith('..')) continue;
    if (!top.has(name) && isLink(join(dir, name))) rmSync(join(dir, name));
  }
  if (previous && previous !== stamp) rmSync(join(dir, previous), { recursive: true, force: true });
  return true;
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

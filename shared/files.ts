/**
 * Files that other processes read while they change: state kept in the data folder (tokens,
 * encryption keys) and the files a kubelet hands to pods (tokens, credentials).
 */
import { closeSync, fsyncSync, openSync, renameSync, statSync, writeSync } from 'node:fs';

/**
 * Writes `path` whole and on disk, then renames it over the old one: a reader (or a crash)
 * sees the old file or the new one, never half of either.
 */
export function writeFileAtomically(path: string, data: string, mode = 0o600): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** What changes when the file is replaced or written: its mtime, size and inode. Equal stamps: nothing to read again. */
export function fileStamp(path: string): string {
  const s = statSync(path);
  return `${s.mtimeMs}:${s.size}:${s.ino}`;
}

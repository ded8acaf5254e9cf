/**
 * Loopback ranges of their own for test clusters running at once on this machine (test files run
 * in processes of their own, two or more at a time). A cluster whose kubelets run real pods
 * takes a slot; while it holds it, no other test's pods, ClusterIPs or NodePorts share its
 * addresses, so no two pods of different tests both listen on, say, 127.x.0.2:8080.
 *
 * Slot k is the file `<tmp>/skiff-test-loopback/<k>`, made only if absent and holding its
 * holder's pid: a slot whose holder has died is taken over.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SLOTS = 32;
const DIR = join(tmpdir(), 'skiff-test-loopback');

export interface LoopbackSlot {
  index: number;
  /** Where its nodes' pod ranges come from: `127.<32+k>.0.0/16`. */
  clusterCidr: string;
  /** Its service range's first three parts, `127.96.<200+k>` (a /24). */
  servicePrefix: string;
  release(): void;
}

const held = new Map<string, string>();
process.once('exit', () => {
  for (const [path, claim] of held) releaseFile(path, claim);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseFile(path: string, claim: string): void {
  try {
    if (readFileSync(path, 'utf8') === claim) unlinkSync(path);
  } catch {
    // Already gone.
  }
}

function take(path: string, claim: string): boolean {
  try {
    writeFileSync(path, claim, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let current: string;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  const holder = Number(current.split(':')[0]);
  if (!holder || alive(holder)) return false;
  releaseFile(path, current);
  try {
    writeFileSync(path, claim, { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

export function claimLoopbackSlot(): LoopbackSlot {
  mkdirSync(DIR, { recursive: true });
  const claim = `${process.pid}:${randomBytes(6).toString('hex')}`;
  const start = (process.pid * 7) % SLOTS;
  for (let i = 0; i < SLOTS; i++) {
    const index = (start + i) % SLOTS;
    const path = join(DIR, String(index));
    if (!take(path, claim)) continue;
    held.set(path, claim);
    return {
      index,
      clusterCidr: `127.${32 + index}.0.0/16`,
      servicePrefix: `127.96.${200 + index}`,
      release: () => {
        held.delete(path);
        releaseFile(path, claim);
      },
    };
  }
  throw new Error(`all ${SLOTS} loopback slots of ${DIR} are held by running tests`);
}

/**
 * Vitest global setup: fails the run when a test left a process behind (a shim, a container's
 * process, a kubelet, `skiff up`, dockerd, DynamoDB Local), and ends those processes so the
 * next run starts clean.
 *
 * Every process a test starts inherits SKIFF_TEST_RUN from this run (the process runtime's
 * shim passes it on to the containers it starts), so at the end the leftovers are exactly the
 * live processes whose environment carries this run's mark; other runs and the machine's own
 * processes are never touched.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';

export const TEST_RUN_VARIABLE = 'SKIFF_TEST_RUN';

interface Leftover {
  pid: number;
  command: string;
}

/** Live processes whose environment carries `mark`, this process excepted. */
export function processesMarked(mark: string): Leftover[] {
  const needle = Buffer.from(`${TEST_RUN_VARIABLE}=${mark}\0`);
  const found: Leftover[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`).includes(needle)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // a zombie: already dead, waiting for its parent
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid, command });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

export default function setup(): () => Promise<void> {
  const mark = randomUUID();
  process.env[TEST_RUN_VARIABLE] = mark;
  return async () => {
    // A stop that is under way (a shim writing its exit record) gets a moment to finish.
    let left = processesMarked(mark);
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = processesMarked(mark);
    }
    if (left.length === 0) return;
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // Vitest reports an error thrown here but does not fail the run for it: fail it.
    process.exitCode = 1;
    const lines = left.map((p) => `  ${p.pid} ${p.command.slice(0, 200)}`).join('\n');
    throw new Error(`the tests left ${left.length} process(es) running (now killed); every test must stop what it starts:\n${lines}`);
  };
}

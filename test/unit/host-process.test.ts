/**
 * A worker process of the emulated clouds: stopping it ends everything it started, even what
 * left its process group (as the process runtime's containers do), as a switched-off machine.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { startHostProcess } from '../../emulators/host-process.js';

/** Running (a zombie, killed and not yet reaped by whoever inherited it, is not). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

it('stops the worker and every process it started, in its group or not', async () => {
  let out = '';
  // A child in a process group of its own (a signal to the worker's group misses it), as the
  // process runtime starts containers; the worker ignores SIGTERM, so the grace runs out.
  const script =
    "process.on('SIGTERM', () => {}); const c = require('node:child_process').spawn('sleep', ['300'], { detached: true, stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);";
  const worker = startHostProcess([process.execPath, '-e', script], {}, (d) => (out += String(d)));
  const deadline = Date.now() + 5000;
  while (!/\d+\n/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const detached = Number(out.trim());
  expect(alive(detached)).toBe(true);
  const code = await worker.stop(500);
  expect(code).toBe(128 + 9);
  await new Promise((r) => setTimeout(r, 100));
  expect(alive(detached)).toBe(false);
});

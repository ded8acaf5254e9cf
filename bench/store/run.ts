/**
 * Store benchmark (issue 2): creates/s and CAS updates/s with 1 and 32 writers (1 KiB objects),
 * label-selector lists over 10,000 and 100,000 objects, watch delivery latency. Skiff's SQLite
 * driver (durable commits), its DynamoDB driver on DynamoDB Local, and etcd (fsync on) side by
 * side in one run, so the ratios are fair on a noisy machine.
 *
 *   npx tsx bench/store/run.ts [--backends sqlite,etcd,dynamodb] [--quick] [--skip-large-dynamodb]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createStore } from '../../shared/store/factory.js';
import { machineInfo, machineMarkdown, markdownTable, median, percentile, round, writeResults } from '../support/report.js';
import { etcdBackend, storeBackend, type BenchBackend } from './backends.js';
import { startEtcd } from './etcd-server.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const quick = flag('quick');
const wanted = option('backends', 'sqlite,etcd,dynamodb').split(',');

const sizes = {
  creates1: quick ? 300 : 1500,
  creates32: quick ? 3000 : 20_000,
  cas1: quick ? 300 : 1000,
  cas32PerWriter: quick ? 20 : 150,
  lists: quick ? [2000] : [10_000, 100_000],
  watchWrites: quick ? 500 : 2000,
  repeats: quick ? 1 : 3,
};

/** ~1 KiB once wrapped in its object. */
const PAYLOAD = 'x'.repeat(850);

interface Figures {
  [metric: string]: number | string;
}

/** Runs `fn(0..total-1)` with `writers` concurrent loops; returns operations per second. */
async function throughput(total: number, writers: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = next++; i < total; i = next++) await fn(i);
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

async function medianOf(repeats: number, run: (r: number) => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let r = 0; r < repeats; r++) values.push(await run(r));
  return median(values);
}

async function seed(backend: BenchBackend, space: string, count: number): Promise<void> {
  await throughput(count, 64, (i) => backend.create(space, `obj-${i}`, { app: 'bench', tier: `t${i % 10}` }, PAYLOAD));
}

async function measure(backend: BenchBackend, listSizes: number[]): Promise<Figures> {
  const f: Figures = {};
  const log = (metric: string, value: number, unit: string) => {
    f[metric] = round(value, 1);
    console.log(`  ${backend.name.padEnd(9)} ${metric.padEnd(34)} ${round(value, 1)} ${unit}`);
  };

  log(
    'creates/s, 1 writer',
    await medianOf(sizes.repeats, (r) => throughput(sizes.creates1, 1, (i) => backend.create(`c1r${r}`, `o${i}`, { app: 'bench' }, PAYLOAD))),
    'ops/s',
  );
  log(
    'creates/s, 32 writers',
    await medianOf(sizes.repeats, (r) => throughput(sizes.creates32, 32, (i) => backend.create(`c32r${r}`, `o${i}`, { app: 'bench' }, PAYLOAD))),
    'ops/s',
  );

  await backend.create('cas1', 'o0', { app: 'bench' }, PAYLOAD);
  log('CAS updates/s, 1 writer', await medianOf(sizes.repeats, () => throughput(sizes.cas1, 1, () => backend.casUpdate('cas1', 'o0'))), 'ops/s');
  for (let w = 0; w < 32; w++) await backend.create('cas32', `o${w}`, { app: 'bench' }, PAYLOAD);
  log(
    'CAS updates/s, 32 writers',
    await medianOf(sizes.repeats, () => throughput(32 * sizes.cas32PerWriter, 32, (i) => backend.casUpdate('cas32', `o${i % 32}`))),
    'ops/s',
  );

  for (const n of listSizes) {
    await seed(backend, `list${n}`, n);
    for (const [label, selector, expected] of [
      ['all match', 'app=bench', n],
      ['1 in 10 match', 'tier=t3', n / 10],
    ] as const) {
      const times: number[] = [];
      for (let r = 0; r < Math.max(3, sizes.repeats * 2); r++) {
        const start = performance.now();
        const count = await backend.list(`list${n}`, selector);
        times.push(performance.now() - start);
        if (count !== expected) throw new Error(`${backend.name}: list ${selector} over ${n} gave ${count}, expected ${expected}`);
      }
      log(`list ${n} (${label}), ms`, median(times), 'ms');
    }
  }

  // Watch delivery: 8 writers create objects; latency from the write being issued (and from its
  // acknowledgement) to the watcher receiving the event.
  const issued = new Map<string, number>();
  const acked = new Map<string, number>();
  const fromIssue: number[] = [];
  const fromAck: number[] = [];
  const received = new Map<string, number>();
  const stop = await backend.watch('watch', (name) => received.set(name, performance.now()));
  await throughput(sizes.watchWrites, 8, async (i) => {
    const name = `o${i}`;
    issued.set(name, performance.now());
    await backend.create('watch', name, { app: 'bench' }, PAYLOAD);
    acked.set(name, performance.now());
  });
  const deadline = performance.now() + 30_000;
  while (received.size < sizes.watchWrites && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await stop();
  if (received.size < sizes.watchWrites) throw new Error(`${backend.name}: watch saw ${received.size} of ${sizes.watchWrites} events`);
  for (const [name, at] of received) {
    fromIssue.push(at - issued.get(name)!);
    fromAck.push(Math.max(0, at - acked.get(name)!));
  }
  log('watch p50 from write issued, ms', percentile(fromIssue, 50), 'ms');
  log('watch p99 from write issued, ms', percentile(fromIssue, 99), 'ms');
  log('watch p50 after write acked, ms', percentile(fromAck, 50), 'ms');
  log('watch p99 after write acked, ms', percentile(fromAck, 99), 'ms');
  return f;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(machineMarkdown(machine));
  console.log(`sizes: ${JSON.stringify(sizes)}\n`);
  const results: Record<string, Figures> = {};
  const notes: string[] = [];

  if (wanted.includes('sqlite')) {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-sqlite-'));
    const backend = storeBackend('sqlite', await createStore(`sqlite://${join(dir, 'skiff.db')}`));
    try {
      results.sqlite = await measure(backend, sizes.lists);
    } finally {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (wanted.includes('etcd')) {
    const etcd = await startEtcd();
    const backend = etcdBackend(etcd.endpoint);
    try {
      results.etcd = await measure(backend, sizes.lists);
    } finally {
      await backend.close();
      await etcd.stop();
    }
  }
  if (wanted.includes('dynamodb')) {
    const { startDynamoDbLocal } = await import('../../emulators/dynamodb-local.js');
    const local = await startDynamoDbLocal();
    // The emulator is stopped whatever happens from here on.
    const backend = await createStore(`dynamodb://skiff-bench?endpoint=${encodeURIComponent(local.endpoint)}&region=us-east-1`)
      .then((store) => storeBackend('dynamodb', store))
      .catch(async (err) => {
        await local.stop();
        throw err;
      });
    // DynamoDB Local is a single Java process: seeding 100,000 items takes a few minutes, which
    // --skip-large-dynamodb saves when only the other figures are wanted.
    const lists = flag('skip-large-dynamodb') ? sizes.lists.filter((n) => n <= 10_000) : sizes.lists;
    if (lists.length < sizes.lists.length) notes.push('DynamoDB Local: the 100,000-object list was skipped (--skip-large-dynamodb).');
    try {
      results.dynamodb = await measure(backend, lists);
    } finally {
      await backend.close();
      await local.stop();
    }
  }

  const names = Object.keys(results);
  const metrics = [...new Set(names.flatMap((n) => Object.keys(results[n])))];
  const ratioHeader = results.sqlite && results.etcd ? ['sqlite / etcd'] : [];
  const rows = metrics.map((m) => {
    const cells = names.map((n) => results[n][m] ?? '-');
    if (ratioHeader.length) {
      const s = Number(results.sqlite[m]);
      const e = Number(results.etcd[m]);
      cells.push(Number.isFinite(s / e) ? `${round(s / e, 2)}x` : '-');
    }
    return [m, ...cells];
  });
  const table = markdownTable(['metric', ...names, ...ratioHeader], rows);
  console.log(`\n${table}`);
  const markdown = [
    '# Store benchmark',
    '',
    machineMarkdown(machine),
    '',
    `Sizes: ${JSON.stringify(sizes)}. Throughputs are medians of ${sizes.repeats} runs; list times medians; objects ~1 KiB.`,
    'For ops/s higher is better; for ms lower is better (so a ratio above 1 favours sqlite for ops/s, below 1 for ms).',
    'etcd: Debian etcd-server with fsync, reached through the etcd3 npm client; its lists read the whole prefix and filter labels client-side, as kube-apiserver does when it reads etcd without its watch cache.',
    ...notes,
    '',
    table,
  ].join('\n');
  writeResults('store', { machine, sizes, results, notes }, markdown);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * The single log partition's ceiling (issue 12): 1, 4 and 16 independent store instances (as
 * that many API function environments) create objects in one table of DynamoDB Local as fast
 * as they can, each with 4 writes in flight. For each: writes/s, transactions/s, changes per
 * transaction, the races lost on the head counter per committed transaction, and create
 * latency. Every write is a transaction conditioned on the one head counter
 * (docs/store-dynamodb.md), so independent instances race for it.
 *
 *   npx tsx bench/dynamodb-ceiling/run.ts [--quick]
 */
import { startDynamoDbLocal } from '../../emulators/dynamodb-local.js';
import { type DynamoStore, openDynamoStore } from '../../shared/store/dynamodb.js';
import { machineInfo, machineMarkdown, markdownTable, percentile, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const DURATION_MS = quick ? 3000 : 10_000;
const IN_FLIGHT = 4;

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const local = await startDynamoDbLocal();
  const rows: Record<string, number>[] = [];
  try {
    for (const instances of [1, 4, 16]) {
      const table = `ceiling-${instances}`;
      const stores: DynamoStore[] = [];
      for (let i = 0; i < instances; i++) {
        stores.push(await openDynamoStore({ tableName: table, endpoint: local.endpoint, region: 'us-east-1', createTable: i === 0 }));
      }
      const latencies: number[] = [];
      let failed = 0;
      let n = 0;
      const end = Date.now() + DURATION_MS;
      await Promise.all(
        stores.flatMap((store, s) =>
          Array.from({ length: IN_FLIGHT }, async () => {
            while (Date.now() < end) {
              const started = performance.now();
              try {
                await store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${s}-${n++}`, namespace: 'default' } });
                latencies.push(performance.now() - started);
              } catch {
                failed++;
              }
            }
          }),
        ),
      );
      const sum = (k: 'transactions' | 'changes' | 'conflicts') => stores.reduce((a, st) => a + st.commitStats[k], 0);
      const seconds = DURATION_MS / 1000;
      const row = {
        instances,
        writesPerSec: round(latencies.length / seconds, 0),
        transactionsPerSec: round(sum('transactions') / seconds, 0),
        changesPerTransaction: round(sum('changes') / Math.max(1, sum('transactions')), 2),
        conflictsPerTransaction: round(sum('conflicts') / Math.max(1, sum('transactions')), 2),
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        failed,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
      for (const s of stores) await s.close();
    }
  } finally {
    await local.stop();
  }
  const machine = machineInfo();
  const md = [
    '# DynamoDB: the single log partition, 1 to 16 writers',
    '',
    machineMarkdown(machine),
    '',
    `Independent store instances on one DynamoDB Local table, each with ${IN_FLIGHT} creates in flight for ${DURATION_MS / 1000} s.`,
    '',
    markdownTable(
      ['instances', 'writes/s', 'transactions/s', 'changes per transaction', 'races lost per transaction', 'p50 ms', 'p99 ms', 'failed'],
      rows.map((r) => [r.instances, r.writesPerSec, r.transactionsPerSec, r.changesPerTransaction, r.conflictsPerTransaction, r.p50, r.p99, r.failed]),
    ),
    '',
    'DynamoDB Local runs on the same 2 cores; real DynamoDB bounds one partition at 1,000 write units a second, and each change here writes an object item and a log item (plus the counter once per transaction): see docs/store-dynamodb.md.',
  ].join('\n');
  writeResults('dynamodb-ceiling', { machine, rows }, md);
  console.log(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * Child process for the kill -9 test: writes to a SQLite store in a loop with several
 * concurrent writers and prints `ack <name> <resourceVersion>` for every acknowledged write.
 */
import { openSqliteStore } from '../../shared/store/sqlite.js';

const store = openSqliteStore({ path: process.argv[2] });
let n = 0;
async function writer(w: number): Promise<never> {
  for (;;) {
    const name = `w${w}-${n++}`;
    const created = await store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { w: String(w) } });
    process.stdout.write(`ack ${name} ${created.metadata.resourceVersion}\n`);
    if (n % 3 === 0) {
      const updated = await store.update('configmaps', { ...created, data: { w: String(w), updated: 'yes' } });
      process.stdout.write(`upd ${name} ${updated.metadata.resourceVersion}\n`);
    }
  }
}
process.stdout.write('ready\n');
void Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(writer));

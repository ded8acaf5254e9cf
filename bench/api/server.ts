/**
 * The API server under benchmark, in its own process so it has a core to itself: the embedded
 * shape (SQLite file with durable commits, HTTPS, token auth). Prints its URL and token.
 */
import { startApiServer } from '../../functions/api/server.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import { join } from 'node:path';

const dir = process.argv[2];
const store = openSqliteStore({ path: join(dir, 'skiff.db') });
const server = await startApiServer({ store, dataDir: join(dir, 'data'), port: 0 });
process.stdout.write(`${JSON.stringify({ url: server.url, token: server.adminToken, ca: server.caCert })}\n`);
process.on('SIGTERM', async () => {
  await server.close();
  await store.close();
  process.exit(0);
});

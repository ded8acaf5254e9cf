/**
 * The control plane under the flood benchmark, in its own process as `skiff up` runs it: a
 * SQLite file, the HTTPS API, the controllers, and two simulated nodes (110 pods each, so
 * most of a huge ReplicaSet stays pending, as on a small real cluster). Prints URL and token.
 */
import { join } from 'node:path';
import { startApiServer } from '../../functions/api/server.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane } from '../../shared/control-plane.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';

const dir = process.argv[2];
const store = openSqliteStore({ path: join(dir, 'skiff.db') });
const server = await startApiServer({ store, dataDir: join(dir, 'data'), port: 0 });
const cloud = new SimCloudProvider(store, { leaseIntervalMs: 10_000 });
for (let i = 0; i < 2; i++) await cloud.create({ name: `sim-${i}`, instanceType: 'sim.large', zone: 'sim-a' });
const plane = await startControlPlane({ store });
process.stdout.write(`${JSON.stringify({ url: server.url, token: server.adminToken, ca: server.caCert })}\n`);
process.on('SIGTERM', async () => {
  await plane.stop();
  await cloud.close();
  await server.close();
  await store.close();
  process.exit(0);
});

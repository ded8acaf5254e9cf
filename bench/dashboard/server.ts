/**
 * The cluster under the dashboard benchmark, in its own process: the embedded API over a SQLite
 * file holding `SKIFF_BENCH_NODES` nodes (default 50) and `SKIFF_BENCH_PODS` running pods
 * (default 5,000) spread over them, and a writer that changes 20 pods' status a second, so the
 * page is live while it is measured. Prints its URL and token.
 */
import { join } from 'node:path';
import { startApiServer } from '../../functions/api/server.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';

const dir = process.argv[2];
const NODES = Number(process.env.SKIFF_BENCH_NODES ?? 50);
const PODS = Number(process.env.SKIFF_BENCH_PODS ?? 5000);
const store = openSqliteStore({ path: join(dir, 'skiff.db') });
const server = await startApiServer({ store, dataDir: join(dir, 'data'), port: 0 });
const now = new Date().toISOString();
for (let n = 0; n < NODES; n++)
  await store.create('nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${n}`, labels: { 'node.kubernetes.io/instance-type': 'sim.large', 'topology.kubernetes.io/zone': `zone-${n % 3}` } },
    status: {
      allocatable: { cpu: '16', memory: '64Gi', pods: '200' },
      capacity: { cpu: '16', memory: '64Gi', pods: '200' },
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
    },
  });
const status = (ready: boolean) => ({
  phase: 'Running',
  podIP: '10.0.0.1',
  startTime: now,
  conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }],
  containerStatuses: [{ name: 'app', ready, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: now } } }],
});
for (let p = 0; p < PODS; p++)
  await store.create('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `web-${String(p).padStart(5, '0')}`, namespace: `team-${p % 10}`, labels: { app: 'web' } },
    spec: {
      nodeName: `node-${p % NODES}`,
      containers: [{ name: 'app', image: 'busybox', resources: { requests: { cpu: '100m', memory: '128Mi' } } }],
    },
    status: status(true),
  });
process.stdout.write(`${JSON.stringify({ url: server.url, token: server.adminToken, ca: server.caCert })}\n`);
let tick = 0;
const perSecond = Number(process.env.SKIFF_BENCH_CHANGES ?? 20);
const writer = setInterval(async () => {
  if (perSecond === 0) return;
  const p = (tick++ * 7919) % PODS;
  const name = `web-${String(p).padStart(5, '0')}`;
  const namespace = `team-${p % 10}`;
  const pod = await store.get('pods', namespace, name).catch(() => undefined);
  if (pod) await store.update('pods', { ...pod, status: status(tick % 2 === 0) }).catch(() => undefined);
}, 1000 / Math.max(1, perSecond));
process.on('SIGTERM', async () => {
  clearInterval(writer);
  await server.close();
  await store.close();
  process.exit(0);
});

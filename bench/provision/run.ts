/**
 * The provisioner on simulated nodes (issue 13): from 1,000 and from 10,000 pending pods (one
 * Deployment each, 250m cpu and 512 MiB a pod, no node at the start) to all Running, with each
 * node taking a launch delay drawn from EC2's usual range (10 to 40 s from RunInstances to a
 * registered kubelet; `--quick` divides it by 10). For each: the time to all Running, the nodes
 * made against the lower bound (the fewest nodes of the largest type that hold the pods), the
 * hourly price against the cheapest price per core that could hold them, and the launches made
 * against EC2's RunInstances token bucket (1,000 instances at once, then 2 a second).
 * Karpenter's published simulation (about 1,000 pods a second scheduled) is the anchor.
 *
 *   npx tsx bench/provision/run.ts [--quick]
 */
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import { typedList } from '../../shared/api/objects.js';
import { ec2Catalogue } from '../../shared/cloud/ec2-catalogue.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane } from '../../shared/control-plane.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject } from '../../shared/store/types.js';
import { machineInfo, markdownTable, resultsPage, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [1000] : [1000, 10_000];
const DELAY = quick ? { min: 1000, max: 4000 } : { min: 10_000, max: 40_000 };
const POD = { cpu: 250, memory: 512 * 2 ** 20 };
const ZONES = ['zone-a', 'zone-b', 'zone-c'];

async function run(pods: number) {
  const catalogue = ec2Catalogue(ZONES);
  const store = openSqliteStore({ path: ':memory:' });
  await new Registry(store).ensureSystemNamespaces();
  const launches: number[] = [];
  const cloud = new SimCloudProvider(store, {
    leaseIntervalMs: 60_000,
    instanceTypes: catalogue,
    launchDelayMs: () => {
      launches.push(Date.now());
      return DELAY.min + Math.random() * (DELAY.max - DELAY.min);
    },
  });
  const prices = Object.fromEntries(catalogue.map((t) => [t.name, t.pricePerHour]));
  const plane = await startControlPlane({ store, provisioner: { provider: cloud, prices, consolidateAfterMs: 600_000 } });
  const started = Date.now();
  try {
    await new Registry(store).create(findResource('apps', 'v1', 'deployments')!, 'default', {
      metadata: { name: 'load' },
      spec: {
        replicas: pods,
        selector: { matchLabels: { app: 'load' } },
        template: {
          metadata: { labels: { app: 'load' } },
          spec: { containers: [{ name: 'c', image: 'app:v1', resources: { requests: { cpu: `${POD.cpu}m`, memory: `${POD.memory / 2 ** 20}Mi` } } }] },
        },
      },
    } as unknown as KubeObject);
    const deadline = started + 600_000;
    let running = 0;
    while (running < pods) {
      if (Date.now() > deadline) throw new Error(`${running}/${pods} Running after 10 minutes`);
      await new Promise((r) => setTimeout(r, 500));
      running = typedList('pods', (await store.list('pods', { namespace: 'default' })).items).filter((p) => p.status?.phase === 'Running').length;
    }
    const seconds = (Date.now() - started) / 1000;
    const nodes = typedList('nodes', (await store.list('nodes')).items);
    const types = nodes.map((n) => n.metadata.labels?.['node.kubernetes.io/instance-type'] ?? '');
    const price = types.reduce((a, t) => a + (prices[t] ?? 0), 0);
    const largest = [...catalogue].sort((a, b) => b.cpu - a.cpu)[0];
    const lowerBound = Math.max(Math.ceil((pods * POD.cpu) / largest.cpu), Math.ceil((pods * POD.memory) / largest.memory), Math.ceil(pods / largest.pods));
    const cheapestPerCore = Math.min(...catalogue.map((t) => t.pricePerHour / (t.cpu / 1000)));
    const priceBound = ((pods * POD.cpu) / 1000) * cheapestPerCore;
    // Launches per second at the peak, against the token bucket (1,000 at once, 2 a second after).
    const perSecond = new Map<number, number>();
    for (const t of launches) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    return {
      pods,
      secondsToRunning: round(seconds, 1),
      podsPerSecond: round(pods / seconds, 1),
      nodes: nodes.length,
      lowerBound,
      types: [...new Set(types)].sort().join(' '),
      pricePerHour: round(price, 3),
      priceBound: round(priceBound, 3),
      launches: launches.length,
      peakLaunchesPerSecond: Math.max(0, ...perSecond.values()),
      withinBucket: launches.length <= 1000,
    };
  } finally {
    await plane.stop();
    await cloud.close();
    await store.close();
  }
}

async function main() {
  const rows = [];
  for (const size of SIZES) {
    console.log(`${size} pending pods ...`);
    rows.push(await run(size));
  }
  const table = markdownTable(
    ['pods', 'seconds to all Running', 'pods/s', 'nodes', 'lower bound', 'types', '$/h', '$/h bound', 'launches', 'peak launches/s', 'within the bucket'],
    rows.map((r) => [
      r.pods,
      r.secondsToRunning,
      r.podsPerSecond,
      r.nodes,
      r.lowerBound,
      r.types,
      r.pricePerHour,
      r.priceBound,
      r.launches,
      r.peakLaunchesPerSecond,
      r.withinBucket ? 'yes' : 'no',
    ]),
  );
  console.log(table);
  const machine = machineInfo();
  writeResults(
    quick ? 'provision-quick' : 'provision',
    { machine, delayMs: DELAY, pod: POD, rows },
    resultsPage(
      'The provisioner: pending pods to Running on new nodes',
      machine,
      [
        `Simulated nodes, each taking ${DELAY.min / 1000} to ${DELAY.max / 1000} s to start (drawn uniformly); pods of 250m cpu and 512 MiB; the EC2 catalogue's types and prices, in three zones.`,
        'The lower bound is the fewest nodes of the largest type that hold the pods; the price bound is their cores at the cheapest price per core.',
      ],
      table,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

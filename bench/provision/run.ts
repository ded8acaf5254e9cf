/**
 * The provisioner on simulated nodes (issue 13): from 1,000 and from 10,000 pending pods (one
 * Deployment each, 250m cpu and 512 MiB a pod, no node at the start) to all Running, for each
 * provider's catalogue and launch delays (`--quick` divides the delays by 10):
 *
 * - EC2: its instance types; 10 to 40 s from RunInstances to a registered kubelet; the
 *   RunInstances token bucket (1,000 instances at once, then 2 a second);
 * - ECS on Fargate: its virtual node shapes; 30 to 60 s for the kubelet's task (AWS's usual
 *   Fargate task start); the Fargate launch bucket (100 at once, then 20 a second), which every
 *   pod's own task draws from too. The simulated kubelet starts pods at once, so the time a
 *   task launch takes is not in "seconds to all Running"; the bucket's own bound is given beside.
 *
 * For each: the time to all Running, the nodes made against the lower bound (the fewest nodes of
 * the largest type that hold the pods), the hourly price against the cheapest price per core
 * that could hold them, the launches against the bucket, and the launch calls: on EC2 the
 * CreateFleet calls the aws-ec2 provider's batching makes of the provisioner's creates (the same
 * batcher in front of the simulated nodes), on Fargate a RunTask per task. Karpenter's published simulation
 * (about 1,000 pods a second scheduled) is the anchor.
 *
 *   npx tsx bench/provision/run.ts [--quick]
 */
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import { typedList } from '../../shared/api/objects.js';
import { fargateCatalogue } from '../../shared/cloud/aws-ecs.js';
import { ec2Catalogue } from '../../shared/cloud/ec2-catalogue.js';
import { Batcher } from '../../shared/cloud/batcher.js';
import type { CloudNode, CloudProvider, InstanceType, NodeRequest } from '../../shared/cloud/types.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane } from '../../shared/control-plane.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject } from '../../shared/store/types.js';
import { machineInfo, markdownTable, resultsPage, round, writeResults } from '../support/report.js';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [1000] : [1000, 10_000];
const POD = { cpu: 250, memory: 512 * 2 ** 20 };
const ZONES = ['zone-a', 'zone-b', 'zone-c'];

interface Profile {
  name: string;
  catalogue: InstanceType[];
  /** Seconds from a launch to a registered kubelet. */
  delay: { min: number; max: number };
  bucket: { capacity: number; refillPerSecond: number };
  /** Each pod is a launch too (a Fargate task per pod). */
  podsLaunch: boolean;
}

const scale = quick ? 100 : 1000;
const PROFILES: Profile[] = [
  {
    name: 'EC2',
    catalogue: ec2Catalogue(ZONES),
    delay: { min: 10 * scale, max: 40 * scale },
    bucket: { capacity: 1000, refillPerSecond: 2 },
    podsLaunch: false,
  },
  {
    name: 'ECS (Fargate)',
    catalogue: fargateCatalogue(ZONES),
    delay: { min: 30 * scale, max: 60 * scale },
    bucket: { capacity: 100, refillPerSecond: 20 },
    podsLaunch: true,
  },
];

/** Seconds a bucket needs for `launches`: the burst at once, the rest at the refill rate. */
const bucketSeconds = (launches: number, b: Profile['bucket']) => Math.max(0, (launches - b.capacity) / b.refillPerSecond);

/** `cloud` behind the aws-ec2 provider's batching (creates alike within 35 ms, at most 1 s, are one call), counting the calls. */
function batched(cloud: CloudProvider): { provider: CloudProvider; calls: () => number } {
  let calls = 0;
  const batcher = new Batcher<NodeRequest, CloudNode>(
    async (requests) => {
      calls++;
      return Promise.all(requests.map((r) => cloud.create(r).catch((err: Error) => err)));
    },
    { idleMs: 35, maxMs: 1000, maxItems: 1000 },
  );
  const provider: CloudProvider = {
    name: cloud.name,
    instanceTypes: () => cloud.instanceTypes(),
    create: (r) => batcher.add(JSON.stringify([r.instanceType, r.zone, r.labels]), r),
    delete: (name) => cloud.delete(name),
    get: (name) => cloud.get(name),
    list: () => cloud.list(),
  };
  return { provider, calls: () => calls };
}

async function run(profile: Profile, pods: number) {
  const { catalogue, delay: DELAY } = profile;
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
  const prices = Object.fromEntries(catalogue.map((t) => [t.name, t.pricePerHour ?? 0]));
  const front = batched(cloud);
  const provider = profile.podsLaunch ? cloud : front.provider;
  const plane = await startControlPlane({ store, provisioner: { provider, prices, consolidateAfterMs: 600_000 } });
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
    const cheapestPerCore = Math.min(...catalogue.map((t) => (t.pricePerHour ?? 0) / (t.cpu / 1000)));
    const priceBound = ((pods * POD.cpu) / 1000) * cheapestPerCore;
    // Launches per second at the peak, against the token bucket (1,000 at once, 2 a second after).
    const perSecond = new Map<number, number>();
    for (const t of launches) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    const allLaunches = launches.length + (profile.podsLaunch ? pods : 0);
    return {
      provider: profile.name,
      pods,
      secondsToRunning: round(seconds, 1),
      podsPerSecond: round(pods / seconds, 1),
      nodes: nodes.length,
      lowerBound,
      types: [...new Set(types)].sort().join(' '),
      pricePerHour: round(price, 3),
      priceBound: round(priceBound, 3),
      launches: allLaunches,
      launchCalls: profile.podsLaunch ? allLaunches : front.calls(),
      peakLaunchesPerSecond: Math.max(0, ...perSecond.values()),
      bucketSeconds: round(bucketSeconds(allLaunches, profile.bucket), 1),
    };
  } finally {
    await plane.stop();
    await cloud.close();
    await store.close();
  }
}

async function main() {
  const rows = [];
  for (const profile of PROFILES) {
    for (const size of SIZES) {
      console.log(`${profile.name}: ${size} pending pods ...`);
      rows.push(await run(profile, size));
    }
  }
  const table = markdownTable(
    [
      'provider',
      'pods',
      'seconds to all Running',
      'pods/s',
      'nodes',
      'lower bound',
      'types',
      '$/h',
      '$/h bound',
      'launches',
      'launch calls',
      'peak node launches/s',
      'bucket alone (s)',
    ],
    rows.map((r) => [
      r.provider,
      r.pods,
      r.secondsToRunning,
      r.podsPerSecond,
      r.nodes,
      r.lowerBound,
      r.types,
      r.pricePerHour,
      r.priceBound,
      r.launches,
      r.launchCalls,
      r.peakLaunchesPerSecond,
      r.bucketSeconds,
    ]),
  );
  console.log(table);
  const machine = machineInfo();
  writeResults(
    quick ? 'provision-quick' : 'provision',
    { machine, profiles: PROFILES.map((p) => ({ name: p.name, delayMs: p.delay, bucket: p.bucket })), pod: POD, rows },
    resultsPage(
      'The provisioner: pending pods to Running on new nodes',
      machine,
      [
        `Simulated nodes; pods of 250m cpu and 512 MiB; each provider's catalogue and prices, in three zones. EC2 nodes take ${PROFILES[0].delay.min / 1000} to ${PROFILES[0].delay.max / 1000} s to start, Fargate nodes (a kubelet task) ${PROFILES[1].delay.min / 1000} to ${PROFILES[1].delay.max / 1000} s (drawn uniformly).`,
        'The lower bound is the fewest nodes of the largest type that hold the pods; the price bound is their cores at the cheapest price per core.',
        "Launches count every instance (EC2), or every task: each node's kubelet and each pod (Fargate). Launch calls are the CreateFleet calls the aws-ec2 provider's batching makes of them (creates alike within 35 ms, at most 1 s, are one call; EC2 meters API calls apart from instances), or a RunTask per task. \"Bucket alone\" is the least time the provider's launch bucket lets those launches take (EC2: 1,000 at once then 2 a second; Fargate: 100 then 20 a second): past the burst, launches, not the provisioner, set the pace. The simulated kubelet starts a pod at once, so a Fargate pod's own task start (tens of seconds) is not in the seconds to all Running.",
      ],
      table,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

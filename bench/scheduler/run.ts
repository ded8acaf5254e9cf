/**
 * Scheduler benchmark (issue 4): 5,000 nodes, 10,000 pending pods of mixed requests in 100
 * Deployments, 20% with a nodeSelector, 10% tolerating a taint that 10% of the nodes carry.
 * Prints pods/s (median of runs, one core) and placement quality, writes bench/results/.
 *
 *   npx tsx bench/scheduler/run.ts [--runs 5]
 */
import type { Node, Pod } from '../../shared/api/schemas/index.js';
import { schedule } from '../../shared/scheduler/index.js';
import { machineInfo, machineMarkdown, markdownTable, median, round, writeResults } from '../support/report.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 5;
const NODES = 5000;
const PODS = 10_000;
const DEPLOYMENTS = 100;
const ZONES = 5;

function nodes(): Node[] {
  return Array.from({ length: NODES }, (_, i) => {
    const gpu = i % 10 === 0;
    return {
      metadata: {
        name: `node-${i}`,
        labels: {
          'kubernetes.io/hostname': `node-${i}`,
          'topology.kubernetes.io/zone': `zone-${i % ZONES}`,
          ...(i % 10 < 3 ? { disktype: 'ssd' } : {}),
          ...(gpu ? { accelerator: 'gpu' } : {}),
        },
      },
      spec: gpu ? { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] } : {},
      status: { allocatable: { cpu: '4', memory: '16Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
    };
  });
}

const CPU = ['100m', '250m', '500m', '1', '2'];
const MEMORY = ['128Mi', '256Mi', '512Mi', '1Gi', '2Gi'];

/** Deployment d: its replicas share requests and placement rules. 20 of 100 select ssd, 10 tolerate gpu. */
function pods(): Pod[] {
  const out: Pod[] = [];
  for (let d = 0; d < DEPLOYMENTS; d++) {
    const selector = d % 5 === 0 ? { disktype: 'ssd' } : undefined;
    const tolerations = d % 10 === 1 ? [{ key: 'dedicated', operator: 'Equal' as const, value: 'gpu', effect: 'NoSchedule' as const }] : undefined;
    for (let r = 0; r < PODS / DEPLOYMENTS; r++) {
      out.push({
        metadata: {
          name: `deploy-${d}-${r}`,
          namespace: 'default',
          uid: `pod-${d}-${r}`,
          labels: { app: `deploy-${d}` },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${d}`, uid: `rs-${d}`, controller: true }],
        },
        spec: {
          nodeSelector: selector,
          tolerations,
          containers: [{ name: 'app', image: 'app:1', resources: { requests: { cpu: CPU[d % CPU.length], memory: MEMORY[(d * 3) % MEMORY.length] } } }],
        },
      });
    }
  }
  return out;
}

function main() {
  const machine = machineInfo();
  console.log(machineMarkdown(machine));
  const nodeList = nodes();
  const podList = pods();
  const rates: number[] = [];
  let result!: ReturnType<typeof schedule>;
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    result = schedule({ pendingPods: podList, nodes: nodeList, boundPods: [] });
    const seconds = (performance.now() - start) / 1000;
    rates.push(PODS / seconds);
    console.log(`  run ${run + 1}: ${round(PODS / seconds, 0)} pods/s (${round(seconds * 1000, 0)} ms), ${result.bindings.length} placed`);
  }
  // Quality: an upper bound on placeable pods (each pod alone, on any statically allowed node
  // with room for its request), and how evenly each Deployment's replicas spread.
  const placed = result.bindings.length;
  const perDeployNode = new Map<string, Map<string, number>>();
  const perDeployZone = new Map<string, number[]>();
  for (const b of result.bindings) {
    const d = b.pod.name.split('-').slice(0, 2).join('-');
    const nodeCounts = perDeployNode.get(d) ?? new Map<string, number>();
    nodeCounts.set(b.nodeName, (nodeCounts.get(b.nodeName) ?? 0) + 1);
    perDeployNode.set(d, nodeCounts);
    const zones = perDeployZone.get(d) ?? new Array(ZONES).fill(0);
    zones[Number(b.nodeName.split('-')[1]) % ZONES]++;
    perDeployZone.set(d, zones);
  }
  const maxOnOneNode = Math.max(...[...perDeployNode.values()].map((m) => Math.max(...m.values())));
  // Skew across the zones a Deployment may use at all: its selector and the taints it does not
  // tolerate rule some out (zone 0's ssd nodes are all gpu-tainted, for instance).
  const allowedZones = (d: number) => {
    const zones = new Set<number>();
    nodeList.forEach((n, i) => {
      const selected = d % 5 !== 0 || n.metadata.labels?.disktype === 'ssd';
      const tolerated = d % 10 === 1 || !n.spec?.taints?.length;
      if (selected && tolerated) zones.add(i % ZONES);
    });
    return [...zones];
  };
  const zoneSkews = [...perDeployZone.entries()].map(([name, z]) => {
    const counts = allowedZones(Number(name.split('-')[1])).map((zone) => z[zone]);
    return Math.max(...counts) - Math.min(...counts);
  });
  const totalCpu = NODES * 4;
  const requestedCpu = podList.reduce(
    (a, p) =>
      a + parseFloat(String(p.spec.containers[0].resources?.requests?.cpu)) * (String(p.spec.containers[0].resources?.requests?.cpu).endsWith('m') ? 0.001 : 1),
    0,
  );
  const median_ = median(rates);
  const kubeSchedulerFloor = 810;
  const table = markdownTable(
    ['figure', 'value'],
    [
      ['pods/s, median of runs (one core)', round(median_, 0)],
      ['all runs, pods/s', rates.map((r) => round(r, 0)).join(', ')],
      ['kube-scheduler CI floor, SchedulingBasic 5,000 nodes', '680-810 pods/s'],
      ['ratio to the 810 pods/s floor', `${round(median_ / kubeSchedulerFloor, 1)}x`],
      ['pods placed / upper bound', `${placed} / ${PODS} (every pod fits alone; requests total ${round((requestedCpu / totalCpu) * 100, 0)}% of cluster cpu)`],
      ['unschedulable', result.unschedulable.length],
      ['max replicas of one Deployment on one node', maxOnOneNode],
      ['zone skew per Deployment (max - min replicas across the zones it may use), median / max', `${median(zoneSkews)} / ${Math.max(...zoneSkews)}`],
    ],
  );
  console.log(`\n${table}`);
  writeResults(
    'scheduler',
    { machine, nodes: NODES, pods: PODS, runs: rates, medianPodsPerSec: median_, placed, unschedulable: result.unschedulable.length, maxOnOneNode, zoneSkews },
    [
      '# Scheduler benchmark',
      '',
      machineMarkdown(machine),
      '',
      `${NODES} nodes (4 cpu, 16 GiB, 5 zones; 30% labelled disktype=ssd; 10% tainted dedicated=gpu:NoSchedule), ${PODS} pending pods in ${DEPLOYMENTS} Deployments of ${PODS / DEPLOYMENTS} (20% select ssd nodes, 10% tolerate the gpu taint), requests from 100m to 2 cpu. One call of the pure scheduler places the whole batch.`,
      '',
      table,
    ].join('\n'),
  );
}

main();

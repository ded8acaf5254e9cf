/**
 * 1,000 random operations (500 on the AWS shape), applied in rounds of 50 without waiting for the
 * controllers, so they interleave with reconciles: create, scale, template updates, deletes with
 * every policy, node loss and recovery. After each round the cluster converges to the declared state: every
 * Deployment has exactly its replicas running and ready, of its current template, on nodes that
 * are up; nothing is left of deleted Deployments (or, when orphaned, nothing still points at them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typedList } from '../../shared/api/objects.js';
import type { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import type { SimCloudProvider } from '../../shared/cloud/sim.js';
import { controllerOf, isPodReady } from '../../shared/controllers/replicaset.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { TEST_SHAPE } from '../support/shape.js';
import { startSimCluster, type SimCluster } from '../support/sim-cluster.js';

const DEPLOYMENTS = findResource('apps', 'v1', 'deployments')!;
const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const NODES = ['sim-0', 'sim-1', 'sim-2', 'sim-3'];
/**
 * How much longer the AWS shape may take to converge: each hop of its loop is a stream poll
 * (Lambda's 250 ms), a function invocation in another process, and a DynamoDB Local write; the
 * node grace checks ride SQS delays, whole seconds.
 */
const PATIENCE = TEST_SHAPE === 'aws-local' ? 3 : 1;
/**
 * Rounds of 50 operations: 20 on the embedded shape; 10 on the AWS shape, whose every hop is
 * slower, and whose controllers are the same code (half the rounds still loses nodes, deletes
 * with every policy and rolls templates many times over; all 20 took four and a half minutes).
 */
const ROUNDS = TEST_SHAPE === 'aws-local' ? 10 : 20;

/** The node lifecycle controller's grace before a node whose Lease is not renewed is lost. */
const GRACE_MS = 300;

let sim: SimCluster;
let store: Store;
let cloud: SimCloudProvider;
let registry: Registry;

beforeAll(async () => {
  sim = await startSimCluster({ nodes: NODES.length, leaseIntervalMs: 50, nodeLifecycle: { gracePeriodMs: GRACE_MS, defaultTolerationSeconds: 0.2 } });
  ({ store, cloud, registry } = sim);
});
afterAll(() => sim?.stop());

let seed = 20261124;
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  // The high bits: an LCG's low bits repeat with a short period.
  return (seed >>> 12) % n;
};

const asObj = (v: unknown) => (v ?? {}) as Record<string, any>;
/** Nodes whose kubelet has stopped renewing its Lease. */
const down = new Set<string>();
const tainted = async (name: string) => ((asObj((await store.get('nodes', '', name)).spec).taints ?? []) as unknown[]).length > 0;
/**
 * A lost node is seen as lost once it is tainted and its Lease is well past the grace period. The
 * taint alone is not enough: a node brought back and lost again within one round may keep the
 * taint of its earlier loss, and a renewal it made while back then has the controller take that
 * taint off (rightly: the node renewed within the grace period) after it was looked at, to put
 * it back a grace period later.
 */
const seenLost = async (name: string) => {
  const lease = await store.get('leases.coordination.k8s.io', 'kube-node-lease', name);
  const renewed = Date.parse(asObj(lease.spec).renewTime);
  return Date.now() - renewed > GRACE_MS + 1_000 * PATIENCE && (await tainted(name));
};

async function operate(): Promise<string> {
  const name = NAMES[rand(NAMES.length)];
  const existing = await store.get('deployments.apps', 'default', name).catch(() => undefined);
  const live = existing && !existing.metadata.deletionTimestamp;
  const op = rand(10);
  if (!existing) {
    await registry.create(DEPLOYMENTS, 'default', {
      metadata: { name },
      spec: {
        replicas: rand(5),
        selector: { matchLabels: { app: name } },
        strategy: rand(4) === 0 ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxSurge: rand(3), maxUnavailable: 1 + rand(2) } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: `app:v${rand(3)}` }] } },
      },
    });
    return `create ${name}`;
  }
  if (!live) return `wait ${name}`;
  if (op < 4) {
    await guaranteedUpdate(store, 'deployments.apps', 'default', name, (d) => ({ ...d, spec: { ...asObj(d.spec), replicas: rand(6) } }));
    return `scale ${name}`;
  }
  if (op < 7) {
    await guaranteedUpdate(store, 'deployments.apps', 'default', name, (d) => {
      const copy = structuredClone(d) as KubeObject & { spec: any };
      copy.spec.template.spec.containers[0].image = `app:v${rand(3)}`;
      return copy;
    });
    return `update ${name}`;
  }
  if (op < 9) {
    const policy = (['Background', 'Foreground', 'Orphan'] as const)[rand(3)];
    await registry.delete(DEPLOYMENTS, 'default', name, { propagationPolicy: policy }).catch(() => undefined);
    return `delete ${name} ${policy}`;
  }
  // Node loss, at most two nodes down at a time so every pod has somewhere to go.
  const node = NODES[rand(NODES.length)];
  if (!down.has(node) && down.size < 2) {
    down.add(node);
    await cloud.kubelet(node)!.stopRenewing();
    return `node ${node} lost`;
  }
  if (down.delete(node)) cloud.kubelet(node)!.resumeRenewing();
  return `node ${node} back`;
}

/** Declared state: what should exist, from the Deployments and the nodes that are up. */
async function converged(): Promise<string | undefined> {
  const deployments = (await store.list('deployments.apps', { namespace: 'default' })).items;
  const pods = typedList('pods', (await store.list('pods', { namespace: 'default' })).items);
  const sets = (await store.list('replicasets.apps', { namespace: 'default' })).items;
  const nodes = new Map((await store.list('nodes')).items.map((n) => [n.metadata.name, n]));
  const up = (name: string) => {
    const n = nodes.get(name);
    return !!n && !(asObj(n.spec).taints ?? []).length;
  };
  for (const d of deployments) {
    if (d.metadata.deletionTimestamp) return `${d.metadata.name} still being deleted`;
    const own = new Set(sets.filter((rs) => controllerOf(rs)?.uid === d.metadata.uid).map((rs) => rs.metadata.uid));
    const mine = pods.filter((p) => own.has(controllerOf(p)?.uid) && !p.metadata.deletionTimestamp);
    const image = asObj(d.spec).template.spec.containers[0].image;
    const good = mine.filter((p) => isPodReady(p) && up(asObj(p.spec).nodeName) && asObj(p.spec).containers[0].image === image);
    if (mine.length !== asObj(d.spec).replicas || good.length !== mine.length)
      return `${d.metadata.name}: ${good.length}/${mine.length} good of ${asObj(d.spec).replicas}`;
    if (asObj(d.status).observedGeneration !== d.metadata.generation) return `${d.metadata.name} status not observed`;
  }
  const liveUids = new Set([...deployments, ...sets].map((o) => o.metadata.uid));
  for (const o of [...sets, ...pods]) {
    for (const ref of o.metadata.ownerReferences ?? []) if (!liveUids.has(ref.uid)) return `${o.kind} ${o.metadata.name} points at a deleted owner`;
  }
  // Orphaned ReplicaSets keep their pods; their pods must be running too (their owner is alive).
  for (const rs of sets.filter((s) => !controllerOf(s))) {
    const mine = pods.filter((p) => controllerOf(p)?.uid === rs.metadata.uid && !p.metadata.deletionTimestamp);
    if (mine.length !== asObj(rs.spec).replicas) return `orphaned ${rs.metadata.name}: ${mine.length}/${asObj(rs.spec).replicas}`;
  }
  return undefined;
}

describe('convergence', () => {
  it(
    `${ROUNDS * 50} random interleaved operations always converge to the declared state`,
    async () => {
      const log: string[] = [];
      let lostNodes = 0;
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < 50; i++) log.push(await operate());
        // The lost nodes must really be seen as lost before convergence is judged.
        const lostBy = Date.now() + 10_000 * PATIENCE;
        while (Date.now() < lostBy && !(await Promise.all([...down].map(seenLost))).every(Boolean)) await new Promise((r) => setTimeout(r, 50));
        lostNodes += down.size;
        const deadline = Date.now() + 20_000 * PATIENCE;
        let why = await converged();
        while (why && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          why = await converged();
        }
        expect(why, `round ${round} after: ${log.slice(-50).join(', ')}`).toBeUndefined();
        // Every pod of a live Deployment is off the lost nodes (checked by converged(): nodes with taints are not up).
        for (const n of down) expect(await tainted(n)).toBe(true);
        // Orphaned ReplicaSets are the user's now: clear them so later rounds start clean.
        for (const rs of (await store.list('replicasets.apps', { namespace: 'default' })).items.filter((s) => !controllerOf(s))) {
          await registry
            .delete(findResource('apps', 'v1', 'replicasets')!, 'default', rs.metadata.name!, { propagationPolicy: 'Background' })
            .catch(() => undefined);
        }
      }
      // The mix really happened: which operation runs depends on what the controllers have done by
      // then (a Deployment still being deleted is waited for), so counts vary from run to run; a
      // quarter of the rounds is the floor (one run of 10 rounds lost nodes only 5 times).
      const floor = ROUNDS / 4;
      expect(log.filter((l) => l.startsWith('create')).length).toBeGreaterThanOrEqual(floor);
      expect(log.filter((l) => l.startsWith('delete')).length).toBeGreaterThanOrEqual(floor);
      expect(log.filter((l) => l.endsWith('lost')).length).toBeGreaterThanOrEqual(floor);
      // Rounds ended with nodes down (pods had to move) many times.
      expect(lostNodes).toBeGreaterThan(ROUNDS / 2);
    },
    300_000 * PATIENCE,
  );
});

/**
 * A control plane on simulated nodes for the controller tests: an in-memory SQLite store with
 * the system namespaces, `count` sim nodes (sim-0, sim-1, ... across three zones), and the
 * controllers of `skiff up`; or, under the aws-local test shape, the functions over DynamoDB
 * Local with the same sim nodes.
 */
import { Registry } from '../../shared/api/registry.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane } from '../../shared/control-plane.js';
import type { JobControllerOptions } from '../../shared/controllers/job.js';
import type { NodeLifecycleOptions } from '../../shared/controllers/node-lifecycle.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { Store } from '../../shared/store/types.js';
import { startAwsLocalCluster } from './aws-local-cluster.js';
import { TEST_SHAPE } from './shape.js';

export interface SimCluster {
  store: Store;
  registry: Registry;
  cloud: SimCloudProvider;
  stop(): Promise<void>;
}

export async function startSimCluster(options: {
  nodes: number;
  instanceType?: string;
  leaseIntervalMs?: number;
  nodeLifecycle?: NodeLifecycleOptions;
  job?: JobControllerOptions;
}): Promise<SimCluster> {
  if (TEST_SHAPE === 'aws-local') return startAwsLocalSimCluster(options);
  const store = openSqliteStore({ path: ':memory:' });
  const registry = new Registry(store);
  await registry.ensureSystemNamespaces();
  const cloud = new SimCloudProvider(store, { leaseIntervalMs: options.leaseIntervalMs ?? 60_000 });
  for (let i = 0; i < options.nodes; i++) {
    await cloud.create({ name: `sim-${i}`, instanceType: options.instanceType ?? 'sim.large', zone: ['sim-a', 'sim-b', 'sim-c'][i % 3] });
  }
  const plane = await startControlPlane({ store, nodeLifecycle: options.nodeLifecycle, job: options.job });
  return {
    store,
    registry,
    cloud,
    async stop() {
      await plane.stop();
      await cloud.close();
      await store.close();
    },
  };
}

/** The same on the AWS shape: the functions are the controllers, the sim nodes write to the table. */
async function startAwsLocalSimCluster(options: Parameters<typeof startSimCluster>[0]): Promise<SimCluster> {
  const cluster = await startAwsLocalCluster({}, { nodeLifecycle: options.nodeLifecycle });
  const registry = new Registry(cluster.store);
  await registry.ensureSystemNamespaces();
  const cloud = new SimCloudProvider(cluster.store, { leaseIntervalMs: options.leaseIntervalMs ?? 60_000 });
  for (let i = 0; i < options.nodes; i++) {
    await cloud.create({ name: `sim-${i}`, instanceType: options.instanceType ?? 'sim.large', zone: ['sim-a', 'sim-b', 'sim-c'][i % 3] });
  }
  return {
    store: cluster.store,
    registry,
    cloud,
    async stop() {
      await cloud.close();
      await cluster.stop();
    },
  };
}

export { until } from './until.js';

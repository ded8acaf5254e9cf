/**
 * A control plane on simulated nodes for the controller tests: an in-memory SQLite store with
 * the system namespaces, `count` sim nodes (sim-0, sim-1, ... across three zones), and the
 * controllers of `skiff up`.
 */
import { Registry } from '../../shared/api/registry.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { startControlPlane, type ControlPlane } from '../../shared/control-plane.js';
import type { NodeLifecycleOptions } from '../../shared/controllers/node-lifecycle.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { Store } from '../../shared/store/types.js';

export interface SimCluster {
  store: Store;
  registry: Registry;
  cloud: SimCloudProvider;
  plane: ControlPlane;
  stop(): Promise<void>;
}

export async function startSimCluster(options: {
  nodes: number;
  instanceType?: string;
  leaseIntervalMs?: number;
  nodeLifecycle?: NodeLifecycleOptions;
}): Promise<SimCluster> {
  const store = openSqliteStore({ path: ':memory:' });
  const registry = new Registry(store);
  await registry.ensureSystemNamespaces();
  const cloud = new SimCloudProvider(store, { leaseIntervalMs: options.leaseIntervalMs ?? 60_000 });
  for (let i = 0; i < options.nodes; i++) {
    await cloud.create({ name: `sim-${i}`, instanceType: options.instanceType ?? 'sim.large', zone: ['sim-a', 'sim-b', 'sim-c'][i % 3] });
  }
  const plane = await startControlPlane({ store, nodeLifecycle: options.nodeLifecycle });
  return {
    store,
    registry,
    cloud,
    plane,
    async stop() {
      await plane.stop();
      await cloud.close();
      await store.close();
    },
  };
}

export { until } from './until.js';

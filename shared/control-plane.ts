/**
 * The control loop of the embedded shape, in one call: the controllers (scheduler,
 * ReplicaSet, ReplicationController, Deployment, DaemonSet, StatefulSet, Job, CronJob, garbage collector, namespace, node lifecycle, service accounts,
 * disruption budgets, endpoints, persistent volumes, resource quotas, CRDs) on the
 * store's change feed, with the in-process queue for delayed work. The
 * stream Lambda runs the same controllers through `dispatch` instead.
 */
import { CrdController } from './controllers/crd.js';
import { DaemonSetController } from './controllers/daemonset.js';
import { DeploymentController } from './controllers/deployment.js';
import { DisruptionController } from './controllers/disruption.js';
import { EndpointsController } from './controllers/endpoints.js';
import { CronJobController, type CronJobControllerOptions } from './controllers/cronjob.js';
import { GarbageCollector } from './controllers/garbage-collector.js';
import { HorizontalPodAutoscalerController, type HpaOptions } from './controllers/hpa.js';
import { JobController, type JobControllerOptions } from './controllers/job.js';
import { ControllerManager } from './controllers/manager.js';
import { NamespaceController } from './controllers/namespace.js';
import { NodeLifecycleController, type NodeLifecycleOptions } from './controllers/node-lifecycle.js';
import { PersistentVolumeController } from './controllers/persistentvolume.js';
import { ResourceQuotaController } from './controllers/resourcequota.js';
import { MigrationController, type MigrationOptions } from './controllers/migration.js';
import { ProvisionerController, type ProvisionerOptions } from './controllers/provisioner.js';
import { REPLICATION_CONTROLLER, ReplicaSetController } from './controllers/replicaset.js';
import { SchedulerController, type SchedulerOptions } from './controllers/scheduler.js';
import { ServiceAccountController } from './controllers/serviceaccount.js';
import { StatefulSetController } from './controllers/statefulset.js';
import type { Controller } from './controllers/types.js';
import { createQueue } from './queue/factory.js';
import type { Queue } from './queue/types.js';
import type { Store } from './store/types.js';

export interface ControlPlane {
  manager: ControllerManager;
  controllers: Controller[];
  /** Resolves when every reconcile that was due has run. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControllerOptions {
  nodeLifecycle?: NodeLifecycleOptions;
  /** Given, nodes are made for pods that fit nowhere and removed when empty (`provisioner.ts`). */
  provisioner?: ProvisionerOptions;
  /** Given, Migrations move nodes between these providers (`migration.ts`). */
  migration?: MigrationOptions;
  scheduler?: SchedulerOptions;
  job?: JobControllerOptions;
  cronjob?: CronJobControllerOptions;
  /** Given (a way to read pods' CPU use), HorizontalPodAutoscalers are run (`hpa.ts`). */
  hpa?: HpaOptions;
}

export function controllersFor(store: Store, options: ControllerOptions = {}): Controller[] {
  return [
    new SchedulerController(store, options.scheduler),
    new ReplicaSetController(store),
    new ReplicaSetController(store, REPLICATION_CONTROLLER),
    new DeploymentController(store),
    new DaemonSetController(store),
    new StatefulSetController(store),
    new JobController(store, options.job),
    new CronJobController(store, options.cronjob),
    new GarbageCollector(store),
    new NamespaceController(store),
    new CrdController(store),
    new NodeLifecycleController(store, options.nodeLifecycle),
    new ServiceAccountController(store),
    new DisruptionController(store),
    new EndpointsController(store),
    new PersistentVolumeController(store),
    new ResourceQuotaController(store),
    ...(options.hpa ? [new HorizontalPodAutoscalerController(store, options.hpa)] : []),
    ...(options.provisioner ? [new ProvisionerController(store, options.provisioner)] : []),
    ...(options.migration ? [new MigrationController(store, options.migration)] : []),
  ];
}

export async function startControlPlane(options: { store: Store; queue?: Queue; log?: (line: string) => void } & ControllerOptions): Promise<ControlPlane> {
  // Delayed work in this process; a reconcile that keeps failing is retried, never dropped.
  const queue = options.queue ?? (await createQueue('memory://?maxReceives=1000000'));
  // The manager routes every change to every controller from the start: the scheduler can keep
  // its pods from the feed instead of listing them on every pass.
  const controllers = controllersFor(options.store, { ...options, scheduler: { pods: 'feed', ...options.scheduler } });
  const manager = new ControllerManager(options.store, queue, controllers, { log: options.log });
  await manager.start();
  return {
    manager,
    controllers,
    settled: () => manager.settled(),
    async stop() {
      await manager.stop();
      if (!options.queue) await queue.close();
    },
  };
}

/**
 * A simulated kubelet: registers its Node (capacity, allocatable, labels for provider, zone,
 * instance type and hostname, Ready), renews its Lease in kube-node-lease, turns the pods bound
 * to it Running and Ready at once, and confirms their deletion. A pod that is not restarted
 * (`restartPolicy` Never or OnFailure: a Job's) runs for the milliseconds its
 * `sim.skiff.dev/run-ms` annotation says (default 0) and exits with the code of
 * `sim.skiff.dev/exit-code` (default 0; with `sim.skiff.dev/failing-indexes`, only an Indexed Job's pods
 * of those indexes), as kwok's stages make pods finish. It writes to the store directly:
 * it lives inside the control plane's process, for benchmarks and scale tests.
 */
import type { Pod } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isAlreadyExists, isNotFound } from '../errors.js';
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';
import type { InstanceType } from './types.js';

export interface SimKubeletOptions {
  name: string;
  instanceType: InstanceType;
  zone: string;
  labels?: Record<string, string>;
  providerID?: string;
  /** How often the Lease is renewed (default 10 s). */
  leaseIntervalMs?: number;
}

let podIpCounter = 0;

export class SimKubelet {
  private timer?: NodeJS.Timeout;
  private renewing = true;
  private stopped = false;
  /** The renewal under way, if any: stopping waits for it, so none lands after. */
  private renewal?: Promise<void>;

  constructor(
    private readonly store: Store,
    private readonly options: SimKubeletOptions,
  ) {}

  get name(): string {
    return this.options.name;
  }

  async start(): Promise<void> {
    await this.register();
    await this.renewLease();
    this.timer = setInterval(() => {
      this.renewal ??= this.renewLease()
        .catch(() => undefined)
        .finally(() => (this.renewal = undefined));
    }, this.options.leaseIntervalMs ?? 10_000);
    this.timer.unref();
  }

  /**
   * Stops renewing the Lease (the node looks lost) without stopping anything else. Resolves once
   * no renewal is under way: one that landed later would bring the node back.
   */
  async stopRenewing(): Promise<void> {
    this.renewing = false;
    await this.renewal;
  }

  resumeRenewing(): void {
    this.renewing = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private nodeObject(): KubeObject {
    const t = this.options.instanceType;
    const resources = { cpu: `${t.cpu}m`, memory: String(t.memory), pods: String(t.pods) };
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.name,
        labels: {
          'kubernetes.io/hostname': this.name,
          'kubernetes.io/os': 'linux',
          'node.kubernetes.io/instance-type': t.name,
          'topology.kubernetes.io/zone': this.options.zone,
          'skiff.io/provider': 'sim',
          ...this.options.labels,
        },
      },
      spec: { providerID: this.options.providerID, ...(t.taints?.length ? { taints: t.taints } : {}) },
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'simulated kubelet is ready',
            lastHeartbeatTime: nowTimestamp(),
            lastTransitionTime: nowTimestamp(),
          },
        ],
        addresses: [
          { type: 'InternalIP', address: '127.0.0.1' },
          { type: 'Hostname', address: this.name },
        ],
        nodeInfo: {
          kubeletVersion: 'v1.32.0-skiff-sim',
          containerRuntimeVersion: 'sim://1',
          osImage: 'simulated',
          kernelVersion: 'sim',
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
      },
    };
  }

  private async register(): Promise<void> {
    try {
      await this.store.create('nodes', this.nodeObject());
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await guaranteedUpdate(this.store, 'nodes', '', this.name, (node) => ({ ...node, status: this.nodeObject().status }));
    }
  }

  async renewLease(): Promise<void> {
    if (!this.renewing || this.stopped) return;
    const spec = { holderIdentity: this.name, leaseDurationSeconds: 40, renewTime: new Date().toISOString() };
    try {
      await guaranteedUpdate(this.store, 'leases.coordination.k8s.io', 'kube-node-lease', this.name, (lease) =>
        this.renewing ? { ...lease, spec } : undefined,
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.store
        .create('leases.coordination.k8s.io', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.name, namespace: 'kube-node-lease' },
          spec,
        })
        .catch(ignore(isAlreadyExists));
    }
  }

  /** Brings a pod bound to this node to where a kubelet would: Running and Ready, or gone. */
  async sync(pod: Pod): Promise<void> {
    if (this.stopped) return;
    const { namespace = '', name = '' } = pod.metadata;
    if (pod.metadata.deletionTimestamp) {
      // Containers "stop" at once: confirm the deletion.
      await guaranteedUpdate(this.store, 'pods', namespace, name, (p) => ({ ...p, metadata: { ...p.metadata, deletionGracePeriodSeconds: 0 } })).catch(
        ignoreNotFound,
      );
      return;
    }
    if (pod.status?.phase === 'Running' || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    const now = nowTimestamp();
    const containers = pod.spec.containers;
    const condition = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now });
    const podIP = `10.244.${(++podIpCounter >> 8) & 255}.${podIpCounter & 255}`;
    await guaranteedUpdate<Pod>(this.store, 'pods', namespace, name, (p) => {
      if (p.spec.nodeName !== this.name || p.metadata.deletionTimestamp) return undefined;
      return {
        ...p,
        status: {
          ...p.status,
          phase: 'Running',
          conditions: [
            condition('PodReadyToStartContainers'),
            condition('Initialized'),
            condition('Ready'),
            condition('ContainersReady'),
            condition('PodScheduled'),
          ],
          hostIP: '127.0.0.1',
          podIP,
          podIPs: [{ ip: podIP }],
          startTime: now,
          containerStatuses: containers.map((c) => ({
            name: c.name,
            state: { running: { startedAt: now } },
            ready: true,
            started: true,
            restartCount: 0,
            image: c.image ?? '',
            imageID: `sim://${c.image ?? ''}`,
            containerID: `sim://${namespace}/${name}/${c.name}`,
          })),
        },
      };
    }).catch(ignoreNotFound);
    if ((pod.spec.restartPolicy ?? 'Always') === 'Always') return;
    const runMs = Number(pod.metadata.annotations?.['sim.skiff.dev/run-ms'] ?? 0);
    if (runMs > 0) setTimeout(() => void this.finish(pod).catch(() => undefined), runMs).unref();
    else await this.finish(pod);
  }

  /** A pod that is not restarted ends: Succeeded, or Failed with its annotation's exit code. */
  private async finish(pod: Pod): Promise<void> {
    if (this.stopped) return;
    const { namespace = '', name = '' } = pod.metadata;
    const annotations = pod.metadata.annotations ?? {};
    // `sim.skiff.dev/failing-indexes` (`0,3`): only the pods of those completion indexes exit with the code.
    const failing = annotations['sim.skiff.dev/failing-indexes'];
    const index = annotations['batch.kubernetes.io/job-completion-index'];
    const fails = failing === undefined || (index !== undefined && failing.split(',').includes(index));
    const exitCode = fails ? Number(annotations['sim.skiff.dev/exit-code'] ?? 0) : 0;
    const now = nowTimestamp();
    await guaranteedUpdate<Pod>(this.store, 'pods', namespace, name, (p) => {
      if (p.metadata.uid !== pod.metadata.uid || p.spec.nodeName !== this.name || p.status?.phase !== 'Running') return undefined;
      const reason = exitCode === 0 ? 'Completed' : 'Error';
      return {
        ...p,
        status: {
          ...p.status,
          phase: exitCode === 0 ? 'Succeeded' : 'Failed',
          conditions: (p.status.conditions ?? []).map((c) =>
            c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'PodCompleted', lastTransitionTime: now } : c,
          ),
          containerStatuses: (p.status.containerStatuses ?? []).map((c) => ({
            ...c,
            ready: false,
            started: false,
            state: { terminated: { exitCode, reason, startedAt: p.status?.startTime ?? now, finishedAt: now, containerID: c.containerID } },
          })),
        },
      };
    }).catch(ignoreNotFound);
  }
}

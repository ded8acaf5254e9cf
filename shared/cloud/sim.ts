/**
 * The `sim` cloud provider: nodes that exist only in this process, each with a simulated
 * kubelet (`sim-kubelet.ts`) that registers its Node, keeps its Lease fresh and runs bound pods
 * at once. What benchmarks and scale tests run on.
 */
import { typed } from '../api/objects.js';
import type { Pod } from '../api/schemas/index.js';
import type { Store, Subscription } from '../store/types.js';
import { SimKubelet, type SimKubeletOptions } from './sim-kubelet.js';
import { InsufficientCapacityError, type CloudNode, type CloudProvider, type InstanceType, type NodeRequest } from './types.js';

export const SIM_INSTANCE_TYPES: InstanceType[] = [
  { name: 'sim.small', cpu: 2000, memory: 4 * 2 ** 30, pods: 110, zones: ['sim-a', 'sim-b', 'sim-c'] },
  { name: 'sim.large', cpu: 8000, memory: 32 * 2 ** 30, pods: 110, zones: ['sim-a', 'sim-b', 'sim-c'] },
];

export interface SimCloudOptions extends Omit<SimKubeletOptions, 'instanceType' | 'zone' | 'name' | 'labels'> {
  instanceTypes?: InstanceType[];
  /** At most this many nodes (then `InsufficientCapacityError`). */
  maxNodes?: number;
  /** How long a node takes to start (drawn per node; default none): it is `pending` until then. */
  launchDelayMs?: () => number;
}

export class SimCloudProvider implements CloudProvider {
  readonly name = 'sim';
  private readonly nodes = new Map<string, { node: CloudNode; kubelet: SimKubelet }>();
  private readonly types: InstanceType[];
  private subscription?: Subscription;

  constructor(
    private readonly store: Store,
    private readonly options: SimCloudOptions = {},
  ) {
    this.types = options.instanceTypes ?? SIM_INSTANCE_TYPES;
  }

  async instanceTypes(): Promise<InstanceType[]> {
    return this.types;
  }

  async create(request: NodeRequest): Promise<CloudNode> {
    const existing = this.nodes.get(request.name);
    if (existing) return existing.node;
    const type = this.types.find((t) => t.name === request.instanceType);
    if (!type) throw new Error(`unknown instance type ${request.instanceType}`);
    if (!type.zones.includes(request.zone) || this.nodes.size >= (this.options.maxNodes ?? Infinity)) {
      throw new InsufficientCapacityError(request.instanceType, request.zone);
    }
    const node: CloudNode = {
      name: request.name,
      providerID: `sim://${request.zone}/${request.name}`,
      instanceType: type.name,
      zone: request.zone,
      state: 'running',
      labels: request.labels ?? {},
    };
    const kubelet = new SimKubelet(this.store, {
      ...this.options,
      name: request.name,
      instanceType: type,
      zone: request.zone,
      labels: node.labels,
      providerID: node.providerID,
    });
    this.nodes.set(request.name, { node, kubelet });
    // Following pods before the Node registers: a pod bound the moment it does is not missed.
    this.watchPods();
    const delay = this.options.launchDelayMs?.() ?? 0;
    if (delay <= 0) {
      await kubelet.start();
      return node;
    }
    // Booting: the kubelet registers when the delay is over (unless deleted meanwhile).
    node.state = 'pending';
    setTimeout(() => {
      if (this.nodes.get(request.name)?.kubelet !== kubelet) return;
      node.state = 'running';
      void kubelet.start();
    }, delay).unref();
    return { ...node };
  }

  async delete(name: string): Promise<void> {
    const entry = this.nodes.get(name);
    if (!entry) return;
    this.nodes.delete(name);
    await entry.kubelet.stop();
  }

  async get(name: string): Promise<CloudNode | undefined> {
    return this.nodes.get(name)?.node;
  }

  async list(): Promise<CloudNode[]> {
    return [...this.nodes.values()].map((e) => e.node);
  }

  /** One subscription for all simulated kubelets: each pod change goes to its node's kubelet. */
  private watchPods(): void {
    if (this.subscription) return;
    this.subscription = this.store.subscribe(async (events) => {
      const latest = new Map<string, Pod>();
      for (const e of events) {
        if (e.resource !== 'pods' || e.type === 'DELETED') continue;
        latest.set(`${e.object.metadata.namespace}/${e.object.metadata.name}`, typed('pods', e.object));
      }
      await Promise.all(
        [...latest.values()].map((pod) => {
          const nodeName = pod.spec.nodeName;
          return nodeName ? this.nodes.get(nodeName)?.kubelet.sync(pod) : undefined;
        }),
      );
    });
  }

  /** The simulated kubelet of a node, to make it fail in tests (stop renewing, crash). */
  kubelet(name: string): SimKubelet | undefined {
    return this.nodes.get(name)?.kubelet;
  }

  async close(): Promise<void> {
    this.subscription?.close();
    await Promise.all([...this.nodes.values()].map((e) => e.kubelet.stop()));
    this.nodes.clear();
  }
}

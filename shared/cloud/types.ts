/**
 * The `CloudProvider` port: where worker nodes come from. Drivers: `sim` (nodes in this
 * process, for benchmarks and scale tests), `fake` (records only, for tests of what drives the
 * port), `local` (kubelet child processes; kept in kubelet/local-provider.ts beside the
 * kubelet it starts), and `aws-ec2` (EC2 instances whose user data starts the kubelet). Swapping the driver moves a cluster between providers. Every driver
 * passes test/contract/cloud.contract.ts.
 */

/** A node taint (as Node.spec.taints): pods that do not tolerate it are not placed there. */
export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface InstanceType {
  name: string;
  /** Millicores. */
  cpu: number;
  /** Bytes. */
  memory: number;
  /** Pods a node of this type runs at most. */
  pods: number;
  zones: string[];
  /** Dollars an hour, where the provider knows (the provisioner chooses by it). */
  pricePerHour?: number;
  /**
   * Taints every node of this type registers with (a GPU type kept for the pods that ask for it):
   * the provisioner opens such a node only for pods that tolerate them.
   */
  taints?: Taint[];
}

export interface NodeRequest {
  /** The Node's name; creating the same name twice is one node (idempotent). */
  name: string;
  instanceType: string;
  zone: string;
  labels?: Record<string, string>;
}

/** What a launch asks for beside the node's name: alike for all the nodes one call launches. */
export type LaunchRequest = Omit<NodeRequest, 'name'>;

export interface CloudNode {
  name: string;
  /** `<provider>://<id>`, as Node.spec.providerID. */
  providerID: string;
  instanceType: string;
  zone: string;
  state: 'pending' | 'running' | 'terminating';
  labels: Record<string, string>;
}

export interface CloudProvider {
  readonly name: string;
  /** The instance types this provider offers. */
  instanceTypes(): Promise<InstanceType[]>;
  /**
   * Starts a node that will register itself with the API. Idempotent by name: asking again for
   * an existing node returns it. Throws `InsufficientCapacityError` when the provider cannot.
   */
  create(request: NodeRequest): Promise<CloudNode>;
  /** Stops and removes a node. Idempotent: an unknown name is not an error. */
  delete(name: string): Promise<void>;
  /** The node, or undefined. */
  get(name: string): Promise<CloudNode | undefined>;
  list(): Promise<CloudNode[]>;
}

export class InsufficientCapacityError extends Error {
  constructor(
    readonly instanceType: string,
    readonly zone: string,
  ) {
    super(`insufficient capacity for ${instanceType} in ${zone}`);
  }
}

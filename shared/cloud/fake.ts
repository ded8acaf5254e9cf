/**
 * A recording `CloudProvider` for tests of what drives the port (a provisioner, a migration):
 * nodes are records only, no kubelet starts; every call is recorded; and a test can make the
 * next call of a method fail (Karpenter's fake cloud provider: `NextCreateErr`,
 * `CreateCalls`). It honours the port's contract, which `test/contract/cloud.contract.ts`
 * holds it to, as it holds `sim` and `local`.
 */
import { InsufficientCapacityError, type CloudNode, type CloudProvider, type InstanceType, type NodeRequest } from './types.js';

type Method = 'instanceTypes' | 'create' | 'delete' | 'get' | 'list';

export interface RecordedCall {
  method: Method;
  /** The request of a create, the name of a delete or get. */
  argument?: NodeRequest | string;
}

export const FAKE_INSTANCE_TYPES: InstanceType[] = [
  { name: 'fake.small', cpu: 2000, memory: 4 * 2 ** 30, pods: 110, zones: ['zone-a', 'zone-b'] },
  { name: 'fake.large', cpu: 8000, memory: 32 * 2 ** 30, pods: 110, zones: ['zone-a'] },
];

export class FakeCloudProvider implements CloudProvider {
  readonly name = 'fake';
  readonly calls: RecordedCall[] = [];
  private readonly nodes = new Map<string, CloudNode>();
  private readonly failures = new Map<Method, Error[]>();
  private serial = 0;

  constructor(private readonly types: InstanceType[] = FAKE_INSTANCE_TYPES) {}

  /** The next call of `method` throws `error` (calls queue up: each failure is used once). */
  failNext(method: Method, error: Error): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), error]);
  }

  /** The calls of one method, in order. */
  callsOf(method: Method): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async instanceTypes(): Promise<InstanceType[]> {
    this.record('instanceTypes');
    return this.types;
  }

  async create(request: NodeRequest): Promise<CloudNode> {
    this.record('create', request);
    const existing = this.nodes.get(request.name);
    if (existing) return existing;
    const type = this.types.find((t) => t.name === request.instanceType);
    if (!type) throw new Error(`unknown instance type ${request.instanceType}`);
    if (!type.zones.includes(request.zone)) throw new InsufficientCapacityError(request.instanceType, request.zone);
    const node: CloudNode = {
      name: request.name,
      providerID: `fake://${request.zone}/i-${(++this.serial).toString(16).padStart(8, '0')}`,
      instanceType: type.name,
      zone: request.zone,
      state: 'running',
      labels: request.labels ?? {},
    };
    this.nodes.set(request.name, node);
    return node;
  }

  async delete(name: string): Promise<void> {
    this.record('delete', name);
    this.nodes.delete(name);
  }

  async get(name: string): Promise<CloudNode | undefined> {
    this.record('get', name);
    return this.nodes.get(name);
  }

  async list(): Promise<CloudNode[]> {
    this.record('list');
    return [...this.nodes.values()];
  }

  private record(method: Method, argument?: NodeRequest | string): void {
    this.calls.push({ method, argument });
    const failure = this.failures.get(method)?.shift();
    if (failure) throw failure;
  }
}

/**
 * The `aws-ec2` CloudProvider: a node is an EC2 instance whose user data starts the Skiff
 * kubelet, which joins the cluster with a bootstrap token. Instances carry tags naming the
 * cluster (`skiff:cluster`) and the node (`skiff:node`), so any control-plane instance (every
 * function is one) finds them with DescribeInstances alone; nothing is kept that a cold start
 * would lose, but for two short-lived memories that EC2's habits call for:
 *
 * - DescribeInstances is eventually consistent: an instance launched a moment ago may not be
 *   listed yet, so a launch is remembered for `consistencyWindowMs` (and a retried create in that
 *   window reuses its `ClientToken`, so EC2 launches it once);
 * - an offering (type x zone) that answered InsufficientInstanceCapacity is skipped for
 *   `unavailableForMs`, as Karpenter caches unavailable offerings, so the next try goes elsewhere
 *   at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  DescribeInstancesCommand,
  type EC2Client,
  type Instance,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { UnavailableOfferings } from './offerings.js';
import { type CloudNode, type CloudProvider, InsufficientCapacityError, type InstanceType, type NodeRequest } from './types.js';

export interface Ec2InstanceType extends InstanceType {
  /** On-demand dollars an hour, for choosing the cheapest offering that fits. */
  pricePerHour: number;
}

export interface AwsEc2Options {
  client: EC2Client;
  /** The cluster's name, tagged on every instance. */
  cluster: string;
  catalogue: Ec2InstanceType[];
  launchTemplateId?: string;
  /** The subnet to launch into, per zone (the VPC's private subnets); absent: the default. */
  subnets?: Record<string, string>;
  /** The launch script of a node (user data, at most 16 KB). */
  userData(node: NodeRequest): Promise<string> | string;
  /** How long an offering that ran out of capacity is skipped (default 3 minutes). */
  unavailableForMs?: number;
  /** How long a launch is trusted while DescribeInstances does not list it yet (default 30 s). */
  consistencyWindowMs?: number;
  now?: () => number;
}

const CAPACITY_ERRORS = new Set(['InsufficientInstanceCapacity', 'Unsupported', 'InsufficientHostCapacity']);
const LIVE_STATES = ['pending', 'running'];
const LABEL_TAG = 'skiff:label/';
export const CAPACITY_TYPE_LABEL = 'skiff.dev/capacity-type';
export const PRICE_LABEL = 'skiff.dev/price-per-hour';

interface Launch {
  /** Once EC2 answered: the node, and its instance. */
  node?: CloudNode;
  instanceId?: string;
  clientToken: string;
  until: number;
}

export class AwsEc2CloudProvider implements CloudProvider {
  readonly name = 'aws-ec2';
  private readonly unavailable: UnavailableOfferings;
  private readonly launches = new Map<string, Launch>();
  private readonly now: () => number;

  constructor(private readonly options: AwsEc2Options) {
    this.now = options.now ?? Date.now;
    this.unavailable = new UnavailableOfferings(options.unavailableForMs ?? 180_000, this.now);
  }

  async instanceTypes(): Promise<InstanceType[]> {
    return this.unavailable.filter(this.options.catalogue);
  }

  async create(asked: NodeRequest): Promise<CloudNode> {
    const type = this.options.catalogue.find((t) => t.name === asked.instanceType);
    if (!type?.zones.includes(asked.zone) || this.unavailable.has(asked.instanceType, asked.zone))
      throw new InsufficientCapacityError(asked.instanceType, asked.zone);
    // What `kubectl get nodes -L` shows beside the type and zone: how it is paid for, and its price.
    const request = { ...asked, labels: { ...asked.labels, [CAPACITY_TYPE_LABEL]: 'on-demand', [PRICE_LABEL]: String(type.pricePerHour) } };
    const existing = await this.get(request.name);
    if (existing) return existing;
    const launch = this.launchOf(request.name);
    const tags = [
      { Key: 'skiff:cluster', Value: this.options.cluster },
      { Key: 'skiff:node', Value: request.name },
      { Key: 'Name', Value: `${this.options.cluster}/${request.name}` },
      ...Object.entries(request.labels ?? {}).map(([k, v]) => ({ Key: `${LABEL_TAG}${k}`, Value: v })),
    ];
    try {
      const out = await this.options.client.send(
        new RunInstancesCommand({
          MinCount: 1,
          MaxCount: 1,
          InstanceType: request.instanceType as _InstanceType,
          Placement: { AvailabilityZone: request.zone },
          ...(this.options.subnets?.[request.zone] ? { SubnetId: this.options.subnets[request.zone] } : {}),
          ...(this.options.launchTemplateId ? { LaunchTemplate: { LaunchTemplateId: this.options.launchTemplateId } } : {}),
          UserData: Buffer.from(await this.options.userData(request)).toString('base64'),
          TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
          ClientToken: launch.clientToken,
        }),
      );
      const instance = out.Instances?.[0];
      if (!instance) throw new Error(`RunInstances for ${request.name} returned no instance`);
      launch.node = this.toNode(instance);
      launch.instanceId = instance.InstanceId;
      launch.until = this.now() + (this.options.consistencyWindowMs ?? 30_000);
      return launch.node;
    } catch (err) {
      this.launches.delete(request.name);
      if (CAPACITY_ERRORS.has((err as { name?: string }).name ?? '')) {
        this.unavailable.mark(request.instanceType, request.zone);
        throw new InsufficientCapacityError(request.instanceType, request.zone);
      }
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    const ids = new Set((await this.describe(name)).map((i) => i.InstanceId as string));
    const launch = this.launches.get(name);
    if (launch?.instanceId) ids.add(launch.instanceId);
    this.launches.delete(name);
    if (ids.size === 0) return;
    try {
      await this.options.client.send(new TerminateInstancesCommand({ InstanceIds: [...ids] }));
    } catch (err) {
      // Already gone, or not listed yet and so not known to this call: nothing to stop.
      if ((err as { name?: string }).name !== 'InvalidInstanceID.NotFound') throw err;
    }
  }

  async get(name: string): Promise<CloudNode | undefined> {
    const [instance] = await this.describe(name);
    if (instance) return this.toNode(instance);
    return this.recent(name);
  }

  async list(): Promise<CloudNode[]> {
    const nodes = new Map((await this.describe()).map((i) => [this.nodeName(i), this.toNode(i)]));
    for (const name of this.launches.keys()) {
      const recent = this.recent(name);
      if (recent && !nodes.has(name)) nodes.set(name, recent);
    }
    return [...nodes.values()];
  }

  /**
   * Terminates the cluster's instances that belong to no node: their `skiff:node` is not among
   * `nodes` (the Node objects, or the claims, that exist) and they were launched more than
   * `graceMs` ago (a kubelet needs a moment to register). Karpenter waits 30 s likewise. Returns
   * the instances terminated.
   */
  async collectGarbage(nodes: ReadonlySet<string>, graceMs = 30_000): Promise<string[]> {
    const cutoff = this.now() - graceMs;
    const orphans = (await this.describe()).filter(
      (i) => !nodes.has(this.nodeName(i)) && !this.recent(this.nodeName(i)) && (i.LaunchTime?.getTime() ?? this.now()) < cutoff,
    );
    const ids = orphans.map((i) => i.InstanceId as string);
    if (ids.length) await this.options.client.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    return ids;
  }

  /** The cluster's live instances (of one node, when named). */
  private async describe(name?: string): Promise<Instance[]> {
    const Filters = [
      { Name: 'tag:skiff:cluster', Values: [this.options.cluster] },
      { Name: 'instance-state-name', Values: LIVE_STATES },
      ...(name ? [{ Name: 'tag:skiff:node', Values: [name] }] : []),
    ];
    const found: Instance[] = [];
    let NextToken: string | undefined;
    do {
      const page = await this.options.client.send(new DescribeInstancesCommand({ Filters, NextToken }));
      for (const r of page.Reservations ?? []) found.push(...(r.Instances ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return found;
  }

  /** A launch made here and not yet listed by EC2, while it is trusted. */
  private recent(name: string): CloudNode | undefined {
    const launch = this.launches.get(name);
    if (!launch?.node) return undefined;
    if (launch.until <= this.now()) {
      this.launches.delete(name);
      return undefined;
    }
    return launch.node;
  }

  /** The launch under way for a node, or a new one with its own ClientToken (at most 64 characters). */
  private launchOf(name: string): Launch {
    const existing = this.launches.get(name);
    if (existing) return existing;
    const digest = createHash('sha256').update(`${this.options.cluster}/${name}`).digest('hex').slice(0, 40);
    const launch: Launch = { clientToken: `${digest}-${randomBytes(8).toString('hex')}`, until: 0 };
    this.launches.set(name, launch);
    return launch;
  }

  private nodeName(i: Instance): string {
    return i.Tags?.find((t) => t.Key === 'skiff:node')?.Value ?? (i.InstanceId as string);
  }

  private toNode(i: Instance): CloudNode {
    const zone = i.Placement?.AvailabilityZone ?? '';
    const state = i.State?.Name === 'running' ? 'running' : i.State?.Name === 'pending' ? 'pending' : 'terminating';
    const labels: Record<string, string> = {};
    for (const t of i.Tags ?? []) if (t.Key?.startsWith(LABEL_TAG)) labels[t.Key.slice(LABEL_TAG.length)] = t.Value ?? '';
    return { name: this.nodeName(i), providerID: `aws-ec2://${zone}/${i.InstanceId}`, instanceType: i.InstanceType ?? '', zone, state, labels };
  }
}

/**
 * The `aws-ec2` CloudProvider: a node is an EC2 instance whose user data starts the Skiff
 * kubelet, which joins the cluster with a bootstrap token. Instances carry tags naming the
 * cluster (`skiff:cluster`) and the node (`skiff:node`), so any control-plane instance (every
 * function is one) finds them with DescribeInstances alone.
 *
 * Launches are batched as Karpenter batches them: creates of the same type, zone and labels that
 * come within a moment of each other (`batchIdleMs`, at most `batchMaxMs`) are one CreateFleet
 * call of type `instant`, so a thousand pending pods cost a handful of calls against EC2's
 * request limits, not one call per node. The launch script is the batch's, set as the user data
 * of a launch template version made on the cluster's template for the call (and deleted after:
 * instances keep the user data they started with). Each instance is then tagged with its node's
 * name, which its kubelet reads from the instance metadata (tags in metadata are enabled).
 *
 * Nothing is kept that a cold start would lose, but for two short-lived memories that EC2's
 * habits call for:
 *
 * - DescribeInstances is eventually consistent: an instance launched a moment ago may not be
 *   listed yet, so a launch is remembered for `consistencyWindowMs`;
 * - an offering (type x zone) that answered InsufficientInstanceCapacity is skipped for
 *   `unavailableForMs`, as Karpenter caches unavailable offerings, so the next try goes elsewhere
 *   at once.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateFleetCommand,
  type CreateFleetCommandOutput,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DeleteLaunchTemplateVersionsCommand,
  DescribeInstancesCommand,
  type EC2Client,
  type Instance,
  TerminateInstancesCommand,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { Batcher } from './batcher.js';
import { UnavailableOfferings } from './offerings.js';
import { type CloudNode, type CloudProvider, InsufficientCapacityError, type InstanceType, type LaunchRequest, type NodeRequest } from './types.js';

export interface Ec2InstanceType extends InstanceType {
  /** On-demand dollars an hour, for choosing the cheapest offering that fits. */
  pricePerHour: number;
}

export interface AwsEc2Options {
  client: EC2Client;
  /** The cluster's name, tagged on every instance. */
  cluster: string;
  catalogue: Ec2InstanceType[];
  /** The cluster's launch template (the AMI, instance profile, security groups: infra/workers.ts). */
  launchTemplateId: string;
  /** The subnet to launch into, per zone (the VPC's private subnets); absent: the default. */
  subnets?: Record<string, string>;
  /**
   * The launch script of the nodes of one launch (user data, at most 16 KB): the same for each
   * node of a fleet call, so it does not name the node (`kubeletUserData` reads the name from
   * the instance's tag).
   */
  userData(launch: LaunchRequest): Promise<string> | string;
  /** How long an offering that ran out of capacity is skipped (default 3 minutes). */
  unavailableForMs?: number;
  /** How long a launch is trusted while DescribeInstances does not list it yet (default 30 s). */
  consistencyWindowMs?: number;
  /** Creates alike are one fleet call once none has come for this long (default 35 ms)... */
  batchIdleMs?: number;
  /** ...or this long after the first (default 1 s). */
  batchMaxMs?: number;
  now?: () => number;
}

const CAPACITY_ERRORS = new Set(['InsufficientInstanceCapacity', 'Unsupported', 'InsufficientHostCapacity']);
const LIVE_STATES = ['pending', 'running'];
/** A label's tag: `skiff:label:` and its key with `@` for `/`, which tags in instance metadata may not hold. */
const LABEL_TAG = 'skiff:label:';
export const CAPACITY_TYPE_LABEL = 'skiff.dev/capacity-type';
export const PRICE_LABEL = 'skiff.dev/price-per-hour';

interface Launch {
  /** While the fleet call is under way: its answer for this node. */
  pending?: Promise<CloudNode>;
  /** Once EC2 answered: the node, and its instance. */
  node?: CloudNode;
  instanceId?: string;
  until: number;
}

/** The metadata options of every node: IMDSv2 only, and tags readable (the node's name is one). */
const METADATA_OPTIONS = { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 2, InstanceMetadataTags: 'enabled' } as const;
/** A fleet call asks for at most this many instances (Karpenter's batch limit too). */
const MAX_BATCH = 1000;

export class AwsEc2CloudProvider implements CloudProvider {
  readonly name = 'aws-ec2';
  private readonly unavailable: UnavailableOfferings;
  private readonly launches = new Map<string, Launch>();
  private readonly now: () => number;

  private readonly batcher: Batcher<NodeRequest, CloudNode>;

  constructor(private readonly options: AwsEc2Options) {
    this.now = options.now ?? Date.now;
    this.unavailable = new UnavailableOfferings(options.unavailableForMs ?? 180_000, this.now);
    this.batcher = new Batcher((requests) => this.launch(requests), {
      idleMs: options.batchIdleMs ?? 35,
      maxMs: options.batchMaxMs ?? 1000,
      maxItems: MAX_BATCH,
    });
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
    const existing = this.launches.get(request.name)?.pending ?? (await this.get(request.name));
    if (existing) return existing;
    const key = JSON.stringify([request.instanceType, request.zone, Object.entries(request.labels).sort()]);
    const pending = this.batcher.add(key, request);
    const launch: Launch = { pending, until: 0 };
    this.launches.set(request.name, launch);
    try {
      const node = await pending;
      launch.node = node;
      launch.instanceId = node.providerID.split('/').pop();
      launch.until = this.now() + (this.options.consistencyWindowMs ?? 30_000);
      return node;
    } catch (err) {
      this.launches.delete(request.name);
      throw err;
    } finally {
      launch.pending = undefined;
    }
  }

  /**
   * One fleet call for like requests: the launch script goes into a version of the cluster's
   * launch template made for the call, the instances are tagged with their nodes' names once EC2
   * has answered, and the version is deleted. Requests the fleet had no instance for fail, for
   * capacity when that is what EC2 said (the offering is then skipped for a while).
   */
  private async launch(requests: NodeRequest[]): Promise<(CloudNode | Error)[]> {
    const { instanceType, zone, labels = {} } = requests[0] as NodeRequest;
    const client = this.options.client;
    const LaunchTemplateId = this.options.launchTemplateId;
    const userData = await this.options.userData({ instanceType, zone, labels });
    const made = await client.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId,
        SourceVersion: '$Default',
        LaunchTemplateData: { UserData: Buffer.from(userData).toString('base64'), MetadataOptions: METADATA_OPTIONS },
      }),
    );
    const Version = String(made.LaunchTemplateVersion?.VersionNumber);
    let fleet: CreateFleetCommandOutput;
    try {
      fleet = await client.send(
        new CreateFleetCommand({
          Type: 'instant',
          LaunchTemplateConfigs: [
            {
              LaunchTemplateSpecification: { LaunchTemplateId, Version },
              Overrides: [{ InstanceType: instanceType as _InstanceType, AvailabilityZone: zone, SubnetId: this.options.subnets?.[zone] }],
            },
          ],
          TargetCapacitySpecification: { TotalTargetCapacity: requests.length, DefaultTargetCapacityType: 'on-demand' },
          TagSpecifications: [
            { ResourceType: 'instance', Tags: this.tags(labels) },
            { ResourceType: 'fleet', Tags: [{ Key: 'skiff:cluster', Value: this.options.cluster }] },
          ],
          ClientToken: randomUUID(),
        }),
      );
    } finally {
      await client.send(new DeleteLaunchTemplateVersionsCommand({ LaunchTemplateId, Versions: [Version] })).catch(() => undefined);
    }
    const ids = (fleet.Instances ?? []).flatMap((i) => i.InstanceIds ?? []);
    const refused = fleet.Errors?.find((e) => CAPACITY_ERRORS.has(e.ErrorCode ?? ''));
    if (refused && ids.length < requests.length) this.unavailable.mark(instanceType, zone);
    return Promise.all(
      requests.map(async (request, k) => {
        const id = ids[k];
        if (!id)
          return refused
            ? new InsufficientCapacityError(instanceType, zone)
            : new Error(`CreateFleet launched no instance for ${request.name}: ${fleet.Errors?.[0]?.ErrorMessage ?? 'no reason given'}`);
        await this.tagName(id, request.name);
        const node: CloudNode = { name: request.name, providerID: `aws-ec2://${zone}/${id}`, instanceType, zone, state: 'pending', labels };
        return node;
      }),
    );
  }

  /** The tags of the cluster's instances: the cluster, and the node's labels. */
  private tags(labels: Record<string, string>) {
    return [
      { Key: 'skiff:cluster', Value: this.options.cluster },
      ...Object.entries(labels).map(([k, v]) => ({ Key: `${LABEL_TAG}${k.replace(/\//g, '@')}`, Value: v })),
    ];
  }

  /**
   * Tags an instance with its node's name (which its kubelet waits for). A tag on an instance
   * EC2 has only just launched may be refused as not found yet: tried again, for some seconds.
   */
  private async tagName(id: string, node: string): Promise<void> {
    const Tags = [
      { Key: 'skiff:node', Value: node },
      { Key: 'Name', Value: `${this.options.cluster}/${node}` },
    ];
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.client.send(new CreateTagsCommand({ Resources: [id], Tags }));
        return;
      } catch (err) {
        if ((err as { name?: string }).name !== 'InvalidInstanceID.NotFound' || attempt >= 6) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
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
    // An instance not yet tagged with its node (a fleet answered a moment ago) is not a node yet.
    const named = (await this.describe()).filter((i) => i.Tags?.some((t) => t.Key === 'skiff:node'));
    const nodes = new Map(named.map((i) => [this.nodeName(i), this.toNode(i)]));
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

  private nodeName(i: Instance): string {
    return i.Tags?.find((t) => t.Key === 'skiff:node')?.Value ?? (i.InstanceId as string);
  }

  private toNode(i: Instance): CloudNode {
    const zone = i.Placement?.AvailabilityZone ?? '';
    const state = i.State?.Name === 'running' ? 'running' : i.State?.Name === 'pending' ? 'pending' : 'terminating';
    const labels: Record<string, string> = {};
    for (const t of i.Tags ?? []) if (t.Key?.startsWith(LABEL_TAG)) labels[t.Key.slice(LABEL_TAG.length).replace(/@/g, '/')] = t.Value ?? '';
    return { name: this.nodeName(i), providerID: `aws-ec2://${zone}/${i.InstanceId}`, instanceType: i.InstanceType ?? '', zone, state, labels };
  }
}

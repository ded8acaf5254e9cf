/**
 * The `aws-ecs` CloudProvider: a node is ECS capacity behind a kubelet. The kubelet itself runs
 * as a small Fargate task (the launch script of `kubelet-script.ts` as its command) with the
 * `ecs` runtime, so each pod bound to the node becomes a Fargate task of its own. The node's
 * size is a choice from a catalogue of virtual shapes (`fargate.4x8` and up): what its pods may
 * request in all, priced at Fargate's rates plus the kubelet task's own.
 *
 * Tasks carry the cluster and node in tags and the node in `startedBy`, so any control-plane
 * instance finds a node's kubelet with ListTasks alone. Deleting a node stops its kubelet task,
 * then (in case the kubelet could not) every pod task tagged with the node, and deregisters the
 * task definitions the node registered: nothing of a removed node is left in ECS.
 *
 * As with EC2, an offering (shape x zone) whose launch found no Fargate capacity is skipped for
 * a while, so the next try goes to another zone.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { FARGATE_PRICE, fargatePrice } from './fargate.js';
import { UnavailableOfferings } from './offerings.js';
import { type CloudNode, type CloudProvider, InsufficientCapacityError, type InstanceType, type NodeRequest } from './types.js';

export interface AwsEcsOptions {
  client: ECSClient;
  /** The ECS cluster, and the Skiff cluster's name in tags. */
  cluster: string;
  catalogue: InstanceType[];
  /** The subnet of each zone the nodes' tasks run in. */
  subnets: Record<string, string>;
  securityGroups?: string[];
  /** The image holding the Skiff kubelet. */
  kubeletImage: string;
  /** The kubelet task's environment: the `ecs` runtime's settings (factory.ts) and endpoints. */
  kubeletEnvironment?: Record<string, string>;
  /** The command each node's kubelet task runs (the launch script; at most ~8 KB with the overrides). */
  kubeletScript(node: NodeRequest): Promise<string> | string;
  logGroup?: string;
  region?: string;
  /** The role ECS pulls images and writes logs with (Fargate needs one for awslogs). */
  executionRoleArn: string;
  /** The kubelet task's role: it runs its pods' tasks (infra/workers.ts). */
  kubeletRoleArn?: string;
  /** How long an offering without capacity is skipped (default 3 minutes). */
  unavailableForMs?: number;
  now?: () => number;
}

const GiB = 2 ** 30;
const KUBELET_CONTAINER = 'kubelet';
const NODE_TAG = 'skiff:node';
const LABEL_TAG = 'skiff:label/';
/** The kubelet task's own size (CPU units, MiB) and so the node's fixed price. */
const KUBELET_SIZE = { cpu: 256, memory: 512 };

/** [vCPUs, GiB, pods] of the virtual node shapes offered. */
const SHAPES: [number, number, number][] = [
  [4, 8, 20],
  [8, 16, 40],
  [16, 32, 80],
  [32, 64, 160],
];

/** The virtual node shapes, in `zones`, each priced as all its capacity on Fargate plus its kubelet task. */
export function fargateCatalogue(zones: string[]): InstanceType[] {
  return SHAPES.map(([vcpus, gib, pods]) => ({
    name: `fargate.${vcpus}x${gib}`,
    cpu: vcpus * 1000,
    memory: gib * GiB,
    pods,
    zones: [...zones],
    pricePerHour: Number((vcpus * FARGATE_PRICE.vcpuHour + gib * FARGATE_PRICE.gbHour + fargatePrice(KUBELET_SIZE)).toFixed(5)),
  }));
}

const startedByOf = (node: string) => `skiff-node/${node}`;
const taskId = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);
const nameOf = (t: Task) => t.tags?.find((tag) => tag.key === NODE_TAG)?.value ?? t.startedBy?.replace(/^skiff-node\//, '') ?? '';

export class AwsEcsCloudProvider implements CloudProvider {
  readonly name = 'aws-ecs';
  private readonly unavailable: UnavailableOfferings;
  private kubeletDefinition?: Promise<string>;
  private readonly now: () => number;

  constructor(private readonly options: AwsEcsOptions) {
    this.now = options.now ?? Date.now;
    this.unavailable = new UnavailableOfferings(options.unavailableForMs ?? 180_000, this.now);
  }

  async instanceTypes(): Promise<InstanceType[]> {
    return this.unavailable.filter(this.options.catalogue);
  }

  async create(asked: NodeRequest): Promise<CloudNode> {
    const shape = this.options.catalogue.find((t) => t.name === asked.instanceType);
    const subnet = this.options.subnets[asked.zone];
    if (!shape?.zones.includes(asked.zone) || !subnet || this.unavailable.has(asked.instanceType, asked.zone))
      throw new InsufficientCapacityError(asked.instanceType, asked.zone);
    const request = {
      ...asked,
      labels: { ...asked.labels, 'skiff.dev/capacity-type': 'fargate', 'skiff.dev/price-per-hour': String(shape.pricePerHour ?? 0) },
    };
    const existing = await this.get(request.name);
    if (existing) return existing;
    const out = await this.options.client.send(
      new RunTaskCommand({
        cluster: this.options.cluster,
        taskDefinition: await this.kubeletTaskDefinition(),
        launchType: 'FARGATE',
        count: 1,
        startedBy: startedByOf(request.name),
        // The SDK's own retries of this call send the same token, so ECS starts one task.
        clientToken: randomUUID(),
        networkConfiguration: { awsvpcConfiguration: { subnets: [subnet], securityGroups: this.options.securityGroups, assignPublicIp: 'DISABLED' } },
        overrides: { containerOverrides: [{ name: KUBELET_CONTAINER, command: ['sh', '-c', await this.options.kubeletScript(request)] }] },
        tags: [
          { key: 'skiff:cluster', value: this.options.cluster },
          { key: NODE_TAG, value: request.name },
          { key: 'skiff:instance-type', value: request.instanceType },
          ...Object.entries(request.labels).map(([k, v]) => ({ key: `${LABEL_TAG}${k}`, value: v })),
        ],
      }),
    );
    const task = out.tasks?.[0];
    if (!task) {
      const reason = out.failures?.map((f) => f.reason).join('; ') ?? '';
      if (/capacity/i.test(reason)) {
        this.unavailable.mark(request.instanceType, request.zone);
        throw new InsufficientCapacityError(request.instanceType, request.zone);
      }
      throw new Error(`RunTask for node ${request.name}: ${reason || 'no task started'}`);
    }
    // RunTask's answer need not carry the tags: what was asked for is what the node is.
    return { ...this.toNode(task), name: request.name, instanceType: request.instanceType, zone: request.zone, labels: request.labels };
  }

  /** The kubelet's task definition: the latest revision of its family when it is the same, else a new one. */
  private kubeletTaskDefinition(): Promise<string> {
    this.kubeletDefinition ??= (async () => {
      const family = this.kubeletFamily;
      const environment = Object.entries(this.options.kubeletEnvironment ?? {}).map(([name, value]) => ({ name, value }));
      const input = {
        family,
        networkMode: 'awsvpc' as const,
        requiresCompatibilities: ['FARGATE' as const],
        cpu: String(KUBELET_SIZE.cpu),
        memory: String(KUBELET_SIZE.memory),
        executionRoleArn: this.options.executionRoleArn,
        ...(this.options.kubeletRoleArn ? { taskRoleArn: this.options.kubeletRoleArn } : {}),
        containerDefinitions: [
          {
            name: KUBELET_CONTAINER,
            image: this.options.kubeletImage,
            essential: true,
            environment,
            stopTimeout: 120,
            logConfiguration: {
              logDriver: 'awslogs' as const,
              options: {
                'awslogs-group': this.options.logGroup ?? `/skiff/${this.options.cluster}`,
                'awslogs-region': this.options.region ?? 'us-east-1',
                'awslogs-stream-prefix': 'node',
                'awslogs-create-group': 'true',
              },
            },
          },
        ],
      };
      const hash = createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 16);
      const latest = await this.options.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ['TAGS'] })).catch(() => undefined);
      if (latest?.taskDefinition?.status === 'ACTIVE' && latest.tags?.some((t) => t.key === 'skiff:template' && t.value === hash))
        return latest.taskDefinition.taskDefinitionArn!;
      const out = await this.options.client.send(new RegisterTaskDefinitionCommand({ ...input, tags: [{ key: 'skiff:template', value: hash }] }));
      return out.taskDefinition!.taskDefinitionArn!;
    })().catch((err) => {
      this.kubeletDefinition = undefined;
      throw err;
    });
    return this.kubeletDefinition;
  }

  async delete(name: string): Promise<void> {
    for (const t of await this.kubeletTasks(name)) await this.stopTask(t.taskArn!, 'node deleted');
    // The kubelet stops its pods as it goes; what it could not (it died, say) is stopped here.
    const all = await this.describe(await this.taskArns({}));
    const pods = all.filter((t) => nameOf(t) === name && !t.startedBy?.startsWith('skiff-node/') && t.desiredStatus !== 'STOPPED');
    for (const t of pods) await this.stopTask(t.taskArn!, 'node deleted');
    await this.deregisterDefinitionsOf(name);
    // The last node gone: the kubelet's definitions go too, whoever registered them (the next node registers one again).
    if ((await this.list()).length > 0) return;
    this.kubeletDefinition = undefined;
    for (const arn of await this.definitionArns(this.kubeletFamily))
      await this.options.client.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn })).catch(() => undefined);
  }

  /** The ACTIVE task definitions (of one family, when named), every page. */
  private async definitionArns(family?: string): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.options.client.send(new ListTaskDefinitionsCommand({ ...(family ? { familyPrefix: family } : {}), status: 'ACTIVE', nextToken }));
      arns.push(...(out.taskDefinitionArns ?? []));
      nextToken = out.nextToken;
    } while (nextToken);
    return arns;
  }

  private get kubeletFamily(): string {
    return `skiff-kubelet-${this.options.cluster}`.replace(/[^A-Za-z0-9_-]/g, '_');
  }

  private async stopTask(task: string, reason: string): Promise<void> {
    await this.options.client.send(new StopTaskCommand({ cluster: this.options.cluster, task, reason })).catch((err: { name?: string }) => {
      if (err.name !== 'InvalidParameterException') throw err;
    });
  }

  /** Deregisters the pod task definitions the node's kubelet registered (tagged with the node). */
  private async deregisterDefinitionsOf(name: string): Promise<void> {
    for (const arn of await this.definitionArns()) {
      if (!arn.includes(':task-definition/skiff-') || arn.includes(':task-definition/skiff-kubelet-')) continue;
      const d = await this.options.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] })).catch(() => undefined);
      if (d?.tags?.some((t) => t.key === NODE_TAG && t.value === name))
        await this.options.client.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn })).catch(() => undefined);
    }
  }

  async get(name: string): Promise<CloudNode | undefined> {
    const [task] = await this.kubeletTasks(name);
    return task && this.toNode(task);
  }

  async list(): Promise<CloudNode[]> {
    const tasks = await this.describe(await this.taskArns({ family: this.kubeletFamily }));
    return tasks.filter((t) => t.desiredStatus === 'RUNNING').map((t) => this.toNode(t));
  }

  /** The node's kubelet tasks that are meant to run. */
  private async kubeletTasks(name: string): Promise<Task[]> {
    const tasks = await this.describe(await this.taskArns({ startedBy: startedByOf(name) }));
    return tasks.filter((t) => t.desiredStatus === 'RUNNING');
  }

  private async taskArns(filter: { family?: string; startedBy?: string }): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.options.client.send(new ListTasksCommand({ cluster: this.options.cluster, desiredStatus: 'RUNNING', ...filter, nextToken }));
      arns.push(...(out.taskArns ?? []));
      nextToken = out.nextToken;
    } while (nextToken);
    return arns;
  }

  private async describe(arns: string[]): Promise<Task[]> {
    const tasks: Task[] = [];
    for (let i = 0; i < arns.length; i += 100) {
      const out = await this.options.client.send(new DescribeTasksCommand({ cluster: this.options.cluster, tasks: arns.slice(i, i + 100), include: ['TAGS'] }));
      tasks.push(...(out.tasks ?? []));
    }
    return tasks;
  }

  private toNode(t: Task): CloudNode {
    const tag = (key: string) => t.tags?.find((x) => x.key === key)?.value;
    const labels: Record<string, string> = {};
    for (const x of t.tags ?? []) if (x.key?.startsWith(LABEL_TAG)) labels[x.key.slice(LABEL_TAG.length)] = x.value ?? '';
    const zone = t.availabilityZone ?? '';
    const state = t.desiredStatus === 'STOPPED' ? 'terminating' : t.lastStatus === 'RUNNING' ? 'running' : 'pending';
    return { name: nameOf(t), providerID: `aws-ecs://${zone}/${taskId(t.taskArn ?? '')}`, instanceType: tag('skiff:instance-type') ?? '', zone, state, labels };
  }
}

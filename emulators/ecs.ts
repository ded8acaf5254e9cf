/**
 * An ECS endpoint on loopback (an emulator: emulators/README.md). No local ECS engine exists, so
 * this speaks ECS's JSON 1.1 protocol (`X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Action>`)
 * to the real AWS SDK over real HTTP, for what the `aws-ecs` provider and the kubelet's `ecs`
 * runtime call: CreateCluster, RegisterTaskDefinition, DescribeTaskDefinition,
 * ListTaskDefinitions, DeregisterTaskDefinition, RunTask, DescribeTasks, ListTasks, StopTask and
 * ExecuteCommand (ECS Exec, its Session Manager channel served by `ssm-agent.ts`).
 * It keeps the limits AWS documents (../shared/AWS.md):
 *
 * - RunTask starts 1 to 10 tasks; its `overrides` are at most 8,192 characters; `startedBy` at
 *   most 128; awsvpc (Fargate's only mode) needs a `networkConfiguration` with subnets;
 * - a Fargate task's cpu and memory must be one of Fargate's sizes, and the awslogs driver needs
 *   an execution role;
 * - Fargate launches draw from a token bucket (burst 100, 20 a second): `ThrottlingException`;
 * - a `clientToken` makes RunTask idempotent;
 * - tasks go PROVISIONING, PENDING, RUNNING, then STOPPING and STOPPED, with `stopCode`,
 *   `stoppedReason` and each container's exit code; stopped tasks stay described for a while
 *   (an hour in ECS), then are `MISSING`.
 *
 * A task really runs. Its containers are containers on a private Docker engine, on a bridge
 * network of the emulator's own, so each task has an address of its own that this machine
 * reaches (its ENI's `privateIPv4Address`). As on Fargate, a pause container holds the task's
 * network and its containers join it: one address, `localhost` between them. An image named in `hostImages` (the kubelet's,
 * which no registry here holds) runs as a process of this machine instead, with a loopback
 * address of its own. With the awslogs driver, what a container prints goes to the CloudWatch
 * Logs emulator, to the group and `<prefix>/<container>/<task id>` stream ECS would use; a
 * missing group fails the task as ECS does, unless `awslogs-create-group` is true.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DockerRuntime } from '../kubelet/runtime/docker.js';
import type { ContainerSpec } from '../kubelet/runtime/types.js';
import { isFargateSize } from '../shared/cloud/fargate.js';
import { type HostProcess, startHostProcess } from './host-process.js';
import { BUSYBOX_IMAGE, engineApi } from './docker-engine.js';
import { AwsJsonError, type JsonParams, type JsonService, serveJson11 } from './json-service.js';
import type { LogsEmulator } from './logs.js';
import { SsmAgent } from './ssm-agent.js';
import { TokenBucket } from './token-bucket.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const MAX_OVERRIDES = 8192;
const MAX_STARTED_BY = 128;

type TaskStatus = 'PROVISIONING' | 'PENDING' | 'RUNNING' | 'STOPPING' | 'STOPPED';

interface ContainerDefinition {
  name: string;
  image: string;
  entryPoint?: string[];
  command?: string[];
  environment?: { name: string; value: string }[];
  essential?: boolean;
  stopTimeout?: number;
  memory?: number;
  portMappings?: { containerPort: number; protocol?: string }[];
  healthCheck?: { command: string[]; interval?: number; timeout?: number; retries?: number; startPeriod?: number };
  logConfiguration?: { logDriver: string; options?: Record<string, string> };
  workingDirectory?: string;
  user?: string;
  readonlyRootFilesystem?: boolean;
  privileged?: boolean;
  linuxParameters?: { capabilities?: { add?: string[]; drop?: string[] } };
  mountPoints?: { sourceVolume: string; containerPath: string; readOnly?: boolean }[];
  dependsOn?: { containerName: string; condition: 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY' }[];
}

interface TaskDefinition {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE';
  networkMode: string;
  requiresCompatibilities: string[];
  cpu?: string;
  memory?: string;
  containerDefinitions: ContainerDefinition[];
  taskRoleArn?: string;
  /** Task storage: Fargate's ephemeral bind volumes, shared by the task's containers. */
  volumes: { name: string; host?: { sourcePath?: string } }[];
  registeredAt: number;
  deregisteredAt?: number;
  tags: { key: string; value: string }[];
}

interface RunningContainer {
  def: ContainerDefinition;
  lastStatus: TaskStatus;
  exitCode?: number;
  reason?: string;
  dockerId?: string;
  process?: HostProcess;
  logsAbort?: AbortController;
  /** Ends when all the container printed is shipped (its log follow ended). */
  logsShipped?: Promise<void>;
  health?: 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY';
  healthTimer?: NodeJS.Timeout;
}

export interface EcsTask {
  id: string;
  arn: string;
  cluster: string;
  def: TaskDefinition;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  startedBy?: string;
  group?: string;
  tags: { key: string; value: string }[];
  subnet: string;
  zone: string;
  address?: string;
  /** The pause container that holds the task's network namespace. */
  sandbox?: string;
  overrides: { containerOverrides?: { name: string; environment?: { name: string; value: string }[]; command?: string[] }[] };
  containers: RunningContainer[];
  createdAt: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  clientToken?: string;
  /** Run with ECS Exec (`enableExecuteCommand`): its containers get the Session Manager agent. */
  execEnabled: boolean;
}

export interface EcsEmulatorOptions {
  /** The Docker engine that runs the tasks' containers. */
  dockerSocket: string;
  /** CloudWatch Logs, for containers with the awslogs driver. */
  logs?: LogsEmulator;
  /** Images that run as processes of this machine (their command, with the task's environment). */
  hostImages?: string[];
  /** More environment for host-image tasks (the PATH of this machine is always passed). */
  hostEnv?: Record<string, string>;
  /** Subnets and their zones; a task in another subnet is refused (default: any, in us-east-1a). */
  subnets?: Record<string, string>;
  /** Clusters that exist from the start (default `default`). */
  clusters?: string[];
  /** From PROVISIONING to PENDING (the ENI), default 100 ms. */
  provisionMs?: number;
  /** The Fargate launch bucket (default burst 100, 20 a second). */
  launchBucket?: { capacity: number; refillPerSecond: number };
  /** How long a stopped task stays described (default an hour, as ECS). */
  stoppedRetentionMs?: number;
  /** The image of each task's pause container (it needs `sleep`; default the test busybox). */
  pauseImage?: string;
}

export interface EcsEmulator extends JsonService {
  readonly tasks: ReadonlyMap<string, EcsTask>;
  readonly taskDefinitions: ReadonlyMap<string, TaskDefinition[]>;
  /** The Docker network the tasks are on. */
  readonly network: string;
  /** From now on (or no longer), Fargate has no capacity in this zone. */
  insufficientCapacity(zone: string, on?: boolean): void;
  close(): Promise<void>;
}

const invalid = (message: string) => new AwsJsonError('InvalidParameterException', message);
const client = (message: string) => new AwsJsonError('ClientException', message);
const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
const nameOf = (ref: string) => ref.slice(ref.lastIndexOf('/') + 1);
/** Read afresh (an await may have changed it), not narrowed from an earlier look. */
const stopAsked = (t: EcsTask) => t.desiredStatus === 'STOPPED';

/** Where a task's awslogs output goes, or undefined without the driver. */
function logTarget(task: EcsTask, c: ContainerDefinition): { group: string; stream: string; create: boolean } | undefined {
  const config = c.logConfiguration;
  if (config?.logDriver !== 'awslogs') return undefined;
  const o = config.options ?? {};
  const group = o['awslogs-group'];
  if (!group) return undefined;
  const prefix = o['awslogs-stream-prefix'];
  return { group, stream: prefix ? `${prefix}/${c.name}/${task.id}` : task.id, create: o['awslogs-create-group'] === 'true' };
}

const volumeName = (task: EcsTask, volume: string) => `ecs-${task.id.slice(0, 16)}-${volume.replace(/[^A-Za-z0-9_.-]/g, '_')}`;

/** A container definition's user and Linux settings, as the Docker runtime takes them. */
function securityOf(c: ContainerDefinition): ContainerSpec['security'] {
  const [user, group] = (c.user ?? '').split(':');
  const caps = c.linuxParameters?.capabilities;
  return {
    ...(/^\d+$/.test(user ?? '') ? { runAsUser: Number(user) } : {}),
    ...(/^\d+$/.test(group ?? '') ? { runAsGroup: Number(group) } : {}),
    ...(c.readonlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
    ...(c.privileged ? { privileged: true } : {}),
    ...(caps ? { capabilities: { add: caps.add, drop: caps.drop } } : {}),
  };
}

/** UNHEALTHY when an essential container is, HEALTHY when every checked container is, else UNKNOWN. */
function taskHealth(t: EcsTask): string {
  const checked = t.containers.filter((c) => c.def.healthCheck);
  if (checked.some((c) => c.health === 'UNHEALTHY' && c.def.essential !== false)) return 'UNHEALTHY';
  return checked.length && checked.every((c) => c.health === 'HEALTHY') ? 'HEALTHY' : 'UNKNOWN';
}

/** The Session Manager agent runs in a running container of a task run with ECS Exec and a task role to open channels with. */
const agentRuns = (t: EcsTask, c: RunningContainer) =>
  t.execEnabled && t.def.taskRoleArn !== undefined && c.lastStatus === 'RUNNING' && c.dockerId !== undefined;

function taskJson(t: EcsTask, withTags: boolean) {
  const eni = `eni-attach-${t.id.slice(0, 12)}`;
  return {
    taskArn: t.arn,
    clusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${t.cluster}`,
    taskDefinitionArn: t.def.taskDefinitionArn,
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    launchType: 'FARGATE',
    cpu: t.def.cpu,
    memory: t.def.memory,
    availabilityZone: t.zone,
    group: t.group,
    startedBy: t.startedBy,
    createdAt: seconds(t.createdAt),
    startedAt: seconds(t.startedAt),
    stoppingAt: seconds(t.stoppingAt),
    stoppedAt: seconds(t.stoppedAt),
    stopCode: t.stopCode,
    stoppedReason: t.stoppedReason,
    healthStatus: taskHealth(t),
    enableExecuteCommand: t.execEnabled,
    overrides: t.overrides,
    attachments: [
      {
        id: eni,
        type: 'ElasticNetworkInterface',
        status: t.lastStatus === 'STOPPED' ? 'DELETED' : t.lastStatus === 'PROVISIONING' ? 'PRECREATED' : 'ATTACHED',
        details: [{ name: 'subnetId', value: t.subnet }, ...(t.address ? [{ name: 'privateIPv4Address', value: t.address }] : [])],
      },
    ],
    containers: t.containers.map((c) => ({
      containerArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:container/${t.cluster}/${t.id}/${createHash('sha1').update(c.def.name).digest('hex').slice(0, 32)}`,
      taskArn: t.arn,
      name: c.def.name,
      image: c.def.image,
      lastStatus: c.lastStatus,
      exitCode: c.exitCode,
      reason: c.reason,
      ...(c.def.healthCheck ? { healthStatus: c.health ?? 'UNKNOWN' } : {}),
      ...(t.execEnabled ? { managedAgents: [{ name: 'ExecuteCommandAgent', lastStatus: agentRuns(t, c) ? 'RUNNING' : c.lastStatus }] } : {}),
      networkInterfaces: t.address ? [{ attachmentId: eni, privateIpv4Address: t.address }] : [],
    })),
    ...(withTags ? { tags: t.tags } : {}),
  };
}

/** One page of a List call (`maxResults` at most 100, `nextToken` from the last page). */
function pageOf<K extends string>(all: string[], p: JsonParams, key: K): Record<K, string[]> & { nextToken?: string } {
  const max = p.maxResults === undefined ? 100 : Number(p.maxResults);
  if (!Number.isInteger(max) || max < 1 || max > 100) throw invalid('maxResults must be between 1 and 100.');
  const from = typeof p.nextToken === 'string' ? Number(Buffer.from(p.nextToken, 'base64').toString()) || 0 : 0;
  const next = from + max < all.length ? Buffer.from(String(from + max)).toString('base64') : undefined;
  return { [key]: all.slice(from, from + max), ...(next ? { nextToken: next } : {}) } as Record<K, string[]> & { nextToken?: string };
}

/** A container definition as RegisterTaskDefinition checks it (Fargate's rules where it runs there). */
function checkContainer(c: ContainerDefinition, all: ContainerDefinition[], volumes: TaskDefinition['volumes'], fargate: boolean): void {
  if (c.stopTimeout !== undefined && (c.stopTimeout < 2 || c.stopTimeout > 120)) throw client('stopTimeout must be between 2 and 120 seconds on Fargate.');
  for (const m of c.mountPoints ?? [])
    if (!volumes.some((v) => v.name === m.sourceVolume))
      throw client(`Invalid 'sourceVolume' for the mount point: ${m.sourceVolume} is not a volume of the task.`);
  for (const d of c.dependsOn ?? [])
    if (!all.some((o) => o.name === d.containerName && o !== c)) throw client(`Container ${c.name} depends on ${d.containerName}, which is not in the task.`);
  const h = c.healthCheck;
  if (h) {
    const ok = (v: number | undefined, min: number, max: number) => v === undefined || (Number.isInteger(v) && v >= min && v <= max);
    if (!['CMD', 'CMD-SHELL'].includes(h.command?.[0] ?? '') || h.command.length < 2) throw client('healthCheck.command must start with CMD or CMD-SHELL.');
    if (!ok(h.interval, 5, 300) || !ok(h.timeout, 2, 60) || !ok(h.retries, 1, 10) || !ok(h.startPeriod, 0, 300))
      throw client('healthCheck: interval 5-300, timeout 2-60, retries 1-10 and startPeriod 0-300 seconds.');
  }
  if (!fargate) return;
  if (c.privileged) throw client('privileged mode is not supported on Fargate.');
  const added = c.linuxParameters?.capabilities?.add ?? [];
  if (added.some((cap) => cap !== 'SYS_PTRACE')) throw client('Fargate supports adding only the SYS_PTRACE kernel capability.');
  if (volumes.some((v) => v.host?.sourcePath)) throw client('Host volumes with a sourcePath are not supported on Fargate.');
}

/** What ECS holds, and its actions. */
class EcsService {
  readonly tasks = new Map<string, EcsTask>();
  readonly defs = new Map<string, TaskDefinition[]>();
  readonly clusters: Set<string>;
  readonly scarce = new Set<string>();
  readonly docker: DockerRuntime;
  private readonly bucket: TokenBucket;
  private nextHostIp = 1;
  private watcher?: NodeJS.Timeout;
  /** ECS Exec's Session Manager end. */
  agent!: SsmAgent;
  private closed = false;

  constructor(
    private readonly options: EcsEmulatorOptions,
    readonly network: string,
  ) {
    this.clusters = new Set(options.clusters ?? ['default']);
    this.bucket = new TokenBucket({ capacity: 100, refillPerSecond: 20, ...options.launchBucket });
    this.docker = new DockerRuntime({ socketPath: options.dockerSocket, node: `ecs-emulator-${network}`, network });
    this.watcher = setInterval(() => void this.watch(), 250);
  }

  readonly actions: Record<string, (p: JsonParams) => unknown> = {
    CreateCluster: (p) => {
      const name = typeof p.clusterName === 'string' && p.clusterName ? p.clusterName : 'default';
      this.clusters.add(name);
      return { cluster: { clusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${name}`, clusterName: name, status: 'ACTIVE' } };
    },
    RegisterTaskDefinition: (p) => ({ taskDefinition: this.register(p), tags: p.tags ?? [] }),
    DescribeTaskDefinition: (p) => {
      const def = this.definition(String(p.taskDefinition ?? ''), true);
      return { taskDefinition: def, ...(Array.isArray(p.include) && p.include.includes('TAGS') ? { tags: def.tags } : {}) };
    },
    DeregisterTaskDefinition: (p) => {
      const def = this.definition(String(p.taskDefinition ?? ''), true);
      if (def.status === 'ACTIVE') Object.assign(def, { status: 'INACTIVE', deregisteredAt: Date.now() });
      return { taskDefinition: def };
    },
    ListTaskDefinitions: (p) => {
      const prefix = typeof p.familyPrefix === 'string' ? p.familyPrefix : undefined;
      const status = p.status === 'INACTIVE' ? 'INACTIVE' : 'ACTIVE';
      const found = [...this.defs.values()].flat().filter((d) => d.status === status && (prefix === undefined || d.family === prefix));
      return pageOf(
        found.map((d) => d.taskDefinitionArn),
        p,
        'taskDefinitionArns',
      );
    },
    RunTask: (p) => this.runTask(p),
    DescribeTasks: (p) => this.describeTasks(p),
    ListTasks: (p) => this.listTasks(p),
    ExecuteCommand: (p) => this.executeCommand(p),
    StopTask: (p) => {
      const task = this.task(p);
      this.stop(task, 'UserInitiated', typeof p.reason === 'string' && p.reason ? p.reason : 'Task stopped by user');
      return { task: taskJson(task, false) };
    },
  };

  private cluster(p: JsonParams): string {
    const name = nameOf(typeof p.cluster === 'string' && p.cluster ? p.cluster : 'default');
    if (!this.clusters.has(name)) throw new AwsJsonError('ClusterNotFoundException', 'Cluster not found.');
    return name;
  }

  /** A task definition by family (its latest ACTIVE revision), `family:revision` or ARN. */
  private definition(ref: string, anyStatus = false): TaskDefinition {
    const name = nameOf(ref);
    const [family, revision] = name.split(':');
    const list = this.defs.get(family) ?? [];
    const def = revision ? list.find((d) => d.revision === Number(revision)) : list.filter((d) => d.status === 'ACTIVE').at(-1);
    if (!def || (!anyStatus && def.status !== 'ACTIVE')) throw client(def ? `TaskDefinition is inactive` : 'Unable to describe task definition.');
    return def;
  }

  private register(p: JsonParams): TaskDefinition {
    const family = String(p.family ?? '');
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(family))
      throw client('Family contains invalid characters: up to 255 letters (uppercase and lowercase), numbers, hyphens and underscores are allowed.');
    const containers = (Array.isArray(p.containerDefinitions) ? p.containerDefinitions : []) as ContainerDefinition[];
    if (containers.length === 0 || containers.length > 10) throw client('Container definitions: between 1 and 10 are required.');
    for (const c of containers) if (!c.name || !c.image) throw client('Container.name and Container.image should not be null or empty.');
    const compat = (Array.isArray(p.requiresCompatibilities) ? p.requiresCompatibilities : []) as string[];
    const networkMode = String(p.networkMode ?? 'bridge');
    if (compat.includes('FARGATE')) {
      if (networkMode !== 'awsvpc') throw client('Fargate only supports network mode ‘awsvpc’.');
      if (!isFargateSize(Number(p.cpu), Number(p.memory)))
        throw client(
          'No Fargate configuration exists for given values: ' +
            `${String(p.cpu)} CPU, ${String(p.memory)} memory. See the Amazon ECS documentation for the valid values.`,
        );
    }
    if (compat.includes('FARGATE') && !p.executionRoleArn && containers.some((c) => c.logConfiguration?.logDriver === 'awslogs'))
      throw client('Fargate requires task definition to have execution role ARN to support log driver awslogs.');
    const volumes = (Array.isArray(p.volumes) ? p.volumes : []) as TaskDefinition['volumes'];
    for (const c of containers) checkContainer(c, containers, volumes, compat.includes('FARGATE'));
    const list = this.defs.get(family) ?? [];
    const revision = (list.at(-1)?.revision ?? 0) + 1;
    const def: TaskDefinition = {
      taskDefinitionArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${family}:${revision}`,
      family,
      revision,
      status: 'ACTIVE',
      networkMode,
      requiresCompatibilities: compat,
      cpu: p.cpu === undefined ? undefined : String(p.cpu),
      memory: p.memory === undefined ? undefined : String(p.memory),
      containerDefinitions: containers,
      ...(typeof p.taskRoleArn === 'string' && p.taskRoleArn ? { taskRoleArn: p.taskRoleArn } : {}),
      volumes,
      registeredAt: Date.now(),
      tags: (Array.isArray(p.tags) ? p.tags : []) as TaskDefinition['tags'],
    };
    this.defs.set(family, [...list, def]);
    return def;
  }

  private runTask(p: JsonParams) {
    const cluster = this.cluster(p);
    const def = this.definition(String(p.taskDefinition ?? ''));
    const count = p.count === undefined ? 1 : Number(p.count);
    if (!Number.isInteger(count) || count < 1 || count > 10) throw invalid('count must be between 1 and 10.');
    const startedBy = typeof p.startedBy === 'string' ? p.startedBy : undefined;
    if (startedBy && startedBy.length > MAX_STARTED_BY) throw invalid(`startedBy must be at most ${MAX_STARTED_BY} characters.`);
    const overrides = (p.overrides ?? {}) as EcsTask['overrides'];
    if (JSON.stringify(overrides).length > MAX_OVERRIDES) throw invalid(`Container Overrides length must be at most ${MAX_OVERRIDES}`);
    const token = typeof p.clientToken === 'string' ? p.clientToken : undefined;
    const previous = token ? [...this.tasks.values()].filter((t) => t.clientToken === token) : [];
    if (previous.length) return { tasks: previous.map((t) => taskJson(t, false)), failures: [] };
    if (p.launchType === 'FARGATE' && !def.requiresCompatibilities.includes('FARGATE')) throw invalid('Task definition does not support launch_type FARGATE.');
    const subnets = this.subnetsOf(p, def);
    const zones = subnets.map((s) => this.options.subnets?.[s] ?? `${REGION}a`);
    if (zones.every((z) => this.scarce.has(z)))
      return { tasks: [], failures: [{ reason: 'Capacity is unavailable at this time. Please try again later or in a different availability zone' }] };
    if (!this.bucket.take(count)) throw new AwsJsonError('ThrottlingException', 'Rate exceeded');
    const open = subnets.filter((_, i) => !this.scarce.has(zones[i]));
    const tasks = Array.from({ length: count }, (_, n) => {
      const id = randomBytes(16).toString('hex');
      const subnet = open[n % open.length];
      const task: EcsTask = {
        id,
        arn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/${cluster}/${id}`,
        cluster,
        def,
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        startedBy,
        group: typeof p.group === 'string' ? p.group : `family:${def.family}`,
        tags: (Array.isArray(p.tags) ? p.tags : []) as EcsTask['tags'],
        subnet,
        zone: this.options.subnets?.[subnet] ?? `${REGION}a`,
        overrides,
        containers: def.containerDefinitions.map((c) => ({ def: c, lastStatus: 'PENDING' as TaskStatus })),
        createdAt: Date.now(),
        clientToken: token,
        execEnabled: p.enableExecuteCommand === true,
      };
      this.tasks.set(id, task);
      setTimeout(() => void this.launch(task), this.options.provisionMs ?? 100);
      return task;
    });
    return { tasks: tasks.map((t) => taskJson(t, false)), failures: [] };
  }

  private subnetsOf(p: JsonParams, def: TaskDefinition): string[] {
    const config = (p.networkConfiguration as { awsvpcConfiguration?: { subnets?: string[] } } | undefined)?.awsvpcConfiguration;
    if (def.networkMode !== 'awsvpc') return ['subnet-bridge'];
    if (!config?.subnets?.length) throw invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
    if (config.subnets.length > 16) throw invalid('At most 16 subnets can be given.');
    for (const s of config.subnets) if (this.options.subnets && !(s in this.options.subnets)) throw invalid(`The subnet ID '${s}' does not exist`);
    return config.subnets;
  }

  /** The environment and command of a container, with the task's overrides. */
  private containerRun(task: EcsTask, c: ContainerDefinition): { env: Record<string, string>; command: string[] } {
    const override = task.overrides.containerOverrides?.find((o) => o.name === c.name);
    const env = Object.fromEntries([...(c.environment ?? []), ...(override?.environment ?? [])].map((e) => [e.name, e.value]));
    return { env, command: [...(c.entryPoint ?? []), ...(override?.command ?? c.command ?? [])] };
  }

  /** PENDING (its ENI attached), then its containers started: RUNNING, or STOPPED if one could not start. */
  private async launch(task: EcsTask): Promise<void> {
    if (task.desiredStatus === 'STOPPED') return this.finish(task);
    task.lastStatus = 'PENDING';
    try {
      for (const rc of task.containers) {
        await this.dependencies(task, rc);
        await this.startContainer(task, rc);
      }
    } catch (err) {
      task.stopCode ??= 'TaskFailedToStart';
      task.stoppedReason ??= err instanceof Error ? err.message : String(err);
      return this.finish(task);
    }
    task.startedAt = Date.now();
    task.lastStatus = 'RUNNING';
    for (const rc of task.containers) rc.lastStatus = rc.exitCode === undefined ? 'RUNNING' : 'STOPPED';
    const gone = task.containers.find((rc) => rc.exitCode !== undefined && rc.def.essential !== false);
    if (gone) this.stop(task, 'EssentialContainerExited', 'Essential container in task exited');
    if (stopAsked(task)) return this.finish(task);
  }

  /** Waits until the containers `rc` depends on are as its `dependsOn` asks (started, ended, or ended well). */
  private async dependencies(task: EcsTask, rc: RunningContainer): Promise<void> {
    for (const d of rc.def.dependsOn ?? []) {
      const dep = task.containers.find((c) => c.def.name === d.containerName)!;
      if (d.condition === 'START' || d.condition === 'HEALTHY') continue;
      while (dep.exitCode === undefined && !stopAsked(task)) {
        const s = dep.dockerId ? await this.docker.inspect(dep.dockerId).catch(() => undefined) : undefined;
        if (s?.state === 'exited') this.exited(task, dep, s.exitCode ?? 0);
        else await new Promise((r) => setTimeout(r, 50));
      }
      if (d.condition === 'SUCCESS' && dep.exitCode !== 0)
        throw new Error(`CannotStartContainerError: dependency ${dep.def.name} of ${rc.def.name} exited with ${dep.exitCode}`);
    }
  }

  private async startContainer(task: EcsTask, rc: RunningContainer): Promise<void> {
    const c = rc.def;
    const { env, command } = this.containerRun(task, c);
    const target = logTarget(task, c);
    const logs = this.options.logs;
    if (target && logs && !target.create && !logs.groups.has(target.group))
      throw new Error(`ResourceInitializationError: failed to validate logger args: The specified log group does not exist. : ${target.group}`);
    let shipped = 0;
    const write = (text: string) => {
      const lines = text.split('\n').filter((l) => l.length > 0);
      shipped += lines.length;
      if (target && logs && lines.length) logs.append(target.group, target.stream, lines);
    };
    if (this.options.hostImages?.includes(c.image)) {
      const n = this.nextHostIp++;
      task.address ??= `127.102.${(n >> 8) & 255}.${n & 255}`;
      const identity = { ECS_TASK_ARN: task.arn, ECS_TASK_ID: task.id, ECS_AVAILABILITY_ZONE: task.zone, ECS_PRIVATE_IP: task.address };
      rc.process = startHostProcess(command, { ...this.options.hostEnv, ...env, ...identity }, (d) => write(String(d)));
      void rc.process.exited.then((code) => this.exited(task, rc, code));
      rc.lastStatus = 'RUNNING';
      return;
    }
    task.sandbox ??= await this.startSandbox(task);
    const taskMemory = Number(task.def.memory ?? 0);
    const spec: ContainerSpec = {
      podUid: task.id,
      podNamespace: task.cluster,
      podName: task.def.family,
      name: c.name,
      attempt: 0,
      image: c.image,
      imagePullPolicy: 'IfNotPresent',
      command: c.entryPoint ?? [],
      args: command.slice((c.entryPoint ?? []).length),
      env,
      workingDir: c.workingDirectory,
      memoryLimit: (c.memory ?? taskMemory) ? (c.memory ?? taskMemory) * 2 ** 20 : undefined,
      cpuLimit: task.def.cpu ? Math.round((Number(task.def.cpu) * 1000) / 1024) : undefined,
      security: securityOf(c),
      // A task's volume is a Docker volume of its own, shared by its containers.
      mounts: (c.mountPoints ?? []).map((m) => ({ hostPath: volumeName(task, m.sourceVolume), containerPath: m.containerPath, readOnly: m.readOnly ?? false })),
    };
    const started = await this.docker.start(spec, { joinNetworkOf: task.sandbox }).catch((err: Error) => {
      throw new Error(/pull|image/i.test(err.message) ? `CannotPullContainerError: ${err.message}` : `CannotStartContainerError: ${err.message}`);
    });
    rc.dockerId = started.id;
    if (rc.exitCode === undefined) rc.lastStatus = 'RUNNING';
    rc.logsAbort = new AbortController();
    // A follow can end as the container exits before the engine hands it the last line (a
    // partial one least of all): what the log holds past what was shipped goes after it.
    rc.logsShipped = this.docker
      .followLogs(started.id, {}, write, rc.logsAbort.signal)
      .catch(() => undefined)
      .then(async () => {
        if (rc.logsAbort?.signal.aborted) return;
        const all = (await this.docker.logs(started.id).catch(() => '')).split('\n').filter((l) => l.length > 0);
        if (all.length > shipped) write(all.slice(shipped).join('\n'));
      });
    if (c.healthCheck) this.checkHealth(rc, c.healthCheck);
  }

  /** The task's pause container: it holds the network its containers join, and gives the task its address. */
  private async startSandbox(task: EcsTask): Promise<string> {
    const pause: ContainerSpec = {
      podUid: task.id,
      podNamespace: task.cluster,
      podName: task.def.family,
      name: '~internal~ecs~pause',
      attempt: 0,
      image: this.options.pauseImage ?? BUSYBOX_IMAGE,
      imagePullPolicy: 'IfNotPresent',
      command: ['sleep', '2147483647'],
      args: [],
      env: {},
    };
    const started = await this.docker.start(pause).catch((err: Error) => {
      throw new Error(`ResourceInitializationError: the task's network could not be made: ${err.message}`);
    });
    task.address = started.address;
    return started.id;
  }

  /**
   * The container's health check, run in it as Docker runs one: every `interval`, at most
   * `timeout`; `retries` failures in a row (after `startPeriod`) make it UNHEALTHY. The first
   * check runs at once.
   */
  private checkHealth(rc: RunningContainer, h: NonNullable<ContainerDefinition['healthCheck']>): void {
    const [kind, ...rest] = h.command;
    const command = kind === 'CMD-SHELL' ? ['sh', '-c', rest.join(' ')] : rest;
    const startedAt = Date.now();
    let failures = 0;
    rc.health = 'UNKNOWN';
    const check = async () => {
      if (!rc.dockerId || rc.exitCode !== undefined) return;
      const result = await this.docker.exec(rc.dockerId, command, (h.timeout ?? 5) * 1000).catch(() => undefined);
      if (result?.exitCode === 0 && !result.timedOut) {
        failures = 0;
        rc.health = 'HEALTHY';
      } else if (Date.now() - startedAt >= (h.startPeriod ?? 0) * 1000 && ++failures >= (h.retries ?? 3)) rc.health = 'UNHEALTHY';
    };
    void check();
    rc.healthTimer = setInterval(() => void check(), (h.interval ?? 30) * 1000);
  }

  /** A container ended: its exit code, and the task stops if it was essential. */
  private exited(task: EcsTask, rc: RunningContainer, code: number): void {
    if (rc.exitCode !== undefined) return;
    clearInterval(rc.healthTimer);
    rc.exitCode = code;
    rc.lastStatus = 'STOPPED';
    if (rc.def.essential !== false && task.desiredStatus === 'RUNNING' && task.lastStatus === 'RUNNING')
      this.stop(task, 'EssentialContainerExited', 'Essential container in task exited');
  }

  /** Notices containers that exited on their own (one list call for all). */
  private async watch(): Promise<void> {
    const now = Date.now();
    const retention = this.options.stoppedRetentionMs ?? 3600_000;
    for (const [id, t] of this.tasks) if (t.stoppedAt !== undefined && now - t.stoppedAt > retention) this.tasks.delete(id);
    const running = [...this.tasks.values()].filter((t) => t.lastStatus === 'RUNNING' && t.containers.some((c) => c.dockerId));
    if (!running.length || this.closed) return;
    const statuses = new Map((await this.docker.list().catch(() => [])).map((c) => [c.id, c]));
    for (const t of running)
      for (const rc of t.containers) {
        const s = rc.dockerId ? statuses.get(rc.dockerId) : undefined;
        if (s?.state === 'exited') this.exited(t, rc, s.exitCode ?? 0);
      }
  }

  stop(task: EcsTask, code: string, reason: string): void {
    if (task.desiredStatus === 'STOPPED') return;
    task.desiredStatus = 'STOPPED';
    task.stopCode = code;
    task.stoppedReason = reason;
    task.stoppingAt = Date.now();
    if (task.lastStatus === 'RUNNING') void this.finish(task);
  }

  /** STOPPING: each container gets SIGTERM, SIGKILL after its stopTimeout; then STOPPED. */
  async finish(task: EcsTask, graceOverrideMs?: number): Promise<void> {
    if (task.lastStatus === 'STOPPING' || task.lastStatus === 'STOPPED') return;
    task.lastStatus = 'STOPPING';
    await Promise.all(
      task.containers.map(async (rc) => {
        const grace = graceOverrideMs ?? (rc.def.stopTimeout ?? 30) * 1000;
        if (rc.process) this.exited(task, rc, await rc.process.stop(grace));
        if (rc.dockerId) {
          const s = await this.docker.stop(rc.dockerId, grace).catch(() => undefined);
          this.exited(task, rc, s?.exitCode ?? 137);
          // What it printed last reaches the log before the task is STOPPED, as with awslogs.
          await Promise.race([rc.logsShipped, new Promise((r) => setTimeout(r, 10_000))]);
          rc.logsAbort?.abort();
          await this.docker.remove(rc.dockerId).catch(() => undefined);
        }
        rc.lastStatus = 'STOPPED';
      }),
    );
    if (task.sandbox) {
      await this.docker.stop(task.sandbox, 0).catch(() => undefined);
      await this.docker.remove(task.sandbox).catch(() => undefined);
    }
    for (const v of task.def.volumes) await engineApi(this.options.dockerSocket, 'DELETE', `/volumes/${volumeName(task, v.name)}`).catch(() => undefined);
    task.lastStatus = 'STOPPED';
    task.stoppedAt = Date.now();
  }

  /**
   * ECS Exec: a Session Manager session to the container's agent, as `streamUrl` and a one-time
   * `tokenValue` for the data channel (`ssm-agent.ts`). Only interactive commands, in a running
   * container of a task run with `enableExecuteCommand` and a task role.
   */
  private executeCommand(p: JsonParams) {
    const task = this.task(p);
    if (p.interactive !== true) throw invalid('Interactive is the only mode supported currently.');
    if (typeof p.command !== 'string' || !p.command.trim()) throw invalid('Command cannot be empty.');
    const named = typeof p.container === 'string' && p.container ? p.container : undefined;
    const candidates = task.containers.filter((c) => c.def.essential !== false || c.def.name === named);
    if (!named && candidates.length > 1) throw invalid('Task has more than one container: the container name must be given.');
    const rc = named ? task.containers.find((c) => c.def.name === named) : candidates[0];
    if (!rc) throw invalid(`The container ${named} does not exist in the task.`);
    if (!agentRuns(task, rc))
      throw invalid(
        'The execute command failed because execute command was not enabled when the task was run or the execute command agent isn’t running. Wait and try again or run a new task with execute command enabled and try again.',
      );
    const dockerId = rc.dockerId!;
    const session = this.agent.open(p.command, (command, size) => this.docker.execStream(dockerId, command, { stdin: true, tty: true, size }));
    return {
      clusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${task.cluster}`,
      taskArn: task.arn,
      containerName: rc.def.name,
      interactive: true,
      session,
    };
  }

  private describeTasks(p: JsonParams) {
    const cluster = this.cluster(p);
    const refs = (Array.isArray(p.tasks) ? p.tasks : []) as string[];
    if (refs.length === 0 || refs.length > 100) throw invalid('Tasks cannot be empty, and at most 100 can be described at once.');
    const withTags = Array.isArray(p.include) && p.include.includes('TAGS');
    const tasks = [];
    const failures = [];
    for (const ref of refs) {
      const t = this.tasks.get(nameOf(ref));
      if (t && t.cluster === cluster) tasks.push(taskJson(t, withTags));
      else failures.push({ arn: ref, reason: 'MISSING' });
    }
    return { tasks, failures };
  }

  private listTasks(p: JsonParams) {
    const cluster = this.cluster(p);
    const desired = p.desiredStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING';
    const found = [...this.tasks.values()].filter(
      (t) =>
        t.cluster === cluster &&
        t.desiredStatus === desired &&
        (typeof p.family !== 'string' || t.def.family === p.family) &&
        (typeof p.startedBy !== 'string' || t.startedBy === p.startedBy),
    );
    return pageOf(
      found.map((t) => t.arn),
      p,
      'taskArns',
    );
  }

  private task(p: JsonParams): EcsTask {
    const cluster = this.cluster(p);
    const t = typeof p.task === 'string' ? this.tasks.get(nameOf(p.task)) : undefined;
    if (!t || t.cluster !== cluster) throw invalid('The referenced task was not found.');
    return t;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watcher);
    await Promise.all(
      [...this.tasks.values()].map((t) => {
        t.desiredStatus = 'STOPPED';
        return t.lastStatus === 'STOPPED' ? undefined : this.finish(t, 2000);
      }),
    );
  }
}

/** Starts the emulator, with a bridge network of its own on the engine for the tasks. */
export async function startEcsEmulator(options: EcsEmulatorOptions): Promise<EcsEmulator> {
  const name = `skiff-ecs-${randomBytes(3).toString('hex')}`;
  await createNetwork(options.dockerSocket, name);
  const ecs = new EcsService(options, name);
  ecs.agent = await SsmAgent.start();
  const service = await serveJson11({ targetPrefix: 'AmazonEC2ContainerServiceV20141113', actions: ecs.actions, internalError: 'ServerException' });
  return {
    ...service,
    tasks: ecs.tasks,
    taskDefinitions: ecs.defs,
    network: name,
    insufficientCapacity(zone, on = true) {
      if (on) ecs.scarce.add(zone);
      else ecs.scarce.delete(zone);
    },
    async close() {
      await ecs.close();
      await ecs.agent.close();
      await service.close();
      await engineApi(options.dockerSocket, 'DELETE', `/networks/${name}`).catch(() => undefined);
    },
  };
}

/**
 * A bridge network the tasks get addresses on, which this machine reaches directly (no NAT: the
 * engine runs without iptables). Its /22 is drawn at random from 10.200.0.0/13, so engines of
 * tests running side by side rarely meet; a clash is tried again with another.
 */
async function createNetwork(socketPath: string, name: string): Promise<void> {
  let last: unknown;
  const taken = routedPrefixes();
  for (let attempt = 0; attempt < 20; attempt++) {
    const prefix = `10.${200 + Math.floor(Math.random() * 8)}.${Math.floor(Math.random() * 64) * 4}`;
    if (taken.has(prefix)) continue;
    const subnet = `${prefix}.0/22`;
    const created = await engineApi(socketPath, 'POST', '/networks/create', {
      Name: name,
      Driver: 'bridge',
      IPAM: { Config: [{ Subnet: subnet }] },
      Options: { 'com.docker.network.bridge.name': `br-${name.slice(-6)}` },
    });
    if (created.status < 300) return;
    last = created.json;
  }
  throw new Error(`could not create the tasks' network: ${JSON.stringify(last)}`);
}

/** The first three octets of each IPv4 route of this machine (a bridge another engine left, say). */
function routedPrefixes(): Set<string> {
  const lines = readFileSync('/proc/net/route', 'utf8').split('\n').slice(1);
  const prefixes = lines.map((line) => {
    const hex = line.split('\t')[1] ?? '';
    const n = Number.parseInt(hex, 16);
    return Number.isNaN(n) ? '' : `${n & 255}.${(n >> 8) & 255}.${(n >> 16) & 255}`;
  });
  return new Set(prefixes.filter(Boolean));
}

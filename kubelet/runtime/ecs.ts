/**
 * The `ecs` runtime: each container the kubelet starts is an ECS task on Fargate, so a node of
 * the `aws-ecs` provider is ECS capacity behind a kubelet (virtual-kubelet's idea, kept honest):
 *
 * - a task definition per pod template (`ecs-task.ts`): family
 *   `skiff-<namespace>-<owner>-<container>`, image, command, port mappings, the stop timeout
 *   from the pod's grace period, cpu and memory from the container's requests and limits
 *   rounded up to the smallest Fargate size, the securityContext Fargate can give (the rest is
 *   refused), pod volumes as task volumes, and the awslogs driver. Pods of one template share a
 *   revision; a revision no task of this node uses any more is deregistered;
 * - RunTask with `startedBy` = the pod's uid, awsvpc networking in the node's subnets, and the
 *   pod's environment as the task's overrides (ECS's 8,192 characters at most: more is an
 *   error the pod shows, not a silent cut). A throttled launch is tried again with back-off;
 * - start resolves once the task is RUNNING (PROVISIONING and PENDING show as a container
 *   still being created, so the pod is Pending), or fails with ECS's reason when the task
 *   stopped before it ran (CannotPullContainerError is an image pull error);
 * - the task's ENI address is the container's (the pod IP);
 * - a STOPPED task's container exit code is the container's: 0 is success, anything else a
 *   failure (not always Succeeded, as virtual-kubelet's Fargate provider had it);
 * - logs come from CloudWatch Logs, the stream `skiff/<container>/<task id>`;
 * - stop is StopTask: SIGTERM, then SIGKILL after the stop timeout.
 *
 * One DescribeTasks call (100 tasks each) answers for every task the kubelet looks at within a
 * second. `exec` is not offered (ECS ExecuteCommand needs the SSM agent's session protocol), but
 * for an exec readiness probe, which runs as the task's health check and is answered from it.
 */
import { type CloudWatchLogsClient, CreateLogGroupCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DeregisterTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { constants } from 'node:os';
import { overridesOf, taskDefinitionOf } from './ecs-task.js';
import { formatLines } from './process.js';
import type { ContainerSpec, ContainerStatus, ExecResult, LogOptions, Runtime } from './types.js';

export interface EcsRuntimeOptions {
  ecs: ECSClient;
  logs: CloudWatchLogsClient;
  cluster: string;
  /** The node whose tasks these are (a tag on each). */
  node: string;
  subnets: string[];
  securityGroups?: string[];
  /** Where the tasks' logs go (default `/skiff/<cluster>`). */
  logGroup?: string;
  region?: string;
  /** The image that fills pod volumes in a task (default busybox from ECR Public). */
  filesImage?: string;
  /** The role ECS pulls images and writes logs with (Fargate needs one for awslogs). */
  executionRoleArn: string;
  /** How long a start waits for RUNNING (default 10 minutes). */
  startTimeoutMs?: number;
}

const MAX_OVERRIDES = 8192;
const TAG = { node: 'skiff:node', namespace: 'skiff:namespace', pod: 'skiff:pod', container: 'skiff:container', attempt: 'skiff:attempt' };
const SIGNALS = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const taskId = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

interface Tracked {
  arn: string;
  spec: ContainerSpec;
  definition: string;
}

export class EcsRuntime implements Runtime {
  readonly name = 'ecs';
  readonly assignsAddresses = true;
  private readonly tracked = new Map<string, Tracked>();
  /** Template hash -> the revision this node registered for it, and the tasks using it. */
  private readonly definitions = new Map<string, { arn: string; users: Set<string> }>();
  private registering = new Map<string, Promise<string>>();
  private snapshot?: { at: number; tasks: Map<string, Task> };
  private loading?: Promise<Map<string, Task>>;
  private logGroupReady?: Promise<void>;

  constructor(private readonly options: EcsRuntimeOptions) {}

  private get logGroup(): string {
    return this.options.logGroup ?? `/skiff/${this.options.cluster}`;
  }

  async start(spec: ContainerSpec): Promise<ContainerStatus> {
    const definition = await this.definitionFor(spec);
    const overrides = overridesOf(spec);
    const size = JSON.stringify(overrides).length;
    if (size > MAX_OVERRIDES)
      throw new Error(`the environment and volumes of container ${spec.name} take ${size} characters as ECS overrides, over ECS's ${MAX_OVERRIDES}`);
    const task = await this.runTask(spec, definition, overrides);
    const id = taskId(task.taskArn!);
    this.tracked.set(id, { arn: task.taskArn!, spec, definition });
    this.use(definition, id);
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 600_000);
    for (;;) {
      const found = (await this.describe([id], true)).get(id);
      if (found?.lastStatus === 'RUNNING') return this.statusOf(found, spec);
      if (found?.lastStatus === 'STOPPED') {
        if (found.stopCode !== 'TaskFailedToStart') return this.statusOf(found, spec);
        await this.remove(id);
        throw new Error(found.stoppedReason ?? 'the task failed to start');
      }
      if (Date.now() > deadline) {
        await this.stop(id, 0).catch(() => undefined);
        throw new Error(`the task did not reach RUNNING within ${(this.options.startTimeoutMs ?? 600_000) / 1000} s`);
      }
      await sleep(250);
    }
  }

  private async runTask(spec: ContainerSpec, definition: string, overrides: object): Promise<Task> {
    let wait = 200;
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await this.options.ecs.send(
          new RunTaskCommand({
            cluster: this.options.cluster,
            taskDefinition: definition,
            launchType: 'FARGATE',
            count: 1,
            startedBy: spec.podUid,
            overrides,
            networkConfiguration: {
              awsvpcConfiguration: { subnets: this.options.subnets, securityGroups: this.options.securityGroups, assignPublicIp: 'DISABLED' },
            },
            tags: [
              { key: TAG.node, value: this.options.node },
              { key: TAG.namespace, value: spec.podNamespace },
              { key: TAG.pod, value: spec.podName },
              { key: TAG.container, value: spec.name },
              { key: TAG.attempt, value: String(spec.attempt) },
            ],
          }),
        );
        const task = out.tasks?.[0];
        if (!task?.taskArn) throw new Error(`RunTask: ${out.failures?.map((f) => f.reason).join('; ') || 'no task started'}`);
        return task;
      } catch (err) {
        if ((err as { name?: string }).name !== 'ThrottlingException' || attempt >= 12) throw err;
        await sleep(wait);
        wait = Math.min(wait * 2, 5000);
      }
    }
  }

  /** This node's revision for the container's template, registered the first time. */
  private definitionFor(spec: ContainerSpec): Promise<string> {
    const { input, hash } = taskDefinitionOf(spec, {
      cluster: this.options.cluster,
      node: this.options.node,
      logGroup: this.logGroup,
      region: this.options.region ?? 'us-east-1',
      filesImage: this.options.filesImage ?? 'public.ecr.aws/docker/library/busybox:stable',
      executionRoleArn: this.options.executionRoleArn,
    });
    const known = this.definitions.get(hash);
    if (known) return Promise.resolve(known.arn);
    let pending = this.registering.get(hash);
    if (!pending) {
      pending = this.register(input, hash).finally(() => this.registering.delete(hash));
      this.registering.set(hash, pending);
    }
    return pending;
  }

  private async register(input: RegisterTaskDefinitionCommandInput, hash: string): Promise<string> {
    await this.ensureLogGroup();
    const out = await this.options.ecs.send(new RegisterTaskDefinitionCommand(input));
    const arn = out.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new Error(`RegisterTaskDefinition answered no ARN for ${input.family}`);
    this.definitions.set(hash, { arn, users: new Set() });
    return arn;
  }

  private ensureLogGroup(): Promise<void> {
    this.logGroupReady ??= this.options.logs
      .send(new CreateLogGroupCommand({ logGroupName: this.logGroup }))
      .then(() => undefined)
      .catch((err: { name?: string }) => {
        if (err.name === 'ResourceAlreadyExistsException') return;
        this.logGroupReady = undefined;
        throw err;
      });
    return this.logGroupReady;
  }

  private use(definition: string, id: string): void {
    for (const d of this.definitions.values()) if (d.arn === definition) d.users.add(id);
  }

  /** The task no longer uses its revision; a revision no task uses is deregistered. */
  private async release(definition: string, id: string): Promise<void> {
    for (const [hash, d] of this.definitions) {
      if (d.arn !== definition) continue;
      d.users.delete(id);
      if (d.users.size > 0) continue;
      this.definitions.delete(hash);
      await this.options.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: definition })).catch(() => undefined);
    }
  }

  /**
   * The tasks by id, from a DescribeTasks of every tracked task at most a second old (`fresh`
   * asks anew for these ids).
   */
  private async describe(ids: string[], fresh = false): Promise<Map<string, Task>> {
    const recent = this.snapshot && Date.now() - this.snapshot.at < 1000 && ids.every((id) => this.snapshot!.tasks.has(id));
    if (recent && !fresh) return this.snapshot!.tasks;
    this.loading ??= (async () => {
      const all = [...new Set([...ids, ...this.tracked.keys()])];
      const tasks = new Map<string, Task>();
      for (let i = 0; i < all.length; i += 100) {
        const out = await this.options.ecs.send(new DescribeTasksCommand({ cluster: this.options.cluster, tasks: all.slice(i, i + 100), include: ['TAGS'] }));
        for (const t of out.tasks ?? []) tasks.set(taskId(t.taskArn!), t);
      }
      this.snapshot = { at: Date.now(), tasks };
      return tasks;
    })().finally(() => (this.loading = undefined));
    const tasks = await this.loading;
    if (ids.every((id) => tasks.has(id))) return tasks;
    return fresh ? tasks : this.describe(ids, true);
  }

  private statusOf(task: Task, spec: ContainerSpec): ContainerStatus {
    const stopped = task.lastStatus === 'STOPPED';
    const container = task.containers?.find((c) => c.name === spec.name) ?? task.containers?.at(-1);
    const exitCode = stopped ? (container?.exitCode ?? (task.stopCode === 'UserInitiated' ? 143 : 1)) : undefined;
    const address = task.attachments?.flatMap((a) => a.details ?? []).find((d) => d.name === 'privateIPv4Address')?.value;
    return {
      id: taskId(task.taskArn!),
      spec,
      state: stopped ? 'exited' : 'running',
      exitCode,
      signal: exitCode !== undefined && exitCode > 128 ? SIGNALS.get(exitCode - 128) : undefined,
      startedAt: (task.startedAt ?? task.createdAt ?? new Date()).toISOString(),
      finishedAt: stopped ? (task.stoppedAt ?? new Date()).toISOString() : undefined,
      ...(address ? { address } : {}),
    };
  }

  async inspect(id: string, fresh = false): Promise<ContainerStatus> {
    const found = (await this.describe([id], fresh)).get(id);
    if (!found) throw new Error(`no task ${id} in cluster ${this.options.cluster}`);
    return this.statusOf(found, this.tracked.get(id)?.spec ?? specFromTags(found));
  }

  async stop(id: string, gracePeriodMs: number): Promise<ContainerStatus> {
    const before = await this.inspect(id);
    if (before.state === 'exited') return before;
    await this.options.ecs.send(new StopTaskCommand({ cluster: this.options.cluster, task: id, reason: 'Stopped by the Skiff kubelet' }));
    // ECS sends SIGKILL after the definition's stop timeout (at most 120 s); wait that long and more.
    const deadline = Date.now() + Math.max(gracePeriodMs, 120_000) + 30_000;
    for (;;) {
      const now = await this.inspect(id, true);
      if (now.state === 'exited' || Date.now() > deadline) return now;
      await sleep(250);
    }
  }

  async remove(id: string): Promise<void> {
    const found = (await this.describe([id], true)).get(id);
    if (found && found.lastStatus !== 'STOPPED') throw new Error(`task ${id} is running (${found.lastStatus}): stop it first`);
    const t = this.tracked.get(id);
    this.tracked.delete(id);
    if (t) await this.release(t.definition, id);
  }

  /** This node's tasks, running or stopped and not yet removed (after a restart: adopted). */
  async list(): Promise<ContainerStatus[]> {
    const ids: string[] = [];
    for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
      let nextToken: string | undefined;
      do {
        const out = await this.options.ecs.send(new ListTasksCommand({ cluster: this.options.cluster, desiredStatus, nextToken }));
        ids.push(...(out.taskArns ?? []).map(taskId));
        nextToken = out.nextToken;
      } while (nextToken);
    }
    const tasks = await this.describe(ids, true);
    // Pod tasks of this node (its own kubelet task carries the node's tag too, but no container's).
    const tagged = (t: Task, key: string, value?: string) => t.tags?.some((tag) => tag.key === key && (value === undefined || tag.value === value));
    const mine = [...tasks.values()].filter((t) => tagged(t, TAG.node, this.options.node) && tagged(t, TAG.container));
    return mine
      .filter((t) => t.lastStatus !== 'STOPPED' || this.tracked.has(taskId(t.taskArn!)))
      .map((t) => {
        const id = taskId(t.taskArn!);
        if (!this.tracked.has(id)) this.adopt(id, t);
        return this.statusOf(t, this.tracked.get(id)!.spec);
      });
  }

  /** A task this kubelet did not start in this life (it restarted): tracked, and its revision kept. */
  private adopt(id: string, task: Task): void {
    const definition = task.taskDefinitionArn ?? '';
    this.tracked.set(id, { arn: task.taskArn!, spec: specFromTags(task), definition });
    const hash = `adopted:${definition}`;
    const d = this.definitions.get(hash) ?? { arn: definition, users: new Set<string>() };
    d.users.add(id);
    this.definitions.set(hash, d);
  }

  /** The container's log lines from CloudWatch Logs, each `<RFC 3339 time> <message>`, and where to read on. */
  private async readLogs(id: string, from?: string): Promise<{ lines: string[]; next?: string }> {
    const spec = this.tracked.get(id)?.spec ?? (await this.inspect(id)).spec;
    const lines: string[] = [];
    let token = from;
    for (;;) {
      const out = await this.options.logs
        .send(new GetLogEventsCommand({ logGroupName: this.logGroup, logStreamName: `skiff/${spec.name}/${id}`, startFromHead: true, nextToken: token }))
        .catch((err: { name?: string }) => {
          if (err.name === 'ResourceNotFoundException') return undefined;
          throw err;
        });
      if (!out) return { lines, next: token };
      for (const e of out.events ?? []) lines.push(`${new Date(e.timestamp ?? 0).toISOString()} ${e.message ?? ''}`);
      if (!out.events?.length || out.nextForwardToken === token) return { lines, next: out.nextForwardToken ?? token };
      token = out.nextForwardToken;
    }
  }

  async logs(id: string, options: LogOptions = {}): Promise<string> {
    return formatLines((await this.readLogs(id)).lines, options);
  }

  async followLogs(id: string, options: LogOptions, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
    let { lines, next } = await this.readLogs(id);
    const first = formatLines(lines, options);
    if (first) onText(first);
    while (!signal.aborted) {
      const exited = (await this.inspect(id)).state === 'exited';
      ({ lines, next } = await this.readLogs(id, next));
      const out = formatLines(lines, { timestamps: options.timestamps });
      if (out) onText(out);
      else if (exited) return;
      await sleep(1000);
    }
  }

  /**
   * Only the container's health check, answered from ECS's view of it (HEALTHY is exit 0), so
   * exec readiness probes work; any other command is refused.
   */
  async exec(id: string, command: string[], _timeoutMs?: number): Promise<ExecResult> {
    const spec = this.tracked.get(id)?.spec;
    if (!spec?.healthCheck || JSON.stringify(spec.healthCheck.command) !== JSON.stringify(command))
      throw new Error('exec is not offered by the ecs runtime: ECS ExecuteCommand needs the SSM agent in the task');
    const task = (await this.describe([id])).get(id);
    const health = task?.containers?.find((c) => c.name === spec.name)?.healthStatus ?? 'UNKNOWN';
    return { exitCode: health === 'HEALTHY' ? 0 : 1, output: health === 'HEALTHY' ? '' : `ECS health check: ${health}`, timedOut: false };
  }
}

/** What the tags of a task this kubelet started say of its container (after a restart). */
function specFromTags(task: Task): ContainerSpec {
  const tag = (key: string) => task.tags?.find((t) => t.key === key)?.value ?? '';
  return {
    podUid: task.startedBy ?? '',
    podNamespace: tag(TAG.namespace),
    podName: tag(TAG.pod),
    name: tag(TAG.container),
    attempt: Number(tag(TAG.attempt)) || 0,
    image: task.containers?.find((c) => c.name === tag(TAG.container))?.image ?? '',
    command: [],
    args: [],
    env: {},
  };
}

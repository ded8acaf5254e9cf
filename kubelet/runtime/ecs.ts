/**
 * The `ecs` runtime: each pod the kubelet runs is one ECS task on Fargate, so a node of the
 * `aws-ecs` provider is ECS capacity behind a kubelet (virtual-kubelet's idea, kept honest):
 *
 * - a task definition per pod template (`ecs-task.ts`): family `skiff-<namespace>-<owner>`,
 *   every container of the pod (init containers first, non-essential, in order), port mappings,
 *   stop timeouts from the pod's grace period, cpu and memory from the pod's requests and limits
 *   rounded up to the smallest Fargate size, the securityContext Fargate can give (the rest is
 *   refused), pod volumes as task volumes, and the awslogs driver. Pods of one template share a
 *   revision; a revision no task of this node uses any more is deregistered;
 * - RunTask with `startedBy` = the pod's uid, awsvpc networking in the node's subnets (the
 *   pod's containers share the task's address and reach each other on localhost), and the
 *   pod's environment as the task's overrides (ECS's 8,192 characters at most: more is an error
 *   the pod shows, not a silent cut). A throttled launch is tried again with back-off;
 * - `startPod` resolves once the task has left PROVISIONING and PENDING or a container of it
 *   runs (an init container), or fails with ECS's reason when the task stopped before any
 *   container ran (CannotPullContainerError is an image pull error). A container is `waiting`
 *   until ECS says it runs (a container after an init container that still runs);
 * - the task's ENI address is the pod IP;
 * - a stopped container's exit code is its own: 0 is success, anything else a failure (not
 *   always Succeeded, as virtual-kubelet's Fargate provider had it). An essential container
 *   that ends ends the task, and with it the pod's run: the kubelet starts the next;
 * - logs come from CloudWatch Logs, the stream `skiff/<container>/<task id>`;
 * - stop is StopTask: SIGTERM to every container, then SIGKILL after the stop timeout.
 *
 * - `kubectl exec` is ECS Exec: ExecuteCommand, then the Session Manager data channel
 *   (`ssm-session.ts`) to the task's agent. ECS runs every command on a terminal and reports no
 *   exit code, so the command runs under `sh -c` (the image needs a shell), which turns the
 *   terminal's echo off where no TTY was asked for, says when it is ready for input, and prints
 *   the exit code behind a marker of this call's own that is taken out of the output. Without a
 *   TTY, stdout and stderr still come as one stream, and stdin goes through the terminal's line
 *   discipline (its end is a Ctrl-D). Tasks run with ECS Exec when the runtime has a task role;
 * - the kubelet's own exec (exec probes) is not offered: an exec readiness probe runs as the
 *   container's health check and is answered from it.
 *
 * A container's id is `<task id>/<container>`. One DescribeTasks call (100 tasks each) answers
 * for every task the kubelet looks at within a second.
 */
import { type CloudWatchLogsClient, CreateLogGroupCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DeregisterTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  ExecuteCommandCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { PassThrough } from 'node:stream';
import { containersOf, FILES_CONTAINER, overridesOf, taskDefinitionOf } from './ecs-task.js';
import { formatLines } from './process.js';
import { openDataChannel } from './ssm-session.js';
import type { ContainerSpec, ContainerStatus, ExecResult, LogOptions, PodRun, Runtime, StreamOptions, StreamSession } from './types.js';

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
  /**
   * The role the pods' tasks run with. ECS Exec (`kubectl exec`) needs one that may open
   * Session Manager channels (`ssmmessages:*`); without it tasks run without ECS Exec.
   */
  taskRoleArn?: string;
}

const MAX_OVERRIDES = 8192;
const TAG = { node: 'skiff:node', namespace: 'skiff:namespace', pod: 'skiff:pod', attempt: 'skiff:attempt' };
const SIGNALS = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const taskId = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);
/** A container's id: its task's, and its name in the task. */
const containerId = (task: string, name: string) => `${task}/${name}`;
function parseId(id: string): { task: string; name: string } {
  const at = id.indexOf('/');
  if (at < 0) throw new Error(`no container ${id}: an ecs container id is <task id>/<container>`);
  return { task: id.slice(0, at), name: id.slice(at + 1) };
}

/** A pod's task this kubelet runs. */
interface Tracked {
  arn: string;
  /** Its containers by name (not the volume-filling one). */
  specs: Map<string, ContainerSpec>;
  definition: string;
  /** Containers the kubelet has removed; the task is forgotten once all are. */
  removed: Set<string>;
  /** When this runtime first saw each container running, and ended (ECS gives a task's times, not a container's). */
  seen: Map<string, { startedAt?: string; finishedAt?: string }>;
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

  /** One container as a pod of its own. */
  async start(spec: ContainerSpec): Promise<ContainerStatus> {
    const [status] = await this.startPod({ init: [], containers: [spec] });
    if (status.state !== 'waiting') return status;
    for (;;) {
      const now = await this.inspect(status.id, true);
      if (now.state !== 'waiting') return now;
      await sleep(250);
    }
  }

  async startPod(run: PodRun): Promise<ContainerStatus[]> {
    const all = containersOf(run);
    const first = all[0];
    const definition = await this.definitionFor(run);
    const overrides = overridesOf(run);
    const size = JSON.stringify(overrides).length;
    if (size > MAX_OVERRIDES)
      throw new Error(`the environment and volumes of pod ${first.podName} take ${size} characters as ECS overrides, over ECS's ${MAX_OVERRIDES}`);
    const task = await this.runTask(first, definition, overrides);
    const id = taskId(task.taskArn!);
    this.tracked.set(id, { arn: task.taskArn!, specs: new Map(all.map((c) => [c.name, c])), definition, removed: new Set(), seen: new Map() });
    this.use(definition, id);
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 600_000);
    for (;;) {
      const found = (await this.describe([id], true)).get(id);
      const ran = found?.containers?.some((c) => c.name !== FILES_CONTAINER && (c.lastStatus === 'RUNNING' || c.exitCode != null));
      if (found?.lastStatus === 'STOPPED' && !ran) {
        await this.forget(id);
        throw new Error(found.stoppedReason ?? 'the task failed to start');
      }
      if (found && (found.lastStatus === 'RUNNING' || found.lastStatus === 'STOPPED' || ran)) return all.map((c) => this.statusOf(found, c));
      if (Date.now() > deadline) {
        await this.stopTask(id, 0).catch(() => undefined);
        throw new Error(`the task did not reach RUNNING within ${(this.options.startTimeoutMs ?? 600_000) / 1000} s`);
      }
      await sleep(250);
    }
  }

  private async runTask(pod: ContainerSpec, definition: string, overrides: object): Promise<Task> {
    let wait = 200;
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await this.options.ecs.send(
          new RunTaskCommand({
            cluster: this.options.cluster,
            taskDefinition: definition,
            launchType: 'FARGATE',
            count: 1,
            startedBy: pod.podUid,
            enableExecuteCommand: this.options.taskRoleArn !== undefined,
            overrides,
            networkConfiguration: {
              awsvpcConfiguration: { subnets: this.options.subnets, securityGroups: this.options.securityGroups, assignPublicIp: 'DISABLED' },
            },
            tags: [
              { key: TAG.node, value: this.options.node },
              { key: TAG.namespace, value: pod.podNamespace },
              { key: TAG.pod, value: pod.podName },
              { key: TAG.attempt, value: String(pod.attempt) },
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

  /** This node's revision for the pod's template, registered the first time. */
  private definitionFor(run: PodRun): Promise<string> {
    const { input, hash } = taskDefinitionOf(run, {
      cluster: this.options.cluster,
      node: this.options.node,
      logGroup: this.logGroup,
      region: this.options.region ?? 'us-east-1',
      filesImage: this.options.filesImage ?? 'public.ecr.aws/docker/library/busybox:stable',
      executionRoleArn: this.options.executionRoleArn,
      taskRoleArn: this.options.taskRoleArn,
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

  /** One container of a task, as the kubelet sees it. */
  private statusOf(task: Task, spec: ContainerSpec): ContainerStatus {
    const id = taskId(task.taskArn!);
    const stopped = task.lastStatus === 'STOPPED';
    const container = task.containers?.find((c) => c.name === spec.name);
    const ended = stopped || container?.lastStatus === 'STOPPED' || container?.exitCode != null;
    const running = !ended && container?.lastStatus === 'RUNNING';
    // A container that never ran in a stopped task: ended by the stop (143 when asked), or failed.
    const exitCode = ended ? (container?.exitCode ?? (task.stopCode === 'UserInitiated' ? 143 : 1)) : undefined;
    const address = task.attachments?.flatMap((a) => a.details ?? []).find((d) => d.name === 'privateIPv4Address')?.value;
    const seen = this.tracked.get(id)?.seen;
    const times = seen?.get(spec.name) ?? {};
    const now = new Date().toISOString();
    if (running || ended) times.startedAt ??= running ? now : (task.startedAt ?? task.createdAt ?? new Date()).toISOString();
    if (ended) times.finishedAt ??= stopped ? (task.stoppedAt ?? new Date()).toISOString() : now;
    seen?.set(spec.name, times);
    return {
      id: containerId(id, spec.name),
      spec,
      state: ended ? 'exited' : running ? 'running' : 'waiting',
      exitCode,
      signal: exitCode !== undefined && exitCode > 128 ? SIGNALS.get(exitCode - 128) : undefined,
      startedAt: times.startedAt ?? (task.startedAt ?? task.createdAt ?? new Date()).toISOString(),
      finishedAt: times.finishedAt,
      ...(address ? { address } : {}),
    };
  }

  async inspect(id: string, fresh = false): Promise<ContainerStatus> {
    const { task, name } = parseId(id);
    const found = (await this.describe([task], fresh)).get(task);
    if (!found) throw new Error(`no task ${task} in cluster ${this.options.cluster}`);
    const spec = this.tracked.get(task)?.specs.get(name) ?? specsFromTags(found).find((c) => c.name === name);
    if (!spec) throw new Error(`no container ${name} in task ${task}`);
    return this.statusOf(found, spec);
  }

  /** Stops the container's task (ECS stops a task, not one of its containers): the pod's run ends. */
  async stop(id: string, gracePeriodMs: number): Promise<ContainerStatus> {
    const before = await this.inspect(id);
    if (before.state === 'exited') return before;
    await this.stopTask(parseId(id).task, gracePeriodMs);
    return this.inspect(id, true);
  }

  private async stopTask(task: string, gracePeriodMs: number): Promise<void> {
    await this.options.ecs.send(new StopTaskCommand({ cluster: this.options.cluster, task, reason: 'Stopped by the Skiff kubelet' }));
    // ECS sends SIGKILL after the definition's stop timeout (at most 120 s); wait that long and more.
    const deadline = Date.now() + Math.max(gracePeriodMs, 120_000) + 30_000;
    while ((await this.describe([task], true)).get(task)?.lastStatus !== 'STOPPED' && Date.now() < deadline) await sleep(250);
  }

  /** Forgets an ended container; its task's revision is released once every container of it is. */
  async remove(id: string): Promise<void> {
    const { task, name } = parseId(id);
    const found = (await this.describe([task], true)).get(task);
    const status = found && this.tracked.get(task)?.specs.get(name) ? this.statusOf(found, this.tracked.get(task)!.specs.get(name)!) : undefined;
    if (status && status.state !== 'exited') throw new Error(`container ${id} is ${status.state}: stop it first`);
    const t = this.tracked.get(task);
    if (!t) return;
    t.removed.add(name);
    if ([...t.specs.keys()].every((n) => t.removed.has(n))) await this.forget(task);
  }

  private async forget(task: string): Promise<void> {
    const t = this.tracked.get(task);
    this.tracked.delete(task);
    if (t) await this.release(t.definition, task);
  }

  /** This node's pods' containers, running or ended and not yet removed (after a restart: adopted). */
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
    // Pod tasks of this node (its own kubelet task carries the node's tag too, but no pod's).
    const tagged = (t: Task, key: string, value?: string) => t.tags?.some((tag) => tag.key === key && (value === undefined || tag.value === value));
    const mine = [...tasks.values()].filter((t) => tagged(t, TAG.node, this.options.node) && tagged(t, TAG.pod));
    return mine
      .filter((t) => t.lastStatus !== 'STOPPED' || this.tracked.has(taskId(t.taskArn!)))
      .flatMap((t) => {
        const id = taskId(t.taskArn!);
        if (!this.tracked.has(id)) this.adopt(id, t);
        const tracked = this.tracked.get(id)!;
        return [...tracked.specs.values()].filter((c) => !tracked.removed.has(c.name)).map((c) => this.statusOf(t, c));
      });
  }

  /** A task this kubelet did not start in this life (it restarted): tracked, and its revision kept. */
  private adopt(id: string, task: Task): void {
    const definition = task.taskDefinitionArn ?? '';
    const specs = specsFromTags(task);
    this.tracked.set(id, { arn: task.taskArn!, specs: new Map(specs.map((c) => [c.name, c])), definition, removed: new Set(), seen: new Map() });
    const hash = `adopted:${definition}`;
    const d = this.definitions.get(hash) ?? { arn: definition, users: new Set<string>() };
    d.users.add(id);
    this.definitions.set(hash, d);
  }

  /** The container's log lines from CloudWatch Logs, each `<RFC 3339 time> <message>`, and where to read on. */
  private async readLogs(id: string, from?: string): Promise<{ lines: string[]; next?: string }> {
    const { task, name } = parseId(id);
    const lines: string[] = [];
    let token = from;
    for (;;) {
      const out = await this.options.logs
        .send(new GetLogEventsCommand({ logGroupName: this.logGroup, logStreamName: `skiff/${name}/${task}`, startFromHead: true, nextToken: token }))
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

  /** `kubectl exec` through ECS Exec (see the top of this file for how a command's exit code comes back). */
  async execStream(id: string, command: string[], options: StreamOptions): Promise<StreamSession> {
    const { task, name } = parseId(id);
    if ((await this.inspect(id, true)).state !== 'running') throw new Error(`container ${name} is not running`);
    if (this.options.taskRoleArn === undefined) throw new Error('exec is not offered by this ecs runtime: its tasks have no task role for ECS Exec');
    const nonce = randomBytes(8).toString('hex');
    const readyMark = `__skiff_ready_${nonce}`;
    const exitMark = `__skiff_exit_${nonce}:`;
    const setup = options.tty ? '' : 'stty -echo -onlcr 2>/dev/null; ';
    const script = `${setup}echo ${readyMark}; "$@"; echo "${exitMark}$?"`;
    const out = await this.options.ecs.send(
      new ExecuteCommandCommand({
        cluster: this.options.cluster,
        task,
        container: name,
        interactive: true,
        command: ['sh', '-c', script, 'sh', ...command].map(quote).join(' '),
      }),
    );
    if (!out.session?.streamUrl || !out.session.tokenValue) throw new Error('ExecuteCommand answered no session');
    const channel = await openDataChannel({ streamUrl: out.session.streamUrl, tokenValue: out.session.tokenValue }, options.size);
    const stdout = new PassThrough();
    let exited!: (code: number) => void;
    const exitCode = new Promise<number>((r) => (exited = r));
    const held: Buffer[] = [];
    let lastInput = 10;
    const markers = new Markers(Buffer.from(readyMark), Buffer.from(exitMark), (b) => stdout.write(b));
    channel.output.on('data', (chunk: Buffer) => {
      const wasReady = markers.ready;
      if (markers.push(chunk)) exited(markers.exitCode!);
      if (!wasReady && markers.ready) for (const b of held.splice(0)) channel.input.write(b);
    });
    void channel.closed.then(() => {
      stdout.end();
      exited(markers.exitCode ?? 1);
    });
    const stdin = options.stdin ? new PassThrough() : undefined;
    stdin?.on('data', (b: Buffer) => {
      if (b.length) lastInput = b[b.length - 1];
      if (markers.ready) channel.input.write(b);
      else held.push(b);
    });
    // The end of input on a terminal: Ctrl-D at a line's start (twice after a partial line).
    stdin?.on('end', () => {
      const eof = Buffer.from(lastInput === 10 ? '\x04' : '\x04\x04');
      if (markers.ready) channel.input.write(eof);
      else held.push(eof);
    });
    return {
      stdin,
      stdout,
      resize: (size) => channel.resize(size),
      exited: exitCode.then(async (code) => {
        channel.close();
        await channel.closed;
        return code;
      }),
      close: () => channel.close(),
    };
  }

  /**
   * Only the container's health check, answered from ECS's view of it (HEALTHY is exit 0), so
   * exec readiness probes work; any other command is refused.
   */
  async exec(id: string, command: string[], _timeoutMs?: number): Promise<ExecResult> {
    const { task: tid, name } = parseId(id);
    const spec = this.tracked.get(tid)?.specs.get(name);
    if (!spec?.healthCheck || JSON.stringify(spec.healthCheck.command) !== JSON.stringify(command))
      throw new Error('exec is not offered by the ecs runtime: ECS ExecuteCommand needs the SSM agent in the task');
    const task = (await this.describe([tid])).get(tid);
    const health = task?.containers?.find((c) => c.name === spec.name)?.healthStatus ?? 'UNKNOWN';
    return { exitCode: health === 'HEALTHY' ? 0 : 1, output: health === 'HEALTHY' ? '' : `ECS health check: ${health}`, timedOut: false };
  }
}

const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * Takes the session's own markers out of what the command prints: the ready line (where input
 * may begin) and the exit code line at the end.
 */
class Markers {
  private pending = Buffer.alloc(0);
  ready = false;
  exitCode?: number;

  constructor(
    private readonly readyMark: Buffer,
    private readonly exitMark: Buffer,
    private readonly emit: (b: Buffer) => void,
  ) {}

  /** Handles output; true once the exit code is known. */
  push(chunk: Buffer): boolean {
    this.pending = Buffer.concat([this.pending, chunk]);
    if (!this.ready) {
      const at = this.pending.indexOf(this.readyMark);
      if (at < 0) return false;
      let end = at + this.readyMark.length;
      while (this.pending[end] === 13 || this.pending[end] === 10) end++;
      this.pending = this.pending.subarray(end);
      this.ready = true;
    }
    const at = this.pending.indexOf(this.exitMark);
    if (at >= 0) {
      const line = /^(\d*)[\r\n]/.exec(this.pending.subarray(at + this.exitMark.length).toString('latin1'));
      // The rest of its line is still to come.
      if (!line) return false;
      if (at > 0) this.emit(this.pending.subarray(0, at));
      this.exitCode = line[1] ? Number(line[1]) : 1;
      this.pending = Buffer.alloc(0);
      return true;
    }
    // Hold back only a tail that may be the start of the exit mark.
    let keep = Math.min(this.exitMark.length - 1, this.pending.length);
    while (keep > 0 && !this.exitMark.subarray(0, keep).equals(this.pending.subarray(this.pending.length - keep))) keep--;
    if (this.pending.length > keep) this.emit(this.pending.subarray(0, this.pending.length - keep));
    this.pending = this.pending.subarray(this.pending.length - keep);
    return false;
  }
}

/** What a task this kubelet started says of its pod's containers (after a restart): names and images from the task, the pod from its tags. */
function specsFromTags(task: Task): ContainerSpec[] {
  const tag = (key: string) => task.tags?.find((t) => t.key === key)?.value ?? '';
  return (task.containers ?? [])
    .filter((c) => c.name && c.name !== FILES_CONTAINER)
    .map((c) => ({
      podUid: task.startedBy ?? '',
      podNamespace: tag(TAG.namespace),
      podName: tag(TAG.pod),
      name: c.name!,
      attempt: Number(tag(TAG.attempt)) || 0,
      image: c.image ?? '',
      command: [],
      args: [],
      env: {},
    }));
}

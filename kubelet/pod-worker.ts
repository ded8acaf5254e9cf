/**
 * One pod on this node, from bound to gone: init containers in order, then the containers;
 * probes; restarts by `restartPolicy` with back-off; status as the API shows it; and graceful
 * termination on delete. `sync` is level-triggered: it compares what the runtime has with what
 * the pod asks for and takes the next step, so it is called on every pod change and on a tick.
 *
 * Back-off follows the kubelet: the first restart is at once, then a crashed container waits
 * 10 s, doubling to 5 min, shown as the waiting reason `CrashLoopBackOff`; a container that ran
 * 10 min before exiting starts over at no delay.
 */
import { MountError } from './volume-sources.js';
import { PodVolumes, type VolumeContext } from './volumes.js';
import type { Condition, Container, Pod, ContainerStatus as PodContainerStatus, Probe } from '../shared/api/schemas/index.js';
import { conditionOf } from '../shared/api/objects.js';
import { parseBytes, parseCpu } from '../shared/api/quantity.js';
import { ApiRequestError, type ApiClient } from './api-client.js';
import { ContainerConfigError, containerEnv, expand, type ServiceInfo } from './env.js';
import { runProbe } from './probes.js';
import { type ContainerSecurity, type ContainerSpec, type ContainerStatus, type Runtime, SecurityRefusal } from './runtime/types.js';

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

export interface WorkerContext {
  runtime: Runtime;
  api: ApiClient;
  nodeName: string;
  hostIP: string;
  /** The pod's own address (each pod gets one; containers bind to it). */
  podIP(pod: Pod): string;
  backoff: BackoffPolicy;
  /** Records an Event about the pod (best effort). */
  event(pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string): void;
  log(line: string): void;
  /** The Services whose variables a pod's containers get (its namespace's, with enableServiceLinks, and `kubernetes`). */
  services?(pod: Pod): Promise<ServiceInfo[]>;
  /** Where the pod's volumes (its service-account token) are filled; absent: none are. */
  volumes?: Omit<VolumeContext, 'log'>;
}

interface ProbeState {
  lastRun: number;
  successes: number;
  failures: number;
}

interface ContainerRecord {
  name: string;
  init: boolean;
  current?: ContainerStatus;
  previous?: ContainerStatus;
  restartCount: number;
  backoffMs: number;
  waiting?: { reason: string; message?: string };
  /** An init container that exited 0. */
  completed: boolean;
  ready: boolean;
  /** The startup probe has passed (or there is none). */
  started: boolean;
  probes: { startup: ProbeState; liveness: ProbeState; readiness: ProbeState };
}

const freshProbes = () => ({
  startup: { lastRun: 0, successes: 0, failures: 0 },
  liveness: { lastRun: 0, successes: 0, failures: 0 },
  readiness: { lastRun: 0, successes: 0, failures: 0 },
});
const timestamp = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const iso = (text: string | undefined) => (text ? timestamp(Date.parse(text)) : undefined);
/** How long termination waits for a sync under way. */
const SYNC_WAIT_MS = 5_000;

/** Waits for `work` (its failure ignored), but no longer than `ms`; true when it finished. */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A container's securityContext with the pod's filled in where the container's says nothing (as Kubernetes merges them). */
export function securityOf(pod: Pod, c: Container): ContainerSecurity | undefined {
  const podLevel = pod.spec.securityContext ?? {};
  const own = c.securityContext ?? {};
  const merged: ContainerSecurity = {
    runAsUser: own.runAsUser ?? podLevel.runAsUser,
    runAsGroup: own.runAsGroup ?? podLevel.runAsGroup,
    runAsNonRoot: own.runAsNonRoot ?? podLevel.runAsNonRoot,
    readOnlyRootFilesystem: own.readOnlyRootFilesystem,
    privileged: own.privileged,
    allowPrivilegeEscalation: own.allowPrivilegeEscalation,
    capabilities: own.capabilities,
  };
  const set = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as ContainerSecurity;
  return Object.keys(set).length ? set : undefined;
}

export class PodWorker {
  private pod: Pod;
  private readonly records = new Map<string, ContainerRecord>();
  private running?: Promise<void>;
  private again = false;
  private terminated = false;
  /** Set when termination begins: from then on no container is started. */
  private stopping = false;
  private finalPhase?: 'Succeeded' | 'Failed';
  /**
   * The pod had finished (Succeeded or Failed) before this worker saw it, say before a kubelet
   * or control-plane restart: it is not run again, and its status, written by the run that
   * finished, is left as it is.
   */
  private readonly finishedBefore: boolean;
  private lastReported = '';
  private readonly startTime: number;
  /** Conditions keep their transition times while their status holds. */
  private readonly transitions = new Map<string, { status: string; at: string }>();
  private ownAddress?: string;
  private readonly volumes?: PodVolumes;
  /** The back-off of the pod's runs, where the runtime runs a pod as one unit. */
  private runBackoffMs = 0;

  constructor(
    pod: Pod,
    private readonly ctx: WorkerContext,
    adopted: ContainerStatus[] = [],
  ) {
    this.pod = pod;
    if (ctx.volumes) this.volumes = new PodVolumes({ ...ctx.volumes, log: ctx.log, ips: (p) => ({ hostIP: ctx.hostIP, podIP: ctx.podIP(p) }) }, pod);
    this.startTime = pod.status?.startTime ? Date.parse(pod.status.startTime) : Date.now();
    const phase = pod.status?.phase;
    this.finishedBefore = phase === 'Succeeded' || phase === 'Failed';
    if (phase === 'Succeeded' || phase === 'Failed') this.finalPhase = phase;
    for (const c of pod.spec.initContainers ?? []) this.records.set(c.name, this.newRecord(c.name, true));
    for (const c of pod.spec.containers) this.records.set(c.name, this.newRecord(c.name, false));
    this.adopt(adopted);
  }

  get uid(): string {
    return this.pod.metadata?.uid ?? '';
  }

  get done(): boolean {
    return this.terminated;
  }

  /** The pod as last seen. */
  get current(): Pod {
    return this.pod;
  }

  /** Running or about to: not terminated, not Succeeded or Failed, not being deleted. */
  get active(): boolean {
    return !this.terminated && !this.finalPhase && !this.pod.metadata?.deletionTimestamp;
  }

  /** The container ids of a container: its current run and the one before. */
  containerIds(name: string): { current?: ContainerStatus; previous?: ContainerStatus; waiting?: { reason: string; message?: string } } | undefined {
    const r = this.records.get(name);
    return r && { current: r.current, previous: r.previous, waiting: r.waiting };
  }

  matches(namespace: string, name: string): boolean {
    return this.pod.metadata?.namespace === namespace && this.pod.metadata?.name === name;
  }

  update(pod: Pod): void {
    this.pod = pod;
    this.volumes?.update(pod);
  }

  /** Runs `step` now, or once more after the run in progress. */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.step();
        } while (this.again && !this.terminated);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private newRecord(name: string, init: boolean): ContainerRecord {
    return { name, init, restartCount: 0, backoffMs: 0, completed: false, ready: false, started: false, probes: freshProbes() };
  }

  /**
   * Containers found in the runtime after a kubelet restart: the newest run of each is current.
   * A container that ran before (the pod's status says so) but is gone (the machine or all of
   * `skiff up` restarted) starts again as a restart, so restartCount keeps counting.
   */
  private adopt(found: ContainerStatus[]): void {
    const reported = [...(this.pod.status?.initContainerStatuses ?? []), ...(this.pod.status?.containerStatuses ?? [])];
    for (const record of this.records.values()) {
      const runs = found.filter((c) => c.spec.name === record.name).sort((a, b) => b.spec.attempt - a.spec.attempt);
      if (runs.length === 0) {
        const before = reported.find((s) => s.name === record.name);
        if (before?.containerID) {
          record.restartCount = before.restartCount + 1;
          if (record.init && before.state?.terminated?.exitCode === 0) record.completed = true;
        }
        continue;
      }
      record.current = runs[0];
      record.previous = runs[1];
      record.restartCount = runs[0].spec.attempt;
      record.started = runs[0].state === 'running';
      if (record.init && runs[0].state === 'exited' && runs[0].exitCode === 0) record.completed = true;
      for (const extra of runs.slice(2)) void this.ctx.runtime.remove(extra.id).catch(() => undefined);
    }
  }

  /**
   * The pod's address: a running container's own where the runtime gives one (an ECS task's
   * ENI, kept once known), else the one the kubelet chose for the pod.
   */
  private get podIP(): string {
    for (const r of this.records.values()) if (r.current?.state === 'running' && r.current.address) this.ownAddress = r.current.address;
    return this.ownAddress ?? this.ctx.podIP(this.pod);
  }

  private container(name: string): Container {
    return [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers].find((c) => c.name === name)!;
  }

  private async step(): Promise<void> {
    if (this.terminated) return;
    if (this.pod.metadata?.deletionTimestamp) {
      await this.stopAll(true);
      return;
    }
    if (this.finishedBefore) return;
    for (const r of this.records.values()) {
      if (r.current) r.current = await this.ctx.runtime.inspect(r.current.id).catch(() => r.current);
    }
    // Containers adopted after a kubelet restart need their volumes (and token refreshes) too, and
    // running ones see their ConfigMaps' changes. A volume that cannot be set up now fails the
    // next container start, with the reason.
    if ([...this.records.values()].some((r) => r.current?.state === 'running')) {
      await this.volumes?.prepare().catch(() => undefined);
      await this.volumes?.sync();
    }
    if (!this.finalPhase) {
      if (this.ctx.runtime.startPod) await this.runAsUnit();
      else if (await this.runInitContainers()) await this.runContainers();
    }
    await this.report();
  }

  private get initialized(): boolean {
    return [...this.records.values()].every((r) => !r.init || r.completed);
  }

  private get restartPolicy(): string {
    return this.pod.spec.restartPolicy ?? 'Always';
  }

  /** True once every init container has completed. */
  private async runInitContainers(): Promise<boolean> {
    for (const c of this.pod.spec.initContainers ?? []) {
      const r = this.records.get(c.name)!;
      if (r.completed) continue;
      if (!r.current) {
        await this.start(r);
        return false;
      }
      if (r.current.state === 'running') return false;
      if (r.current.exitCode === 0) {
        r.completed = true;
        continue;
      }
      if (this.restartPolicy === 'Never') {
        this.finalPhase = 'Failed';
        return false;
      }
      await this.restart(r);
      return false;
    }
    return true;
  }

  private async runContainers(): Promise<void> {
    await Promise.all(
      this.pod.spec.containers.map(async (c) => {
        const r = this.records.get(c.name)!;
        if (!r.current) return this.start(r);
        if (r.current.state === 'running') return this.probe(r, c);
        r.ready = false;
        const failed = r.current.exitCode !== 0;
        if (this.restartPolicy === 'Always' || (this.restartPolicy === 'OnFailure' && failed)) return this.restart(r);
      }),
    );
    const all = [...this.records.values()].filter((r) => !r.init);
    if (all.every((r) => r.current?.state === 'exited') && this.restartPolicy !== 'Always') {
      const failed = all.some((r) => r.current!.exitCode !== 0);
      if (this.restartPolicy === 'Never' || !failed) this.finalPhase = failed ? 'Failed' : 'Succeeded';
    }
  }

  /** What the runtime is asked to run for container `c`: its environment, command, volumes and limits, resolved now. */
  private async specOf(c: Container, attempt: number): Promise<ContainerSpec> {
    const services = (await this.ctx.services?.(this.pod)) ?? [];
    const env = await containerEnv(this.ctx.api, this.pod, c, { hostIP: this.ctx.hostIP, podIP: this.ctx.podIP(this.pod) }, services);
    await this.volumes?.prepare();
    return {
      podUid: this.uid,
      podNamespace: this.pod.metadata?.namespace ?? '',
      podName: this.pod.metadata?.name ?? '',
      name: c.name,
      attempt,
      image: c.image ?? '',
      imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image ?? ''),
      command: (c.command ?? []).map((a) => expand(a, env)),
      args: (c.args ?? []).map((a) => expand(a, env)),
      env,
      workingDir: c.workingDir,
      memoryLimit: c.resources?.limits?.memory !== undefined ? parseBytes(c.resources.limits.memory) : undefined,
      cpuLimit: c.resources?.limits?.cpu !== undefined ? parseCpu(c.resources.limits.cpu) : undefined,
      cpuRequest: c.resources?.requests?.cpu !== undefined ? parseCpu(c.resources.requests.cpu) : undefined,
      memoryRequest: c.resources?.requests?.memory !== undefined ? parseBytes(c.resources.requests.memory) : undefined,
      ports: c.ports?.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol })),
      gracePeriodSeconds: this.pod.spec.terminationGracePeriodSeconds ?? undefined,
      healthCheck: healthCheckOf(c),
      security: securityOf(this.pod, c),
      mounts: this.volumes?.mountsFor(c),
      stdin: c.stdin ?? false,
      stdinOnce: c.stdinOnce ?? false,
    };
  }

  /** A container whose spec could not be made waits, with the reason shown once as an event. False: not such an error. */
  private configFailed(r: ContainerRecord, err: unknown): boolean {
    if (!(err instanceof ContainerConfigError)) return false;
    if (err instanceof MountError) {
      // As Kubernetes' kubelet: the pod waits in ContainerCreating, with a FailedMount event.
      if (r.waiting?.message !== err.message) this.ctx.event(this.pod, 'Warning', 'FailedMount', err.message);
      r.waiting = { reason: 'ContainerCreating', message: err.message };
      return true;
    }
    if (r.waiting?.message !== err.message) this.ctx.event(this.pod, 'Warning', 'Failed', `Error: ${err.message}`);
    r.waiting = { reason: 'CreateContainerConfigError', message: err.message };
    return true;
  }

  /** The runtime started the container's new run: the last one becomes the previous. */
  private async begun(r: ContainerRecord, started: ContainerStatus): Promise<void> {
    if (r.current) {
      if (r.previous) await this.ctx.runtime.remove(r.previous.id).catch(() => undefined);
      r.previous = r.current;
      r.restartCount++;
    }
    r.current = started;
    r.waiting = undefined;
    r.ready = false;
    r.started = false;
    r.probes = freshProbes();
  }

  /** The runtime could not start the container: it waits, with the reason. */
  private startFailed(r: ContainerRecord, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof SecurityRefusal) {
      // Asked for what this runtime cannot give: not run at all, and said so.
      if (r.waiting?.message !== message) this.ctx.event(this.pod, 'Warning', 'Failed', `Error: ${message}`);
      r.waiting = { reason: 'CreateContainerConfigError', message };
      return;
    }
    const reason = message.startsWith('ErrImageNeverPull') ? 'ErrImageNeverPull' : /pull|image/i.test(message) ? 'ErrImagePull' : 'RunContainerError';
    if (r.waiting?.message !== message) this.ctx.event(this.pod, 'Warning', 'Failed', `Error: ${message}`);
    r.waiting = { reason, message };
  }

  private async start(r: ContainerRecord): Promise<void> {
    if (this.stopping) return;
    const c = this.container(r.name);
    const attempt = r.current ? r.current.spec.attempt + 1 : r.restartCount;
    let spec: ContainerSpec;
    try {
      spec = await this.specOf(c, attempt);
    } catch (err) {
      if (this.configFailed(r, err)) return;
      throw err;
    }
    try {
      await this.begun(r, await this.ctx.runtime.start(spec));
      this.ctx.event(this.pod, 'Normal', 'Started', `Started container ${c.name}`);
    } catch (err) {
      this.startFailed(r, err);
    }
  }

  // ---- a pod run as one unit -----------------------------------------------------------------

  /**
   * The pod's run on a runtime that runs a pod as one unit (`Runtime.startPod`, an ECS task):
   * probes while it runs; when it has ended (on ECS, the end of any container but an init
   * container ends the task), the restart policy decides: the whole run starts again, init
   * containers first (as Kubernetes runs them again when it makes a pod's sandbox anew), with
   * the back-off a crashing container gets; or the pod ends, Failed if an init container failed
   * or a container exited non-zero.
   */
  private async runAsUnit(): Promise<void> {
    const records = [...this.records.values()];
    for (const r of records) if (r.init && r.current?.state === 'exited' && r.current.exitCode === 0) r.completed = true;
    if (!records.some((r) => r.current)) return this.startRun();
    if (records.some((r) => r.current && r.current.state !== 'exited')) {
      await Promise.all(records.filter((r) => !r.init && r.current?.state === 'running').map((r) => this.probe(r, this.container(r.name))));
      return;
    }
    for (const r of records) r.ready = false;
    const failed = records.some((r) => (r.init ? !r.completed : r.current?.exitCode !== 0));
    if (this.restartPolicy === 'Always' || (this.restartPolicy === 'OnFailure' && failed)) return this.restartRun();
    this.finalPhase = failed ? 'Failed' : 'Succeeded';
  }

  /** The pod's next run: every container's spec, then one start of them all. */
  private async startRun(): Promise<void> {
    if (this.stopping) return;
    const records = [...this.records.values()];
    const attempt = Math.max(...records.map((r) => (r.current ? r.current.spec.attempt + 1 : r.restartCount)));
    const specs: ContainerSpec[] = [];
    for (const r of records) {
      try {
        specs.push(await this.specOf(this.container(r.name), attempt));
      } catch (err) {
        if (this.configFailed(r, err)) return;
        throw err;
      }
    }
    let started: ContainerStatus[];
    try {
      started = await this.ctx.runtime.startPod!({ init: specs.filter((_, n) => records[n].init), containers: specs.filter((_, n) => !records[n].init) });
    } catch (err) {
      for (const r of records) if (!r.init || !r.completed) this.startFailed(r, err);
      return;
    }
    for (const r of records) {
      const s = started.find((c) => c.spec.name === r.name);
      if (!s) continue;
      if (r.init) r.completed = false;
      await this.begun(r, s);
    }
    this.ctx.event(this.pod, 'Normal', 'Started', `Started containers ${records.map((r) => r.name).join(', ')}`);
  }

  /** A run that ended: the next one now, or once the back-off is waited out. */
  private async restartRun(): Promise<void> {
    const runs = [...this.records.values()].map((r) => r.current).filter((c): c is ContainerStatus => c !== undefined);
    const finished = Math.max(...runs.map((c) => Date.parse(c.finishedAt ?? '') || Date.now()));
    const began = Math.min(...runs.map((c) => Date.parse(c.startedAt) || finished));
    if (finished - began >= this.ctx.backoff.resetAfterMs) this.runBackoffMs = 0;
    const apps = [...this.records.values()].filter((r) => !r.init);
    if (this.runBackoffMs > 0 && Date.now() < finished + this.runBackoffMs) {
      const name = this.pod.metadata?.name;
      if (apps.some((r) => r.waiting?.reason !== 'CrashLoopBackOff')) this.ctx.event(this.pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
      for (const r of apps)
        r.waiting = {
          reason: 'CrashLoopBackOff',
          message: `back-off ${Math.round(this.runBackoffMs / 1000)}s restarting failed container=${r.name} pod=${name}_${this.pod.metadata?.namespace}(${this.uid})`,
        };
      return;
    }
    const before = apps[0]?.current;
    await this.startRun();
    if (apps[0]?.current !== before)
      this.runBackoffMs = this.runBackoffMs ? Math.min(this.runBackoffMs * 2, this.ctx.backoff.maxMs) : this.ctx.backoff.initialMs;
  }

  /** A run that ended: start the next one now, or wait out the back-off. */
  private async restart(r: ContainerRecord): Promise<void> {
    const exited = r.current!;
    const finished = Date.parse(exited.finishedAt ?? '') || Date.now();
    const ran = finished - Date.parse(exited.startedAt);
    if (ran >= this.ctx.backoff.resetAfterMs) r.backoffMs = 0;
    if (r.backoffMs > 0 && Date.now() < finished + r.backoffMs) {
      const message = `back-off ${Math.round(r.backoffMs / 1000)}s restarting failed container=${r.name} pod=${this.pod.metadata?.name}_${this.pod.metadata?.namespace}(${this.uid})`;
      if (r.waiting?.reason !== 'CrashLoopBackOff') this.ctx.event(this.pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
      r.waiting = { reason: 'CrashLoopBackOff', message };
      return;
    }
    await this.start(r);
    if (r.current !== exited) r.backoffMs = r.backoffMs ? Math.min(r.backoffMs * 2, this.ctx.backoff.maxMs) : this.ctx.backoff.initialMs;
  }

  private due(probe: Probe, state: ProbeState, startedAt: number, now: number): boolean {
    return now >= startedAt + (probe.initialDelaySeconds ?? 0) * 1000 && now >= state.lastRun + (probe.periodSeconds ?? 10) * 1000;
  }

  private async runOne(kind: 'startup' | 'liveness' | 'readiness', probe: Probe, r: ContainerRecord, c: Container): Promise<boolean | undefined> {
    const state = r.probes[kind];
    const startedAt = Date.parse(r.current!.startedAt);
    const now = Date.now();
    if (!this.due(probe, state, startedAt, now)) return undefined;
    state.lastRun = now;
    const result = await runProbe(probe, c, r.current!.id, this.ctx.runtime, this.podIP);
    if (result.ok) {
      state.successes++;
      state.failures = 0;
    } else {
      state.failures++;
      state.successes = 0;
      const label = kind[0].toUpperCase() + kind.slice(1);
      this.ctx.event(this.pod, 'Warning', 'Unhealthy', `${label} probe failed: ${result.message}`);
    }
    return result.ok;
  }

  private async probe(r: ContainerRecord, c: Container): Promise<void> {
    if (!r.started) {
      if (!c.startupProbe) r.started = true;
      else {
        await this.runOne('startup', c.startupProbe, r, c);
        if (r.probes.startup.successes >= 1) r.started = true;
        else if (r.probes.startup.failures >= (c.startupProbe.failureThreshold ?? 3)) return this.kill(r, c, 'failed startup probe', c.startupProbe);
        else return;
      }
    }
    if (c.livenessProbe) {
      await this.runOne('liveness', c.livenessProbe, r, c);
      if (r.probes.liveness.failures >= (c.livenessProbe.failureThreshold ?? 3)) return this.kill(r, c, 'failed liveness probe', c.livenessProbe);
    }
    if (!c.readinessProbe) {
      r.ready = true;
      return;
    }
    await this.runOne('readiness', c.readinessProbe, r, c);
    if (r.probes.readiness.successes >= (c.readinessProbe.successThreshold ?? 1)) r.ready = true;
    else if (r.probes.readiness.failures >= (c.readinessProbe.failureThreshold ?? 3)) r.ready = false;
  }

  /** Stops a container a probe gave up on; the restart policy takes it from there. */
  private async kill(r: ContainerRecord, c: Container, why: string, probe: Probe): Promise<void> {
    this.ctx.event(this.pod, 'Normal', 'Killing', `Container ${c.name} ${why}, will be restarted`);
    const grace = probe.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
    r.ready = false;
    r.current = await this.ctx.runtime.stop(r.current!.id, grace * 1000);
  }

  /**
   * Stops every container (SIGTERM, the grace period, SIGKILL) and removes them; with
   * `confirm`, then deletes the pod for good (grace 0), as the kubelet confirms a deletion.
   */
  async terminate(confirm: boolean, graceOverrideMs?: number): Promise<void> {
    if (this.terminated) return;
    this.stopping = true;
    // A sync under way may be starting a container: let it finish, so the container is known
    // and stopped below, but not wait on a step that hangs (a probe, a slow engine).
    if (this.running) await within(this.running, SYNC_WAIT_MS);
    await this.stopAll(confirm, graceOverrideMs);
  }

  private async stopAll(confirm: boolean, graceOverrideMs?: number): Promise<void> {
    if (this.terminated) return;
    this.stopping = true;
    const meta = this.pod.metadata ?? {};
    const graceMs = graceOverrideMs ?? (meta.deletionGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const records = [...this.records.values()];
    await Promise.all(
      records.map(async (r) => {
        if (r.current && r.current.state !== 'exited') {
          this.ctx.event(this.pod, 'Normal', 'Killing', `Stopping container ${r.name}`);
          await this.ctx.runtime.stop(r.current.id, graceMs);
        }
      }),
    );
    for (const r of records) {
      for (const c of [r.current, r.previous]) if (c) await this.ctx.runtime.remove(c.id).catch(() => undefined);
    }
    // Whatever the records missed (a start that completed after the wait above) goes too.
    for (const c of await this.ctx.runtime.list().catch(() => [])) {
      if (c.spec.podUid !== this.uid) continue;
      await this.ctx.runtime.stop(c.id, 0).catch(() => undefined);
      await this.ctx.runtime.remove(c.id).catch(() => undefined);
    }
    this.terminated = true;
    this.volumes?.close();
    if (!confirm) return;
    const path = `/api/v1/namespaces/${encodeURIComponent(meta.namespace ?? '')}/pods/${encodeURIComponent(meta.name ?? '')}`;
    await this.ctx.api
      .request('DELETE', path, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: this.uid } })
      .catch((err) => {
        if (!(err instanceof ApiRequestError) || (err.code !== 404 && err.code !== 409)) throw err;
      });
  }

  // ---- status ------------------------------------------------------------------------------

  private containerStatus(r: ContainerRecord): PodContainerStatus {
    const c = this.container(r.name);
    const terminated = (s: ContainerStatus) => ({
      terminated: {
        exitCode: s.exitCode ?? 0,
        reason: s.oomKilled ? 'OOMKilled' : s.exitCode === 0 ? 'Completed' : 'Error',
        startedAt: iso(s.startedAt),
        finishedAt: iso(s.finishedAt),
        containerID: `${this.ctx.runtime.name}://${s.id}`,
      },
    });
    let state: NonNullable<PodContainerStatus['state']>;
    if (r.waiting) state = { waiting: r.waiting };
    else if (!r.current || r.current.state === 'waiting')
      state = { waiting: { reason: !r.init && !this.initialized ? 'PodInitializing' : 'ContainerCreating' } };
    else if (r.current.state === 'running') state = { running: { startedAt: iso(r.current.startedAt) } };
    else state = terminated(r.current);
    // While waiting to run again, the last run is `lastState`; otherwise the one before.
    const last = r.waiting && r.current?.state === 'exited' ? r.current : r.previous;
    return {
      name: r.name,
      state,
      lastState: last && last.state === 'exited' ? terminated(last) : {},
      ready: r.ready && r.current?.state === 'running' && !r.waiting,
      restartCount: r.restartCount,
      image: c.image ?? '',
      imageID: c.image ? `${this.ctx.runtime.name}://${c.image}` : '',
      ...(r.current ? { containerID: `${this.ctx.runtime.name}://${r.current.id}` } : {}),
      started: r.current?.state === 'running' && r.started && !r.waiting,
    };
  }

  private condition(type: string, ok: boolean, reason?: string): Condition {
    const status = ok ? 'True' : 'False';
    const prev = this.transitions.get(type);
    const at = prev && prev.status === status ? prev.at : timestamp(Date.now());
    this.transitions.set(type, { status, at });
    return { type, status, lastProbeTime: null, lastTransitionTime: at, ...(reason && !ok ? { reason } : {}) };
  }

  private async report(): Promise<void> {
    const records = [...this.records.values()];
    const inits = records.filter((r) => r.init);
    const apps = records.filter((r) => !r.init);
    const initialized = inits.every((r) => r.completed);
    const containersReady = apps.every((r) => r.ready && r.current?.state === 'running' && !r.waiting);
    let phase: NonNullable<Pod['status']>['phase'] = this.finalPhase ?? 'Pending';
    if (!this.finalPhase && initialized && apps.every((r) => r.current && r.current.state !== 'waiting')) phase = 'Running';
    const scheduled = conditionOf(this.pod.status?.conditions, 'PodScheduled');
    const status: NonNullable<Pod['status']> = {
      phase,
      conditions: [
        this.condition('PodReadyToStartContainers', true),
        this.condition('Initialized', initialized, 'ContainersNotInitialized'),
        this.condition('Ready', containersReady && phase === 'Running', 'ContainersNotReady'),
        this.condition('ContainersReady', containersReady && phase === 'Running', 'ContainersNotReady'),
        scheduled ?? { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: timestamp(this.startTime) },
      ],
      hostIP: this.ctx.hostIP,
      hostIPs: [{ ip: this.ctx.hostIP }],
      ...(this.podIP ? { podIP: this.podIP, podIPs: [{ ip: this.podIP }] } : {}),
      startTime: timestamp(this.startTime),
      ...(inits.length ? { initContainerStatuses: inits.map((r) => this.containerStatus(r)) } : {}),
      containerStatuses: apps.map((r) => this.containerStatus(r)),
      qosClass: qosClass(this.pod),
    };
    const text = JSON.stringify(status);
    if (text === this.lastReported) return;
    const meta = this.pod.metadata ?? {};
    try {
      await this.ctx.api.request(
        'PATCH',
        `/api/v1/namespaces/${encodeURIComponent(meta.namespace ?? '')}/pods/${encodeURIComponent(meta.name ?? '')}/status`,
        { status },
        'application/merge-patch+json',
      );
      this.lastReported = text;
    } catch (err) {
      if (err instanceof ApiRequestError && err.code === 404) return;
      throw err;
    }
  }
}

/** The container's exec readiness probe, as a runtime's own health check would run it. */
function healthCheckOf(c: Container): ContainerSpec['healthCheck'] {
  const probe = c.readinessProbe;
  if (!probe?.exec?.command?.length) return undefined;
  return {
    command: probe.exec.command,
    periodSeconds: probe.periodSeconds ?? 10,
    timeoutSeconds: probe.timeoutSeconds ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
    initialDelaySeconds: probe.initialDelaySeconds ?? 0,
  };
}

/** Kubernetes' default: `Always` for `:latest` or no tag, else `IfNotPresent`. */
function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const name = image.split('@')[0];
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > slash ? name.slice(colon + 1) : '';
  return image.includes('@') || (tag && tag !== 'latest') ? 'IfNotPresent' : 'Always';
}

function qosClass(pod: Pod): string {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const requests = all.map((c) => c.resources ?? {});
  if (requests.every((r) => !r.requests && !r.limits)) return 'BestEffort';
  const guaranteed = requests.every(
    (r) =>
      r.limits?.cpu !== undefined &&
      r.limits?.memory !== undefined &&
      (r.requests?.cpu ?? r.limits.cpu) === r.limits.cpu &&
      (r.requests?.memory ?? r.limits.memory) === r.limits.memory,
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

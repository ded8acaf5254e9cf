/**
 * The `Runtime` port: how the kubelet runs a pod's containers. Drivers side by side:
 * `process.ts` (each container a host process in its own process group) and later `docker.ts`
 * (the Docker Engine API). Every container a runtime starts is labelled with its pod and name,
 * so a kubelet that restarts finds (`list`) what it started and adopts or removes it.
 */
import type { Readable, Writable } from 'node:stream';

export interface ContainerSpec {
  /** The pod's uid and identity, recorded on the container for adoption. */
  podUid: string;
  podNamespace: string;
  podName: string;
  name: string;
  /** Restart number: 0 for the first run. */
  attempt: number;
  image: string;
  /**
   * Kubernetes' pull policy: `Always` pulls at every start, `IfNotPresent` only when missing,
   * `Never` fails when missing. Runtimes that do not use images ignore it.
   */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command: string[];
  args: string[];
  env: Record<string, string>;
  workingDir?: string;
  /** Memory limit in bytes, where the runtime can enforce it. */
  memoryLimit?: number;
  /** CPU limit in millicores, where the runtime can enforce it. */
  cpuLimit?: number;
  /** Requests (millicores, bytes): what a runtime that sizes each pod's machine (ECS) sizes it by. */
  cpuRequest?: number;
  memoryRequest?: number;
  /** The ports the container serves (a task definition's port mappings). */
  ports?: { containerPort: number; protocol?: string }[];
  /** The pod's grace period, for runtimes that fix it when the container is made (ECS's stopTimeout). */
  gracePeriodSeconds?: number;
  /**
   * The exec readiness probe, for runtimes that run it themselves (an ECS health check) and
   * answer the kubelet's probe from its result.
   */
  healthCheck?: { command: string[]; periodSeconds: number; timeoutSeconds: number; failureThreshold: number; initialDelaySeconds: number };
  /** The log is rotated past this size (one rotated file is kept); default 10 MiB. */
  logMaxBytes?: number;
  /** The container's securityContext, the pod's filled in where the container's says nothing. */
  security?: ContainerSecurity;
  /** Host folders the kubelet filled (pod volumes), to be seen at `containerPath`. */
  mounts?: Mount[];
  /** The process runtime's: the mounts its shim bind-mounts in the process's own mount namespace. */
  bind?: Mount[];
  /** The container keeps a stdin open for `kubectl attach -i` (the pod's `stdin`); closed after the first attach ends with `stdinOnce`. */
  stdin?: boolean;
  stdinOnce?: boolean;
}

/**
 * A pod volume in a container. The docker runtime bind-mounts it at `containerPath`. A host
 * process shares the host's filesystem: the process runtime bind-mounts it in the process's own
 * mount namespace when the kubelet runs as root, and names each mount's folder in the
 * environment variable `SKIFF_MOUNTS` (JSON: container path -> host folder) either way.
 */
export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
  /**
   * A host process keeps the host's own file at this path and is only told of the pod's in
   * `SKIFF_MOUNTS`: the pod's resolv.conf, since a host process shares the host's network.
   */
  hostKeepsOwn?: boolean;
}

export interface ContainerSecurity {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
}

/**
 * A runtime's refusal of a securityContext it cannot give (a container that would run as root
 * under runAsNonRoot, a read-only root it cannot make): the pod worker shows it as
 * CreateContainerConfigError instead of running the container without what it asked for.
 */
export class SecurityRefusal extends Error {}

/**
 * `waiting`: made as part of its pod's run (`Runtime.startPod`) but not started yet, as the
 * containers before it (init containers) still run.
 */
export type ContainerState = 'waiting' | 'running' | 'exited';

/** A pod's containers, for a runtime that runs a pod as one unit: init containers in order, then the others. */
export interface PodRun {
  init: ContainerSpec[];
  containers: ContainerSpec[];
}

export interface ContainerStatus {
  id: string;
  spec: ContainerSpec;
  state: ContainerState;
  exitCode?: number;
  /** The signal that ended it, if one did. */
  signal?: string;
  /** Killed for going over its memory limit (runtimes that enforce one). */
  oomKilled?: boolean;
  startedAt: string;
  finishedAt?: string;
  pid?: number;
  /** The container's own address, where the runtime gives it one (not the node's). */
  address?: string;
}

export interface LogOptions {
  tailLines?: number;
  sinceSeconds?: number;
  timestamps?: boolean;
}

export interface ExecResult {
  exitCode: number;
  output: string;
  timedOut: boolean;
}

export const DEFAULT_LOG_MAX_BYTES = 10 * 2 ** 20;

/** What an interactive command (exec) or a container's own process (attach) is asked for. */
export interface StreamOptions {
  stdin: boolean;
  tty: boolean;
  /** The terminal's size to start with (with a TTY), as the client first sent it. */
  size?: { width: number; height: number };
}

/** A running exec or attach, its streams as the caller sees them. */
export interface StreamSession {
  /** Where the caller's input goes, when stdin was asked for; ending it is EOF. */
  stdin?: Writable;
  stdout: Readable;
  /** Absent with a TTY, whose terminal carries both. */
  stderr?: Readable;
  /** The terminal's new size (with a TTY; ignored otherwise). */
  resize(size: { width: number; height: number }): void;
  /** The exit code, once the command has ended and its output is read. */
  exited: Promise<number>;
  /** The caller went away: the command is ended (exec) or let go of (attach). */
  close(): void;
}

export interface Runtime {
  readonly name: string;
  /**
   * Each pod gets its address from the runtime when it starts (an ECS task's ENI), not from the
   * node's pod range: until then the pod has none.
   */
  readonly assignsAddresses?: boolean;
  /** Starts a container; resolves once it is running (or has already exited). */
  start(spec: ContainerSpec): Promise<ContainerStatus>;
  /**
   * Runs a pod's containers as one unit (an ECS task): they share its network and volumes, the
   * init containers run first, one after another, and the others start once all succeeded.
   * Resolves when the run has begun, with a status for each container (`waiting` for those not
   * started yet). The run ends as a whole: when it has, the kubelet starts the pod's next run.
   * Present: the kubelet runs pods only this way, never container by container.
   */
  startPod?(run: PodRun): Promise<ContainerStatus[]>;
  /** The container's status. Throws for an unknown id. */
  inspect(id: string): Promise<ContainerStatus>;
  /**
   * Stops a container: SIGTERM, then SIGKILL after `gracePeriodMs`. Idempotent: stopping an
   * exited container does nothing. Resolves when it has exited.
   */
  stop(id: string, gracePeriodMs: number): Promise<ContainerStatus>;
  /** Forgets an exited container and its logs. Idempotent. */
  remove(id: string): Promise<void>;
  /** Every container this runtime started and has not removed, running or not. */
  list(): Promise<ContainerStatus[]>;
  /** The container's output so far (stdout and stderr interleaved, one line per entry). */
  logs(id: string, options?: LogOptions): Promise<string>;
  /**
   * The output so far (as `logs`), then each new line as it is written, until the container
   * has exited and everything is sent, or `signal` aborts.
   */
  followLogs(id: string, options: LogOptions, onText: (text: string) => void, signal: AbortSignal): Promise<void>;
  /** Runs a command in a running container (exec probes); a command past `timeoutMs` is killed. */
  exec(id: string, command: string[], timeoutMs: number): Promise<ExecResult>;
  /**
   * Runs a command in a running container with its streams handed over (`kubectl exec`), in the
   * container's working directory and environment. Absent: the runtime has no such thing.
   */
  execStream?(id: string, command: string[], options: StreamOptions): Promise<StreamSession>;
  /** Joins the container's own process: its output from now on, and its stdin if it keeps one open (`kubectl attach`). */
  attach?(id: string, options: StreamOptions): Promise<StreamSession>;
  /** What a running container has used: CPU time so far and memory now (`kubectl top`). Absent: the runtime cannot tell. */
  usage?(id: string): Promise<Usage | undefined>;
}

/** A container's use of the machine at one moment. */
export interface Usage {
  /** CPU time used since it started, in nanoseconds. */
  cpuNanos: number;
  /** Memory in use now (its working set), in bytes. */
  memoryBytes: number;
}

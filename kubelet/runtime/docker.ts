/**
 * The `docker` runtime: containers through the Docker Engine API on its unix socket. Each
 * container is named `skiff_<pod uid>_<name>_<attempt>` and labelled with its node, pod and
 * whole spec, so a restarted kubelet finds its own (`list`), even when several nodes share one
 * engine. Containers use the host's network (pods reach each other and probes reach them on
 * the node's address, as with the process runtime) and Docker's init process, so SIGTERM
 * reaches a container's main process even when it runs as PID 1. Memory and CPU limits are
 * enforced; a missing image is pulled once, and a failed pull says so.
 */
import { request, type IncomingMessage } from 'node:http';
import { constants } from 'node:os';
import { dockerAttach, dockerExec, type Engine } from './docker-session.js';
import {
  type ContainerSpec,
  type ContainerStatus,
  type ExecResult,
  type LogOptions,
  type Runtime,
  SecurityRefusal,
  type StreamOptions,
  type Usage,
  type StreamSession,
} from './types.js';

export interface DockerRuntimeOptions {
  socketPath: string;
  /** The node whose containers this runtime manages (a label on each). */
  node?: string;
  /**
   * A network of the engine to put each container on, with an address of its own (the ECS
   * emulator's awsvpc); default the host's network.
   */
  network?: string;
}

interface EngineResponse {
  status: number;
  body: Buffer;
}

const LABEL = { spec: 'skiff.spec', node: 'skiff.node', pod: 'skiff.pod.uid' };

/** Signal names by number (9 -> SIGKILL), for exit codes of 128 + n. */
const SIGNALS = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** True when a Docker engine answers on the socket. */
export function dockerAvailable(socketPath = '/var/run/docker.sock'): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Splits Docker's multiplexed stdout/stderr stream (8-byte frame headers) into text. */
class Demux {
  private buffer = Buffer.alloc(0);

  push(chunk: Buffer): string {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let out = '';
    while (this.buffer.length >= 8) {
      const size = this.buffer.readUInt32BE(4);
      if (this.buffer.length < 8 + size) break;
      out += this.buffer.subarray(8, 8 + size).toString('utf8');
      this.buffer = this.buffer.subarray(8 + size);
    }
    return out;
  }
}

export class DockerRuntime implements Runtime {
  readonly name = 'docker';
  private useInit = true;
  /** Images known to be present: checked once, not before every start. */
  private readonly images = new Set<string>();
  /**
   * The last full status of each running container, and a list (at most 500 ms old) of those
   * still running: the kubelet looks at every container every second, and one list call
   * answers for all of them instead of one inspect each.
   */
  private readonly statuses = new Map<string, ContainerStatus>();
  private snapshot?: { at: number; ids: Set<string> };
  private snapshotLoading?: Promise<Set<string>>;

  constructor(private readonly options: DockerRuntimeOptions) {}

  private open(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.options.socketPath,
          path,
          method,
          timeout: timeoutMs,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        resolve,
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`docker ${method} ${path} timed out`)));
      req.end(payload);
    });
  }

  private async call(method: string, path: string, body?: unknown): Promise<EngineResponse> {
    const res = await this.open(method, path, body);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { status: res.statusCode ?? 0, body: Buffer.concat(chunks) };
  }

  private async json<T>(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<T> {
    const res = await this.call(method, path, body);
    if (res.status >= 300 && !okStatuses.includes(res.status)) {
      let message = res.body.toString('utf8');
      try {
        message = (JSON.parse(message) as { message?: string }).message ?? message;
      } catch {
        /* plain text */
      }
      throw Object.assign(new Error(`docker: ${message.trim()}`), { status: res.status });
    }
    return (res.body.length ? JSON.parse(res.body.toString('utf8')) : {}) as T;
  }

  private async ensureImage(image: string, policy: ContainerSpec['imagePullPolicy'] = 'IfNotPresent'): Promise<void> {
    if (policy !== 'Always' && this.images.has(image)) return;
    if (policy !== 'Always') {
      const found = await this.call('GET', `/images/${encodeURIComponent(image)}/json`);
      if (found.status === 200) {
        this.images.add(image);
        return;
      }
      if (policy === 'Never') throw new Error(`ErrImageNeverPull: container image "${image}" is not present with pull policy of Never`);
    }
    const colon = image.lastIndexOf(':');
    const [name, tag] = colon > image.lastIndexOf('/') ? [image.slice(0, colon), image.slice(colon + 1)] : [image, 'latest'];
    const pulled = await this.call('POST', `/images/create?fromImage=${encodeURIComponent(name)}&tag=${encodeURIComponent(tag)}`);
    const text = pulled.body.toString('utf8');
    if (pulled.status >= 300 || /"error"/.test(text)) {
      const detail = /"(?:error|message)":\s*"([^"]+)"/.exec(text)?.[1] ?? text.trim();
      throw new Error(`failed to pull image "${image}": ${detail}`);
    }
    this.images.add(image);
  }

  /** The image's own user (its `USER`), '' for root. */
  private async imageUser(image: string): Promise<string> {
    const found = await this.call('GET', `/images/${encodeURIComponent(image)}/json`);
    if (found.status !== 200) return '';
    return String((JSON.parse(found.body.toString()) as { Config?: { User?: string } }).Config?.User ?? '');
  }

  /** The container's securityContext as the Engine API's settings; runAsNonRoot checked against the image's user. */
  private async securitySettings(spec: ContainerSpec): Promise<{ config: Record<string, unknown>; host: Record<string, unknown> }> {
    const s = spec.security ?? {};
    const config: Record<string, unknown> = {};
    const host: Record<string, unknown> = {};
    if (s.runAsUser !== undefined) config.User = s.runAsGroup !== undefined ? `${s.runAsUser}:${s.runAsGroup}` : String(s.runAsUser);
    else if (s.runAsGroup !== undefined) throw new SecurityRefusal(`container ${spec.name} sets runAsGroup without runAsUser`);
    if (s.runAsNonRoot) {
      const user = s.runAsUser !== undefined ? String(s.runAsUser) : (await this.imageUser(spec.image)).split(':')[0];
      if (user === '' || user === '0' || user === 'root')
        throw new SecurityRefusal(`container has runAsNonRoot and image will run as root (container: ${spec.name})`);
      if (!/^\d+$/.test(user))
        throw new SecurityRefusal(
          `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root (container: ${spec.name})`,
        );
    }
    if (s.readOnlyRootFilesystem) host.ReadonlyRootfs = true;
    if (s.privileged) host.Privileged = true;
    if (s.capabilities?.add?.length) host.CapAdd = s.capabilities.add;
    if (s.capabilities?.drop?.length) host.CapDrop = s.capabilities.drop;
    if (s.allowPrivilegeEscalation === false) host.SecurityOpt = ['no-new-privileges'];
    return { config, host };
  }

  /** `joinNetworkOf`: a container whose network this one shares (an ECS task's pause container), not the runtime's. */
  async start(spec: ContainerSpec, placement: { joinNetworkOf?: string } = {}): Promise<ContainerStatus> {
    await this.ensureImage(spec.image, spec.imagePullPolicy);
    const security = await this.securitySettings(spec);
    const name = `skiff_${spec.podUid}_${spec.name}_${spec.attempt}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
    const create = (init: boolean) =>
      this.json<{ Id: string }>('POST', `/containers/create?name=${encodeURIComponent(name)}`, {
        Image: spec.image,
        ...(spec.command.length ? { Entrypoint: spec.command, Cmd: spec.args } : spec.args.length ? { Cmd: spec.args } : {}),
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        WorkingDir: spec.workingDir ?? '',
        // A stdin kept open for `kubectl attach -i`, as the pod's `stdin` and `stdinOnce` ask.
        ...(spec.stdin ? { OpenStdin: true, StdinOnce: spec.stdinOnce ?? false, AttachStdin: true } : {}),
        ...security.config,
        Labels: {
          [LABEL.spec]: JSON.stringify(spec),
          [LABEL.node]: this.options.node ?? '',
          [LABEL.pod]: spec.podUid,
          'skiff.pod.namespace': spec.podNamespace,
          'skiff.pod.name': spec.podName,
          'skiff.container.name': spec.name,
          'skiff.container.attempt': String(spec.attempt),
        },
        HostConfig: {
          NetworkMode: placement.joinNetworkOf ? `container:${placement.joinNetworkOf}` : (this.options.network ?? 'host'),
          Init: init,
          // As Kubernetes: no swap beyond the limit, so going over it is an OOM kill.
          ...(spec.memoryLimit ? { Memory: spec.memoryLimit, MemorySwap: spec.memoryLimit } : {}),
          ...(spec.cpuLimit ? { NanoCpus: spec.cpuLimit * 1_000_000 } : {}),
          LogConfig: { Type: 'json-file', Config: { 'max-size': String(spec.logMaxBytes ?? 10 * 2 ** 20), 'max-file': '2' } },
          ...(spec.mounts?.length ? { Binds: spec.mounts.map((m) => `${m.hostPath}:${m.containerPath}${m.readOnly ? ':ro' : ''}`) } : {}),
          ...security.host,
        },
      });
    let created: { Id: string };
    try {
      created = await create(this.useInit);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 409) {
        // A leftover of the same name (a start that was cut short): replace it.
        await this.call('DELETE', `/containers/${name}?force=true`);
        created = await create(this.useInit);
      } else if (status === 404 && this.images.delete(spec.image)) {
        // The image went away since we looked: pull it again.
        await this.ensureImage(spec.image);
        created = await create(this.useInit);
      } else if (this.useInit && /init/i.test((err as Error).message)) {
        // An engine without docker-init: run without it (SIGTERM then reaches PID 1 directly).
        this.useInit = false;
        created = await create(false);
      } else throw err;
    }
    await this.json('POST', `/containers/${created.Id}/start`, undefined, [304]);
    this.snapshot = undefined;
    return this.inspectNow(created.Id);
  }

  async inspect(id: string): Promise<ContainerStatus> {
    const cached = this.statuses.get(id);
    if (cached && (await this.runningIds()).has(cached.id)) return cached;
    return this.inspectNow(id);
  }

  /** The engine's one-shot stats: CPU time so far, and memory in use less the page cache it could drop (the working set). */
  async usage(id: string): Promise<Usage | undefined> {
    const stats = await this.json<{
      cpu_stats?: { cpu_usage?: { total_usage?: number } };
      memory_stats?: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
    }>('GET', `/containers/${encodeURIComponent(id)}/stats?stream=false&one-shot=true`);
    const cpu = stats.cpu_stats?.cpu_usage?.total_usage;
    if (cpu === undefined) return undefined;
    const memory = stats.memory_stats ?? {};
    const inactive = memory.stats?.inactive_file ?? memory.stats?.total_inactive_file ?? 0;
    return { cpuNanos: cpu, memoryBytes: Math.max(0, (memory.usage ?? 0) - inactive) };
  }

  private runningIds(): Promise<Set<string>> {
    if (this.snapshot && Date.now() - this.snapshot.at < 500) return Promise.resolve(this.snapshot.ids);
    this.snapshotLoading ??= (async () => {
      const found = await this.json<{ Id: string }[]>(
        'GET',
        `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: this.labelFilter(), status: ['running'] }))}`,
      );
      const ids = new Set(found.map((c) => c.Id));
      this.snapshot = { at: Date.now(), ids };
      return ids;
    })().finally(() => (this.snapshotLoading = undefined));
    return this.snapshotLoading;
  }

  private labelFilter(): string[] {
    return [LABEL.pod, ...(this.options.node !== undefined ? [`${LABEL.node}=${this.options.node}`] : [])];
  }

  /** The engine's answer now (and the cache updated with it). */
  private async inspectNow(id: string): Promise<ContainerStatus> {
    const status = await this.inspectEngine(id).catch((err) => {
      this.statuses.delete(id);
      throw err;
    });
    if (status.state === 'running') this.statuses.set(status.id, status);
    else this.statuses.delete(status.id);
    return status;
  }

  private async inspectEngine(id: string): Promise<ContainerStatus> {
    const c = await this.json<{
      Id: string;
      State: { Status: string; ExitCode: number; StartedAt: string; FinishedAt: string; Pid: number; OOMKilled: boolean };
      Config: { Labels: Record<string, string> };
      NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
    }>('GET', `/containers/${id}/json`);
    const address = this.options.network ? c.NetworkSettings?.Networks?.[this.options.network]?.IPAddress || undefined : undefined;
    const spec = JSON.parse(c.Config.Labels[LABEL.spec] ?? '{}') as ContainerSpec;
    const running = c.State.Status === 'running' || c.State.Status === 'created' || c.State.Status === 'restarting';
    const exitCode = c.State.ExitCode;
    // Docker's init (and a shell) exits with 128 + n when its child dies of signal n.
    const signal = !running && exitCode > 128 ? SIGNALS.get(exitCode - 128) : undefined;
    return {
      id: c.Id,
      spec,
      state: running ? 'running' : 'exited',
      exitCode: running ? undefined : exitCode,
      signal,
      oomKilled: !running && c.State.OOMKilled ? true : undefined,
      startedAt: c.State.StartedAt,
      finishedAt: running ? undefined : c.State.FinishedAt,
      pid: c.State.Pid || undefined,
      ...(address ? { address } : {}),
    };
  }

  async stop(id: string, gracePeriodMs: number): Promise<ContainerStatus> {
    const status = await this.inspectNow(id);
    if (status.state === 'exited') return status;
    await this.json('POST', `/containers/${id}/kill?signal=SIGTERM`, undefined, [409]);
    if (!(await this.waitStopped(id, gracePeriodMs))) {
      await this.json('POST', `/containers/${id}/kill?signal=SIGKILL`, undefined, [409]);
      await this.waitStopped(id, 10_000);
    }
    return this.inspectNow(id);
  }

  /** Waits (one blocking request, no polling) until the container stops; false after `ms`. */
  private async waitStopped(id: string, ms: number): Promise<boolean> {
    if ((await this.inspectNow(id)).state === 'exited') return true;
    if (ms <= 0) return false;
    return new Promise((resolve) => {
      const req = request({ socketPath: this.options.socketPath, path: `/containers/${id}/wait?condition=not-running`, method: 'POST' }, (res) => {
        res.resume();
        res.on('end', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      const timer = setTimeout(() => {
        req.destroy();
        resolve(false);
      }, ms);
      req.on('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      req.end();
    });
  }

  async remove(id: string): Promise<void> {
    const status = await this.inspectNow(id).catch((err: { status?: number }) => {
      if (err.status === 404) return undefined;
      throw err;
    });
    if (!status) return;
    if (status.state === 'running') throw new Error(`container ${id} is running: stop it first`);
    await this.json('DELETE', `/containers/${id}?force=true&v=true`, undefined, [404]);
  }

  async list(): Promise<ContainerStatus[]> {
    const found = await this.json<{ Id: string }[]>(
      'GET',
      `/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ label: this.labelFilter() }))}`,
    );
    const out: ContainerStatus[] = [];
    for (const c of found) out.push(await this.inspectNow(c.Id));
    return out;
  }

  private logPath(id: string, options: LogOptions, follow: boolean): string {
    const params = new URLSearchParams({ stdout: '1', stderr: '1', timestamps: '1' });
    if (follow) params.set('follow', '1');
    if (options.tailLines !== undefined) params.set('tail', String(options.tailLines));
    if (options.sinceSeconds !== undefined) {
      // The engine takes `seconds.fraction`: millisecond precision, as the process runtime filters.
      const since = Date.now() - options.sinceSeconds * 1000;
      params.set('since', `${Math.floor(since / 1000)}.${String(Math.floor(since) % 1000).padStart(3, '0')}`);
    }
    return `/containers/${id}/logs?${params}`;
  }

  /**
   * Docker's RFC 3339 nanosecond timestamps, cut or rewritten as the process runtime writes
   * them (`Date#toISOString`, milliseconds), line by line; a last line without its newline
   * gets one, so the output is whole lines either way.
   */
  private format(text: string, timestamps: boolean | undefined): string {
    if (text && !text.endsWith('\n')) text += '\n';
    if (!timestamps) return text.replace(/^\S+ /gm, '');
    return text.replace(/^(\S+) /gm, (whole, ts: string) => {
      const ms = Date.parse(ts);
      return Number.isNaN(ms) ? whole : `${new Date(ms).toISOString()} `;
    });
  }

  async logs(id: string, options: LogOptions = {}): Promise<string> {
    const res = await this.call('GET', this.logPath(id, options, false));
    if (res.status >= 300) throw new Error(`docker logs: ${res.body.toString('utf8')}`);
    return this.format(new Demux().push(res.body), options.timestamps);
  }

  async followLogs(id: string, options: LogOptions, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
    const res = await this.open('GET', this.logPath(id, options, true), undefined, 0);
    const demux = new Demux();
    let partial = '';
    const abort = () => res.destroy();
    signal.addEventListener('abort', abort, { once: true });
    try {
      for await (const chunk of res) {
        const text = partial + demux.push(chunk as Buffer);
        const end = text.lastIndexOf('\n');
        partial = text.slice(end + 1);
        if (end >= 0) onText(this.format(text.slice(0, end + 1), options.timestamps));
      }
      // The container exited after writing a last line without its newline.
      if (partial) onText(this.format(partial, options.timestamps));
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  async exec(id: string, command: string[], timeoutMs: number): Promise<ExecResult> {
    const status = await this.inspectNow(id);
    if (status.state !== 'running') return { exitCode: 126, output: `container ${status.spec.name} is not running`, timedOut: false };
    const exec = await this.json<{ Id: string }>('POST', `/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: command });
    const res = await this.open('POST', `/exec/${exec.Id}/start`, { Detach: false, Tty: false }, 0);
    const demux = new Demux();
    let output = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      res.destroy();
    }, timeoutMs);
    try {
      for await (const chunk of res) if (output.length < 10_240) output += demux.push(chunk as Buffer);
    } catch {
      /* destroyed on timeout */
    } finally {
      clearTimeout(timer);
    }
    if (timedOut) return { exitCode: 137, output, timedOut };
    const done = await this.json<{ ExitCode: number | null }>('GET', `/exec/${exec.Id}/json`);
    return { exitCode: done.ExitCode ?? 1, output, timedOut };
  }

  private get engine(): Engine {
    return { socketPath: this.options.socketPath, json: (method, path, body) => this.json(method, path, body) };
  }

  async execStream(id: string, command: string[], options: StreamOptions): Promise<StreamSession> {
    const status = await this.inspectNow(id);
    if (status.state !== 'running') throw new Error(`container ${status.spec.name} is not running`);
    return dockerExec(this.engine, id, command, options);
  }

  async attach(id: string, options: StreamOptions): Promise<StreamSession> {
    const status = await this.inspectNow(id);
    if (status.state !== 'running') throw new Error(`container ${status.spec.name} is not running`);
    return dockerAttach(this.engine, id, options);
  }
}

/**
 * The pod volumes the kubelet sets up, each a folder of the pod's under the kubelet's volume
 * root (`<root>/<pod uid>/<volume>`) or a path of the host's, which the runtime mounts (docker:
 * bind mounts; process: bind mounts in the container's own mount namespace, and their paths
 * in `SKIFF_MOUNTS`):
 * - emptyDir: an empty folder for the pod's life; `medium: Memory` is a tmpfs (sized by
 *   `sizeLimit`) when the kubelet runs as root, a folder otherwise.
 * - configMap, secret, downwardAPI and projected: files written all at once (`atomic-dir.ts`)
 *   and brought up to date every `syncMs` while the pod runs, so a changed ConfigMap reaches its
 *   pods as Kubernetes' kubelet does (a subPath mount of one is not updated, as there).
 *   The service-account token of a projection is asked for with a TokenRequest bound to the pod
 *   (so it dies with the pod) and refreshed at 80% of its lifetime.
 * - hostPath: the host's path, checked or made as its `type` says.
 * - persistentVolumeClaim: the path of the PersistentVolume bound to the claim (hostPath or
 *   local, as the local-path provisioner makes them), made when missing.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { parseBytes } from '../shared/api/quantity.js';
import type { Container, Pod } from '../shared/api/schemas/index.js';
import { writeFileAtomically } from '../shared/files.js';
import type { ApiClient } from './api-client.js';
import { writeAtomicDir } from './atomic-dir.js';
import type { Mount } from './runtime/types.js';
import { MountError, type Projection, type Volume, fetcher, payloadOf } from './volume-sources.js';

type TokenSource = NonNullable<Projection['serviceAccountToken']>;

export interface VolumeContext {
  api: ApiClient;
  /** Where pod volumes live: `<root>/<pod uid>/<volume>`. */
  root: string;
  /** The API server's CA (PEM), written as `ca.crt` for the kube-root-ca.crt projection. */
  ca?: string;
  /** Cluster DNS for the pods' containers (their /etc/resolv.conf); absent: the host's resolver. */
  dns?: { nameserver: string; domain: string };
  /** When a token of this lifetime is refreshed (default: at 80% of it). */
  refreshAfterMs?: (lifetimeMs: number) => number;
  /** How often configMap, secret, downwardAPI and projected volumes are brought up to date (default 60 s). */
  syncMs?: number;
  /** The addresses the downward API gives (status.hostIP, status.podIP). */
  ips?: (pod: Pod) => { hostIP: string; podIP: string };
  log(line: string): void;
}

const isRoot = () => process.getuid?.() === 0;
const FILLED = new Set(['configMap', 'secret', 'downwardAPI', 'projected']);
const KINDS = new Set([...FILLED, 'emptyDir', 'hostPath', 'persistentVolumeClaim']);

/** The source kind of a volume: the one key beside its name. */
function kindOf(volume: Volume): string {
  return Object.keys(volume).find((k) => k !== 'name') ?? '';
}

export class PodVolumes {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Where each volume that is set up lives on the host. */
  private readonly sources = new Map<string, string>();
  private readonly tokens = new Map<string, string>();
  private readonly tmpfs = new Set<string>();
  private lastSync = 0;
  private resolvWritten?: string;
  private closed = false;

  constructor(
    private readonly ctx: VolumeContext,
    private pod: Pod,
  ) {}

  private get uid(): string {
    return this.pod.metadata?.uid ?? '';
  }

  private dir(volume: string): string {
    return join(this.ctx.root, this.uid, volume);
  }

  private volumes(): Volume[] {
    return (this.pod.spec.volumes ?? []) as Volume[];
  }

  /** The pod as last seen (the downward API's labels and annotations follow it). */
  update(pod: Pod): void {
    this.pod = pod;
  }

  /**
   * The pod's resolv.conf, as the kubelet writes it for `dnsPolicy: ClusterFirst` (the default):
   * the cluster DNS, the search path of the pod's namespace, `ndots:5`, and the pod's dnsConfig;
   * `None` takes the dnsConfig alone; `Default` keeps the host's.
   */
  private resolvConf(): string | undefined {
    const dns = this.ctx.dns;
    const policy = this.pod.spec.dnsPolicy ?? 'ClusterFirst';
    const config = (this.pod.spec.dnsConfig ?? {}) as { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
    if (policy === 'Default' || (!dns && policy !== 'None')) return undefined;
    const ns = this.pod.metadata?.namespace ?? 'default';
    const base =
      policy === 'None' || !dns
        ? { servers: [], searches: [], options: [] }
        : {
            servers: [dns.nameserver],
            searches: [`${ns}.svc.${dns.domain}`, `svc.${dns.domain}`, dns.domain],
            options: ['ndots:5'],
          };
    const servers = [...base.servers, ...(config.nameservers ?? [])];
    const searches = [...base.searches, ...(config.searches ?? [])];
    const options = [...base.options, ...(config.options ?? []).map((o) => (o.value !== undefined ? `${o.name}:${o.value}` : o.name))];
    return [
      ...servers.map((s) => `nameserver ${s}`),
      ...(searches.length ? [`search ${searches.join(' ')}`] : []),
      ...(options.length ? [`options ${options.join(' ')}`] : []),
      '',
    ].join('\n');
  }

  /** Sets up every volume not yet set up; throws MountError (or ContainerConfigError) when one cannot be. */
  async prepare(): Promise<void> {
    // Written when it changes, not at every sync (a write is an fsync).
    const resolv = this.resolvConf();
    if (resolv !== undefined && resolv !== this.resolvWritten) {
      mkdirSync(join(this.ctx.root, this.uid), { recursive: true, mode: 0o755 });
      writeFileAtomically(join(this.ctx.root, this.uid, 'resolv.conf'), resolv, 0o644);
      this.resolvWritten = resolv;
    }
    for (const volume of this.volumes()) {
      if (this.sources.has(volume.name)) continue;
      try {
        this.sources.set(volume.name, await this.setUp(volume));
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new MountError(`MountVolume.SetUp failed for volume "${volume.name}" : ${why}`);
      }
    }
    this.lastSync ||= Date.now();
  }

  /**
   * Brings configMap, secret, downwardAPI and projected volumes up to date, at most once every
   * `syncMs`. What cannot be read now is left as it was, and said in the log.
   */
  async sync(): Promise<void> {
    if (this.closed || Date.now() - this.lastSync < (this.ctx.syncMs ?? 60_000)) return;
    this.lastSync = Date.now();
    for (const volume of this.volumes()) {
      if (!this.sources.has(volume.name) || !FILLED.has(kindOf(volume))) continue;
      await this.fill(volume).catch((err: Error) =>
        this.ctx.log(`pod ${this.pod.metadata?.namespace}/${this.pod.metadata?.name}: volume ${volume.name}: ${err.message}`),
      );
    }
  }

  private async setUp(volume: Volume): Promise<string> {
    const kind = kindOf(volume);
    if (!KINDS.has(kind)) throw new MountError(`this kubelet does not support ${kind} volumes`);
    if (FILLED.has(kind)) {
      await this.fill(volume);
      return this.dir(volume.name);
    }
    if (volume.emptyDir) return this.emptyDir(volume.name, volume.emptyDir);
    if (volume.hostPath) return hostPathOf(volume.hostPath.path, volume.hostPath.type ?? '');
    return this.claimPath(volume.persistentVolumeClaim!.claimName);
  }

  private async fill(volume: Volume): Promise<void> {
    const meta = this.pod.metadata ?? {};
    const payload = await payloadOf(volume, {
      pod: this.pod,
      fetch: fetcher(this.ctx.api, meta.namespace ?? 'default', this.ctx.ca),
      ips: this.ctx.ips?.(this.pod) ?? { hostIP: '', podIP: '' },
      token: (name, source) => this.token(name, source),
    });
    if (payload && !this.closed) writeAtomicDir(this.dir(volume.name), payload);
  }

  private emptyDir(name: string, spec: NonNullable<Volume['emptyDir']>): string {
    const dir = this.dir(name);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    if (spec.medium === 'Memory' && isRoot() && !this.tmpfs.has(dir)) {
      const size = spec.sizeLimit !== undefined ? `,size=${parseBytes(spec.sizeLimit)}` : '';
      execFileSync('mount', ['-t', 'tmpfs', '-o', `mode=0777${size}`, 'tmpfs', dir]);
      this.tmpfs.add(dir);
    }
    return dir;
  }

  /** The path of the PersistentVolume bound to a claim of the pod's namespace. */
  private async claimPath(claim: string): Promise<string> {
    const ns = encodeURIComponent(this.pod.metadata?.namespace ?? 'default');
    const pvc = await this.ctx.api
      .get<{ spec?: { volumeName?: string }; status?: { phase?: string } }>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${encodeURIComponent(claim)}`)
      .catch(() => undefined);
    if (!pvc) throw new MountError(`persistentvolumeclaim "${claim}" not found`);
    if (pvc.status?.phase !== 'Bound' || !pvc.spec?.volumeName) throw new MountError(`persistentvolumeclaim "${claim}" is not bound`);
    const pv = await this.ctx.api
      .get<{ spec?: { hostPath?: { path: string }; local?: { path: string } } }>(`/api/v1/persistentvolumes/${encodeURIComponent(pvc.spec.volumeName)}`)
      .catch(() => undefined);
    const path = pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path;
    if (!path) throw new MountError(`persistentvolume "${pvc.spec.volumeName}" has no path on this node (only hostPath and local volumes are mounted)`);
    mkdirSync(path, { recursive: true });
    chmodSync(path, 0o777);
    return path;
  }

  /** The container's mounts: its volumeMounts, and the pod's resolv.conf. */
  mountsFor(c: Container): Mount[] {
    const byName = new Map(this.volumes().map((v) => [v.name, v]));
    const mounts: Mount[] = [];
    for (const m of c.volumeMounts ?? []) {
      const source = this.sources.get(m.name);
      const volume = byName.get(m.name);
      if (source === undefined || !volume) continue;
      if (m.subPathExpr) throw new MountError(`volume "${m.name}": subPathExpr is not supported by this kubelet`);
      let hostPath = source;
      if (m.subPath) {
        hostPath = join(source, normalize(m.subPath));
        if (!FILLED.has(kindOf(volume)) && !existsSync(hostPath)) mkdirSync(hostPath, { recursive: true, mode: 0o777 });
      }
      // API data volumes are always read-only, as Kubernetes mounts them.
      const readOnly = (m.readOnly ?? false) || FILLED.has(kindOf(volume)) || (volume.persistentVolumeClaim?.readOnly ?? false);
      mounts.push({ hostPath, containerPath: m.mountPath, readOnly });
    }
    if (this.resolvConf() !== undefined)
      mounts.push({ hostPath: join(this.ctx.root, this.uid, 'resolv.conf'), containerPath: '/etc/resolv.conf', readOnly: true, hostKeepsOwn: true });
    return mounts;
  }

  /** A projection's token: the one held, or a new one asked for (and refreshed from then on). */
  private async token(volume: string, want: TokenSource): Promise<string> {
    const key = `${volume}/${want.path}`;
    const held = this.tokens.get(key);
    if (held) return held;
    return this.newToken(volume, want);
  }

  private async newToken(volume: string, want: TokenSource): Promise<string> {
    const meta = this.pod.metadata ?? {};
    const account = this.pod.spec.serviceAccountName || 'default';
    const path = `/api/v1/namespaces/${encodeURIComponent(meta.namespace ?? '')}/serviceaccounts/${encodeURIComponent(account)}/token`;
    let answer: { status?: { token?: string; expirationTimestamp?: string } };
    try {
      answer = await this.ctx.api.request('POST', path, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          ...(want.audience ? { audiences: [want.audience] } : {}),
          expirationSeconds: want.expirationSeconds ?? 3600,
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: meta.name, uid: meta.uid },
        },
      });
    } catch (err) {
      throw new MountError(`cannot get a token for service account "${account}": ${err instanceof Error ? err.message : String(err)}`);
    }
    const token = answer.status?.token;
    if (!token) throw new MountError(`the API answered no token for service account "${account}"`);
    this.tokens.set(`${volume}/${want.path}`, token);
    const lifetimeMs = Date.parse(answer.status?.expirationTimestamp ?? '') - Date.now();
    this.refresh(volume, want, Math.max(1000, this.ctx.refreshAfterMs?.(lifetimeMs) ?? lifetimeMs * 0.8));
    return token;
  }

  private refresh(volume: string, want: TokenSource, ms: number): void {
    const key = `${volume}/${want.path}`;
    clearTimeout(this.timers.get(key));
    const timer = setTimeout(async () => {
      try {
        await this.newToken(volume, want);
        const spec = this.volumes().find((v) => v.name === volume);
        if (spec && !this.closed) await this.fill(spec);
      } catch (err) {
        this.ctx.log(`pod ${this.pod.metadata?.namespace}/${this.pod.metadata?.name}: token refresh failed, retried in 10 s: ${(err as Error).message}`);
        if (!this.closed) this.refresh(volume, want, 10_000);
      }
    }, ms);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Stops refreshing, unmounts its tmpfs volumes and removes the pod's volume folders. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const dir of this.tmpfs) {
      try {
        execFileSync('umount', [dir]);
      } catch (err) {
        this.ctx.log(`umount ${dir}: ${(err as Error).message}`);
      }
    }
    this.tmpfs.clear();
    rmSync(join(this.ctx.root, this.uid), { recursive: true, force: true });
  }
}

type Stat = import('node:fs').Stats;

/** What each hostPath type asks of the path, and its words when the path is not that. */
const HOST_PATH_CHECKS: Record<string, [(s: Stat) => boolean, string]> = {
  DirectoryOrCreate: [(s) => s.isDirectory(), 'a directory'],
  Directory: [(s) => s.isDirectory(), 'a directory'],
  FileOrCreate: [(s) => s.isFile(), 'a file'],
  File: [(s) => s.isFile(), 'a file'],
  Socket: [(s) => s.isSocket(), 'a socket file'],
  CharDevice: [(s) => s.isCharacterDevice(), 'a character device'],
  BlockDevice: [(s) => s.isBlockDevice(), 'a block device'],
};

/** A hostPath volume's path, checked (or made: the `OrCreate` types) as its type says. */
function hostPathOf(path: string, type: string): string {
  if (!existsSync(path) && type === 'DirectoryOrCreate') mkdirSync(path, { recursive: true, mode: 0o755 });
  if (!existsSync(path) && type === 'FileOrCreate') writeFileSync(path, '', { mode: 0o644 });
  const check = HOST_PATH_CHECKS[type];
  if (check && !(existsSync(path) && check[0](statSync(path)))) throw new MountError(`hostPath type check failed: ${path} is not ${check[1]}`);
  return path;
}

/**
 * The pod volumes the kubelet fills: the projected service-account volume the API adds to
 * every pod (`kube-api-access-*`: a token for the pod's account bound to the pod, the API's CA,
 * the pod's namespace). Each volume is a folder of the pod's under the kubelet's volume root;
 * the runtime mounts it (docker: a read-only bind mount; process: named in `SKIFF_MOUNTS`).
 *
 * The token is asked for with a TokenRequest bound to the pod (so it dies with the pod) and
 * refreshed at 80% of its lifetime, as Kubernetes' kubelet does; a new file is renamed over the
 * old one, so a reader never sees half a token. Volumes of other kinds are not filled yet.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Container, Pod } from '../shared/api/schemas/index.js';
import { writeFileAtomically } from '../shared/files.js';
import type { ApiClient } from './api-client.js';
import { ContainerConfigError } from './env.js';
import type { Mount } from './runtime/types.js';

interface Projection {
  serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
  configMap?: { name: string; items?: { key: string; path: string }[] };
  downwardAPI?: { items?: { path: string; fieldRef?: { fieldPath: string } }[] };
}

interface ProjectedVolume {
  name: string;
  projected?: { sources?: Projection[] };
}

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
  log(line: string): void;
}

export class PodVolumes {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly filled = new Set<string>();
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

  private volumes(): ProjectedVolume[] {
    return ((this.pod.spec.volumes ?? []) as ProjectedVolume[]).filter((v) => v.projected?.sources?.some((s) => s.serviceAccountToken));
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

  /** Fills every volume not yet filled; throws ContainerConfigError when one cannot be. */
  async prepare(): Promise<void> {
    const resolv = this.resolvConf();
    if (resolv !== undefined) {
      mkdirSync(join(this.ctx.root, this.uid), { recursive: true, mode: 0o755 });
      writeFileAtomically(join(this.ctx.root, this.uid, 'resolv.conf'), resolv, 0o644);
    }
    for (const volume of this.volumes()) {
      if (this.filled.has(volume.name)) continue;
      mkdirSync(this.dir(volume.name), { recursive: true, mode: 0o755 });
      for (const source of volume.projected?.sources ?? []) await this.project(volume.name, source);
      this.filled.add(volume.name);
    }
  }

  /** The container's mounts of volumes this kubelet fills. */
  mountsFor(c: Container): Mount[] {
    const filled = new Set(this.volumes().map((v) => v.name));
    const mounts = (c.volumeMounts ?? [])
      .filter((m) => filled.has(m.name))
      .map((m) => ({ hostPath: this.dir(m.name), containerPath: m.mountPath, readOnly: m.readOnly ?? false }));
    if (this.resolvConf() !== undefined)
      mounts.push({ hostPath: join(this.ctx.root, this.uid, 'resolv.conf'), containerPath: '/etc/resolv.conf', readOnly: true });
    return mounts;
  }

  private async project(volume: string, source: Projection): Promise<void> {
    const dir = this.dir(volume);
    if (source.serviceAccountToken) await this.writeToken(volume, source.serviceAccountToken);
    if (source.configMap?.name === 'kube-root-ca.crt' && this.ctx.ca) {
      for (const item of source.configMap.items ?? [{ key: 'ca.crt', path: 'ca.crt' }])
        if (item.key === 'ca.crt') writeFileAtomically(join(dir, item.path), this.ctx.ca, 0o644);
    }
    for (const item of source.downwardAPI?.items ?? []) {
      if (item.fieldRef?.fieldPath === 'metadata.namespace') writeFileAtomically(join(dir, item.path), this.pod.metadata?.namespace ?? '', 0o644);
      if (item.fieldRef?.fieldPath === 'metadata.name') writeFileAtomically(join(dir, item.path), this.pod.metadata?.name ?? '', 0o644);
    }
  }

  private async writeToken(volume: string, want: NonNullable<Projection['serviceAccountToken']>): Promise<void> {
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
      throw new ContainerConfigError(`cannot get a token for service account "${account}": ${err instanceof Error ? err.message : String(err)}`);
    }
    const token = answer.status?.token;
    if (!token) throw new ContainerConfigError(`the API answered no token for service account "${account}"`);
    if (this.closed) return;
    writeFileAtomically(join(this.dir(volume), want.path), token, 0o644);
    const lifetimeMs = Date.parse(answer.status?.expirationTimestamp ?? '') - Date.now();
    this.refresh(volume, want, Math.max(1000, this.ctx.refreshAfterMs?.(lifetimeMs) ?? lifetimeMs * 0.8));
  }

  private refresh(volume: string, want: NonNullable<Projection['serviceAccountToken']>, ms: number): void {
    clearTimeout(this.timers.get(volume));
    const timer = setTimeout(() => {
      this.writeToken(volume, want).catch((err: Error) => {
        this.ctx.log(`pod ${this.pod.metadata?.namespace}/${this.pod.metadata?.name}: token refresh failed, retried in 10 s: ${err.message}`);
        if (!this.closed) this.refresh(volume, want, 10_000);
      });
    }, ms);
    timer.unref();
    this.timers.set(volume, timer);
  }

  /** Stops refreshing and removes the pod's volume folders. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    rmSync(join(this.ctx.root, this.uid), { recursive: true, force: true });
  }
}

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

  /** Fills every volume not yet filled; throws ContainerConfigError when one cannot be. */
  async prepare(): Promise<void> {
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
    return (c.volumeMounts ?? [])
      .filter((m) => filled.has(m.name))
      .map((m) => ({ hostPath: this.dir(m.name), containerPath: m.mountPath, readOnly: m.readOnly ?? false }));
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

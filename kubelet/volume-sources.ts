/**
 * What a configMap, secret, downwardAPI or projected volume holds: its files and their modes,
 * worked out from the API's objects and the pod as the kubelet's volume plugins do (items pick
 * and rename keys, `mode` and `defaultMode` set modes, an `optional` source that is missing
 * gives nothing). A volume that cannot be filled is a MountError with Kubernetes' words.
 */
import type { Container, Pod } from '../shared/api/schemas/index.js';
import type { ApiClient } from './api-client.js';
import type { Payload } from './atomic-dir.js';
import { ContainerConfigError, type SourceObject, Sources, fieldRef, resourceFieldRef } from './env.js';

/** A volume the kubelet could not set up: the pod waits in ContainerCreating, with a FailedMount event. */
export class MountError extends ContainerConfigError {}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface DownwardItem {
  path: string;
  mode?: number;
  fieldRef?: { fieldPath: string };
  resourceFieldRef?: { containerName?: string; resource: string; divisor?: string | number };
}

export interface Projection {
  serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
  configMap?: { name?: string; items?: KeyToPath[]; optional?: boolean };
  secret?: { name?: string; items?: KeyToPath[]; optional?: boolean };
  downwardAPI?: { items?: DownwardItem[] };
}

/** The volume sources the kubelet fills or mounts. */
export interface Volume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string | number };
  hostPath?: { path: string; type?: string };
  configMap?: { name?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  secret?: { secretName?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  downwardAPI?: { items?: DownwardItem[]; defaultMode?: number };
  projected?: { sources?: Projection[]; defaultMode?: number };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
}

export const DEFAULT_MODE = 0o644;

/** The files of a ConfigMap or Secret, as bytes by key; undefined when it does not exist. */
export type Fetch = (kind: 'configmaps' | 'secrets', name: string) => Promise<Map<string, Buffer> | undefined>;

/** A Fetch through the API (the environment's Sources: each object asked once per fill), as files. */
export function fetcher(api: ApiClient, namespace: string, ca?: string): Fetch {
  const sources = new Sources(api, namespace);
  return async (kind, name) => {
    // The cluster's CA, which kube-controller-manager publishes in every namespace: the kubelet has it.
    if (kind === 'configmaps' && name === 'kube-root-ca.crt' && ca) return new Map([['ca.crt', Buffer.from(ca)]]);
    let o: SourceObject | undefined;
    try {
      o = await sources.object(kind, name);
    } catch (err) {
      throw new MountError(`cannot get ${kind === 'secrets' ? 'secret' : 'configmap'} "${name}": ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!o) return undefined;
    const files = new Map<string, Buffer>();
    if (kind === 'configmaps') for (const [k, v] of Object.entries(o.data ?? {})) files.set(k, Buffer.from(v, 'utf8'));
    for (const [k, v] of Object.entries(kind === 'secrets' ? (o.data ?? {}) : (o.binaryData ?? {}))) files.set(k, Buffer.from(v, 'base64'));
    return files;
  };
}

/** The files of one ConfigMap or Secret source into `into`: every key, or the items asked for. */
async function keysInto(
  into: Payload,
  fetch: Fetch,
  kind: 'configmaps' | 'secrets',
  source: { name?: string; items?: KeyToPath[]; optional?: boolean },
  mode: number,
): Promise<void> {
  const word = kind === 'secrets' ? 'secret' : 'configmap';
  const files = await fetch(kind, source.name ?? '');
  if (!files) {
    if (source.optional) return;
    throw new MountError(`${word} "${source.name}" not found`);
  }
  const items: KeyToPath[] = source.items ?? [...files.keys()].map((key) => ({ key, path: key }));
  for (const item of items) {
    const data = files.get(item.key);
    if (data === undefined) {
      if (source.optional) continue;
      throw new MountError(`${word} references non-existent ${kind === 'secrets' ? 'secret' : 'config'} key: ${item.key}`);
    }
    into.set(item.path, { data, mode: item.mode ?? mode });
  }
}

/** Labels and annotations as the downward API writes a map: `key="value"` lines, sorted. */
function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map![k])}`)
    .join('\n');
}

function downwardInto(into: Payload, pod: Pod, items: DownwardItem[], mode: number, ips: { hostIP: string; podIP: string }): void {
  for (const item of items) {
    let text: string;
    if (item.fieldRef) {
      const path = item.fieldRef.fieldPath;
      if (path === 'metadata.labels') text = formatMap(pod.metadata?.labels);
      else if (path === 'metadata.annotations') text = formatMap(pod.metadata?.annotations);
      else text = fieldRef(pod, path, ips);
    } else if (item.resourceFieldRef) {
      const name = item.resourceFieldRef.containerName;
      const container = pod.spec.containers.find((c) => c.name === name) ?? (name ? undefined : pod.spec.containers[0]);
      if (!container) throw new MountError(`downwardAPI item ${item.path}: no container named "${name}"`);
      text = resourceFieldRef(container as Container, item.resourceFieldRef);
    } else continue;
    into.set(item.path, { data: Buffer.from(text), mode: item.mode ?? mode });
  }
}

export interface FillContext {
  pod: Pod;
  fetch: Fetch;
  ips: { hostIP: string; podIP: string };
  /** The current token of a projection's serviceAccountToken, asked for when missing. */
  token(volume: string, source: NonNullable<Projection['serviceAccountToken']>): Promise<string>;
}

/** The files of a configMap, secret, downwardAPI or projected volume; undefined for other kinds. */
export async function payloadOf(volume: Volume, ctx: FillContext): Promise<Payload | undefined> {
  const out: Payload = new Map();
  if (volume.configMap) {
    await keysInto(out, ctx.fetch, 'configmaps', volume.configMap, volume.configMap.defaultMode ?? DEFAULT_MODE);
  } else if (volume.secret) {
    const s = volume.secret;
    await keysInto(out, ctx.fetch, 'secrets', { name: s.secretName, items: s.items, optional: s.optional }, s.defaultMode ?? DEFAULT_MODE);
  } else if (volume.downwardAPI) {
    downwardInto(out, ctx.pod, volume.downwardAPI.items ?? [], volume.downwardAPI.defaultMode ?? DEFAULT_MODE, ctx.ips);
  } else if (volume.projected) {
    const mode = volume.projected.defaultMode ?? DEFAULT_MODE;
    for (const source of volume.projected.sources ?? []) {
      if (source.configMap) await keysInto(out, ctx.fetch, 'configmaps', source.configMap, mode);
      if (source.secret) await keysInto(out, ctx.fetch, 'secrets', source.secret, mode);
      if (source.downwardAPI) downwardInto(out, ctx.pod, source.downwardAPI.items ?? [], mode, ctx.ips);
      const token = source.serviceAccountToken;
      if (token) out.set(token.path, { data: Buffer.from(await ctx.token(volume.name, token)), mode });
    }
  } else return undefined;
  return out;
}

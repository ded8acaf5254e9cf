/**
 * The resources the API serves, as discovery, OpenAPI, routing and the store key read them:
 * the built-in kinds (`kinds/`, one file each) and, per cluster, the custom resources its
 * CustomResourceDefinitions add (`custom/`), which come and go while the API runs.
 */
import { KINDS } from './kinds/index.js';
import type { Kind, ResourceInfo } from './kinds/kind.js';

export type { ResourceInfo } from './kinds/kind.js';

export { ALL_VERBS } from './kinds/kind.js';

const kinds = new WeakMap<ResourceInfo, Kind>(KINDS.map((k) => [k.info, k]));

/** The kind's definition: its schema, defaults, validation, columns and deletion rules. */
export function kindOf(info: ResourceInfo): Kind | undefined {
  return kinds.get(info);
}

export function groupVersion(info: { group: string; version: string }): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

/**
 * Kubernetes' order of versions (`v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other`): the first
 * of a group's versions is the one discovery prefers.
 */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    return [m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2, -Number(m[1]), -Number(m[3] ?? 0), v];
  };
  const [x, y] = [rank(a), rank(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x[3] < y[3] ? -1 : x[3] > y[3] ? 1 : 0;
}

/** One cluster's served resources: the built-ins, then its custom resources. */
export class ServedResources {
  readonly all: readonly ResourceInfo[];
  private readonly byPath = new Map<string, ResourceInfo>();

  /** `custom`: the kinds the cluster's CustomResourceDefinitions serve (a version each). */
  constructor(readonly custom: readonly Kind[] = []) {
    for (const k of custom) kinds.set(k.info, k);
    this.all = [...KINDS.map((k) => k.info), ...custom.map((k) => k.info)];
    for (const r of this.all) this.byPath.set(`${r.group}/${r.version}/${r.resource}`, r);
  }

  find(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.byPath.get(`${group}/${version}/${resource}`);
  }

  byKind(apiVersion: string, kind: string): ResourceInfo | undefined {
    return this.all.find((r) => groupVersion(r) === apiVersion && r.kind === kind);
  }

  /** The resources of one group-version. */
  of(group: string, version: string): ResourceInfo[] {
    return this.all.filter((r) => r.group === group && r.version === version);
  }

  /** The group-versions served, core first, each group's preferred version first. */
  groupVersions(): { group: string; version: string }[] {
    const byGroup = new Map<string, Set<string>>();
    for (const r of this.all) byGroup.set(r.group, (byGroup.get(r.group) ?? new Set()).add(r.version));
    return [...byGroup].flatMap(([group, versions]) => [...versions].sort(compareVersions).map((version) => ({ group, version })));
  }
}

/** The built-in resources alone: what every cluster serves. */
export const BUILT_IN = new ServedResources();

/** Every built-in resource, from the kinds (`kinds/index.ts`). */
export const RESOURCES: readonly ResourceInfo[] = BUILT_IN.all;

export function servedGroupVersions(): { group: string; version: string }[] {
  return BUILT_IN.groupVersions();
}

export function findResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  return BUILT_IN.find(group, version, resource);
}

export function findByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return BUILT_IN.byKind(apiVersion, kind);
}

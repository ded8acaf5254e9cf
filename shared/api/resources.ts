/**
 * The resources the API serves, as discovery, OpenAPI, routing and the store key read them:
 * derived from the kinds (`kinds/`), one file each.
 */
import { KINDS } from './kinds/index.js';
import type { Kind, ResourceInfo } from './kinds/kind.js';

export type { ResourceInfo } from './kinds/kind.js';

export { ALL_VERBS } from './kinds/kind.js';

/** Every served resource, from the kinds (`kinds/index.ts`). */
export const RESOURCES: ResourceInfo[] = KINDS.map((k) => k.info);

const byKind = new Map(KINDS.map((k) => [k.info.kind, k]));

/** The kind's definition: its schema, defaults, validation, columns and deletion rules. */
export function kindOf(kind: string): Kind | undefined {
  return byKind.get(kind);
}

export function groupVersion(info: { group: string; version: string }): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

/** The group-versions served, core first. */
export function servedGroupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(groupVersion(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

export function findResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function findByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => groupVersion(r) === apiVersion && r.kind === kind);
}

export function resourcesOf(group: string, version: string): ResourceInfo[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}

/** `deployments.apps`, `pods`: how Kubernetes names a resource in messages. */
export function qualifiedName(info: ResourceInfo): string {
  return info.storeKey;
}

/**
 * Discovery documents, from the resource table: aggregated discovery (apidiscovery.k8s.io v2
 * and v2beta1, one request for everything) when the client asks for it, else the plain
 * APIVersions / APIGroupList / APIResourceList that every client understands.
 */
import { BUILT_IN, compareVersions, groupVersion, type ResourceInfo, type ServedResources } from './resources.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-skiff',
  gitCommit: 'skiff',
  gitTreeState: 'clean',
  buildDate: '2026-11-24T00:00:00Z',
  goVersion: 'go1.23 (skiff on node)',
  compiler: 'gc',
  platform: 'linux/amd64',
};

interface SubresourceShape {
  name: string;
  kind: { group: string; version: string; kind: string };
  verbs: string[];
}

function subresourceShape(info: ResourceInfo, sub: string): SubresourceShape {
  const own = { group: info.group, version: info.version, kind: info.kind };
  switch (sub) {
    case 'status':
      return { name: sub, kind: own, verbs: ['get', 'patch', 'update'] };
    case 'scale':
      return { name: sub, kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] };
    case 'log':
      return { name: sub, kind: own, verbs: ['get'] };
    case 'binding':
      return { name: sub, kind: { group: '', version: 'v1', kind: 'Binding' }, verbs: ['create'] };
    case 'eviction':
      return { name: sub, kind: { group: 'policy', version: 'v1', kind: 'Eviction' }, verbs: ['create'] };
    case 'token':
      return { name: sub, kind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }, verbs: ['create'] };
    case 'exec':
      return { name: sub, kind: { group: '', version: 'v1', kind: 'PodExecOptions' }, verbs: ['create', 'get'] };
    case 'attach':
      return { name: sub, kind: { group: '', version: 'v1', kind: 'PodAttachOptions' }, verbs: ['create', 'get'] };
    case 'portforward':
      return { name: sub, kind: { group: '', version: 'v1', kind: 'PodPortForwardOptions' }, verbs: ['create', 'get'] };
    case 'finalize':
      return { name: sub, kind: own, verbs: ['update'] };
    default:
      return { name: sub, kind: own, verbs: ['get'] };
  }
}

/** `APIResourceList` for one group-version. */
export function apiResourceList(group: string, version: string, served: ServedResources = BUILT_IN) {
  const resources: Record<string, unknown>[] = [];
  for (const info of served.of(group, version)) {
    const entry: Record<string, unknown> = {
      name: info.resource,
      singularName: info.singular,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: info.verbs,
    };
    if (info.shortNames.length) entry.shortNames = info.shortNames;
    if (info.categories.length) entry.categories = info.categories;
    resources.push(entry);
    for (const sub of info.subresources) {
      const shape = subresourceShape(info, sub);
      const subEntry: Record<string, unknown> = {
        name: `${info.resource}/${sub}`,
        singularName: '',
        namespaced: info.namespaced,
        kind: shape.kind.kind,
        verbs: shape.verbs,
      };
      if (shape.kind.group !== info.group || shape.kind.version !== info.version) {
        subEntry.group = shape.kind.group;
        subEntry.version = shape.kind.version;
      }
      resources.push(subEntry);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion({ group, version }), resources };
}

export function apiVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function apiGroupList(served: ServedResources = BUILT_IN) {
  const groups = new Map<string, string[]>();
  for (const gv of served.groupVersions()) if (gv.group) groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv.version]);
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

export function apiGroup(name: string, served: ServedResources = BUILT_IN) {
  const list = apiGroupList(served).groups.find((g) => g.name === name);
  return list ? { kind: 'APIGroup', apiVersion: 'v1', ...list } : undefined;
}

/** Which aggregated discovery version the Accept header asks for, if any. */
export function aggregatedVersionAsked(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    const params = new Map(
      part
        .split(';')
        .slice(1)
        .map((p) => p.trim().split('=') as [string, string]),
    );
    if (params.get('g') === 'apidiscovery.k8s.io' && params.get('as') === 'APIGroupDiscoveryList') {
      const v = params.get('v');
      if (v === 'v2' || v === 'v2beta1') return v;
    }
  }
  return undefined;
}

export function aggregatedContentType(version: 'v2' | 'v2beta1'): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

/** `APIGroupDiscoveryList` for the core group (`/api`) or the named groups (`/apis`). */
export function aggregatedDiscovery(core: boolean, version: 'v2' | 'v2beta1', served: ServedResources = BUILT_IN) {
  const byGroup = new Map<string, ResourceInfo[]>();
  for (const info of served.all) {
    if ((info.group === '') !== core) continue;
    byGroup.set(info.group, [...(byGroup.get(info.group) ?? []), info]);
  }
  const items = [...byGroup].map(([group, infos]) => {
    const versions = [...new Set(infos.map((i) => i.version))].sort(compareVersions);
    return {
      metadata: { name: group, creationTimestamp: null },
      versions: versions.map((v) => ({
        version: v,
        freshness: 'Current',
        resources: infos
          .filter((i) => i.version === v)
          .map((i) => {
            const entry: Record<string, unknown> = {
              resource: i.resource,
              responseKind: { group: i.group, version: i.version, kind: i.kind },
              scope: i.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: i.singular,
              verbs: i.verbs,
            };
            if (i.shortNames.length) entry.shortNames = i.shortNames;
            if (i.categories.length) entry.categories = i.categories;
            if (i.subresources.length) {
              entry.subresources = i.subresources.map((sub) => {
                const shape = subresourceShape(i, sub);
                return { subresource: sub, responseKind: shape.kind, verbs: shape.verbs };
              });
            }
            return entry;
          }),
      })),
    };
  });
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

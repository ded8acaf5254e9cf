/**
 * The resources the API serves: the one table discovery, OpenAPI, routing and the store key
 * all read. Adding a resource is adding a row.
 */

export interface ResourceInfo {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural, as in the URL. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  subresources: string[];
  /** Field selectors beyond metadata.name / metadata.namespace. */
  fieldSelectors: string[];
  /** The store's key for this resource: `pods`, `deployments.apps`. */
  storeKey: string;
  /** Writes to the main resource keep the stored status (status is written via /status). */
  statusSubresource: boolean;
}

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function define(
  group: string,
  version: string,
  resource: string,
  kind: string,
  opts: { namespaced?: boolean; shortNames?: string[]; categories?: string[]; subresources?: string[]; fieldSelectors?: string[] } = {},
): ResourceInfo {
  const subresources = opts.subresources ?? [];
  return {
    group,
    version,
    resource,
    singular: kind.toLowerCase(),
    kind,
    namespaced: opts.namespaced ?? true,
    shortNames: opts.shortNames ?? [],
    categories: opts.categories ?? [],
    subresources,
    fieldSelectors: opts.fieldSelectors ?? [],
    storeKey: group ? `${resource}.${group}` : resource,
    statusSubresource: subresources.includes('status'),
  };
}

export const RESOURCES: ResourceInfo[] = [
  define('', 'v1', 'namespaces', 'Namespace', { namespaced: false, shortNames: ['ns'], subresources: ['status', 'finalize'], fieldSelectors: ['status.phase'] }),
  define('', 'v1', 'pods', 'Pod', {
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status', 'log', 'binding', 'eviction'],
    fieldSelectors: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  }),
  define('', 'v1', 'nodes', 'Node', { namespaced: false, shortNames: ['no'], subresources: ['status'], fieldSelectors: ['spec.unschedulable'] }),
  define('', 'v1', 'services', 'Service', { shortNames: ['svc'], categories: ['all'], subresources: ['status'] }),
  define('', 'v1', 'endpoints', 'Endpoints', { shortNames: ['ep'] }),
  define('', 'v1', 'events', 'Event', {
    shortNames: ['ev'],
    fieldSelectors: [
      'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
      'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath',
      'reason', 'reportingComponent', 'source', 'type',
    ],
  }),
  define('', 'v1', 'configmaps', 'ConfigMap', { shortNames: ['cm'] }),
  define('', 'v1', 'secrets', 'Secret', { fieldSelectors: ['type'] }),
  define('apps', 'v1', 'deployments', 'Deployment', { shortNames: ['deploy'], categories: ['all'], subresources: ['status', 'scale'] }),
  define('apps', 'v1', 'replicasets', 'ReplicaSet', { shortNames: ['rs'], categories: ['all'], subresources: ['status', 'scale'] }),
  define('coordination.k8s.io', 'v1', 'leases', 'Lease'),
];

// Endpoints' singular is "endpoints" in Kubernetes.
RESOURCES.find((r) => r.resource === 'endpoints')!.singular = 'endpoints';

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

/**
 * Parses a resource URL into what it names: `/api/v1/namespaces/default/pods/web/status`,
 * `/apis/apps/v1/deployments`, `/api/v1/namespaces/kube-system` ...
 */
import { BUILT_IN, type ResourceInfo, type ServedResources } from '../../shared/api/resources.js';

export interface ResourceTarget {
  info: ResourceInfo;
  /** The namespace in the path; undefined for cluster-scoped resources and all-namespace lists. */
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** On failure, `resource` is the resource the path asked for, when it named one. */
export type ParsedPath = { ok: true; target: ResourceTarget } | { ok: false; message: string; resource?: string };

/** `segments` are the parts after `/api/v1` or `/apis/<group>/<version>`, decoded. */
export function parseResourcePath(group: string, version: string, segments: string[], served: ServedResources = BUILT_IN): ParsedPath {
  const find = (resource: string) => served.find(group, version, resource);
  const fail = (message: string, resource?: string): ParsedPath => ({ ok: false, message, resource });
  if (segments.length === 0) return fail('the server could not find the requested resource');
  // /namespaces/<ns>/<resource>[/<name>[/<sub>]] for namespaced resources.
  if (segments[0] === 'namespaces' && segments.length >= 3) {
    const namespaced = find(segments[2]);
    if (namespaced?.namespaced) {
      if (segments.length > 5) return fail('the server could not find the requested resource');
      return checkSub({ info: namespaced, namespace: segments[1], name: segments[3], subresource: segments[4] });
    }
    // Not served here (and not a subresource of the namespace): name what was asked for.
    const namespaces = find('namespaces');
    const namespaceSub = namespaces && segments.length === 3 && namespaces.subresources.includes(segments[2]);
    if (!namespaced && !namespaceSub) return fail('the server could not find the requested resource', segments[2]);
  }
  const info = find(segments[0]);
  if (!info) return fail('the server could not find the requested resource', segments[0]);
  if (segments.length > 3) return fail('the server could not find the requested resource');
  if (info.namespaced && segments.length > 1) return fail('the server could not find the requested resource');
  return checkSub({ info, name: segments[1], subresource: segments[2] });
}

function checkSub(target: ResourceTarget): ParsedPath {
  if (target.name === '') return { ok: false, message: 'resource name may not be empty' };
  if (target.subresource !== undefined && !target.info.subresources.includes(target.subresource)) {
    return { ok: false, message: `the server could not find the requested resource (${target.info.resource}/${target.subresource})` };
  }
  return { ok: true, target };
}

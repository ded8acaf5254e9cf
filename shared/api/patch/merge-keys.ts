/**
 * How strategic merge patch and server-side apply merge each list: by which key, or as a set
 * of primitives. The one place that knows it (Kubernetes carries it as patchStrategy /
 * patchMergeKey tags on its Go types). Lists not named here are replaced whole.
 */

export type ListStrategy = { kind: 'merge'; key: string } | { kind: 'set' } | { kind: 'replace' };

/** Field name -> strategy, with the parent field deciding where a name is ambiguous. */
export function listStrategy(path: string[]): ListStrategy {
  const field = path[path.length - 1];
  const parents = path.slice(0, -1);
  const inContainer = parents.some((p) => p === 'containers' || p === 'initContainers' || p === 'ephemeralContainers');
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'volumes':
      return { kind: 'merge', key: 'name' };
    case 'imagePullSecrets':
      // A pod spec's merge by name; a ServiceAccount's (at the top) is replaced whole.
      return parents.length ? { kind: 'merge', key: 'name' } : { kind: 'replace' };
    case 'env':
      return { kind: 'merge', key: 'name' };
    case 'ports':
      // A container's by containerPort, a Service's by port; an EndpointSlice's (at the top) whole.
      if (inContainer) return { kind: 'merge', key: 'containerPort' };
      return parents.length ? { kind: 'merge', key: 'port' } : { kind: 'replace' };
    case 'volumeMounts':
      return { kind: 'merge', key: 'mountPath' };
    case 'volumeDevices':
      return { kind: 'merge', key: 'devicePath' };
    case 'hostAliases':
      return { kind: 'merge', key: 'ip' };
    case 'conditions':
      return { kind: 'merge', key: 'type' };
    case 'addresses':
      return parents[parents.length - 1] === 'status' ? { kind: 'merge', key: 'type' } : { kind: 'replace' };
    case 'ownerReferences':
      return { kind: 'merge', key: 'uid' };
    case 'finalizers':
      return parents.length === 1 && parents[0] === 'metadata' ? { kind: 'set' } : { kind: 'replace' };
    default:
      return { kind: 'replace' };
  }
}

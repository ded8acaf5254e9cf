/**
 * The scale subresource of the workloads (autoscaling/v1 Scale over spec.replicas) and pods'
 * binding (the scheduler's, or anyone's, assignment of a pod to a node, once).
 */
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import { labelSelectorText } from '../store/selectors.js';
import type { Store } from '../store/types.js';
import { PatchError, jsonPatch, mergePatch, strategicMergePatch } from './patch/index.js';
import type { PatchType, Registry, WriteOptions } from './registry.js';
import { valueAt, setAt } from './custom/jsonpath.js';
import { findResource, kindOf, type ResourceInfo } from './resources.js';
import { ApiError, conflict, invalid, successStatus, toApiError, type Status } from './status.js';
import type { Deployment, Pod, ReplicaSet } from './schemas/index.js';
import { asObj } from './validation.js';

/**
 * The Scale of a workload: a built-in one has spec.replicas, spec.selector and status.replicas;
 * a custom resource has them where its CRD's scale paths say (the selector already a string).
 */
export function toScale(stored: KubeObject, info?: ResourceInfo) {
  const paths = info && kindOf(info)?.scale;
  if (paths) {
    const number = (path: string) => {
      const value = valueAt(path, stored);
      return typeof value === 'number' ? value : 0;
    };
    const selector = paths.labelSelectorPath ? valueAt(paths.labelSelectorPath, stored) : undefined;
    return scaleOf(stored, number(paths.specReplicasPath), number(paths.statusReplicasPath), typeof selector === 'string' ? selector : '');
  }
  const object = stored as Deployment | ReplicaSet;
  const { spec, status } = object;
  // A ReplicationController's selector is the map itself.
  const selector = stored.kind === 'ReplicationController' ? { matchLabels: spec.selector as unknown as Record<string, string> } : spec.selector;
  return scaleOf(stored, spec.replicas ?? 0, status?.replicas ?? 0, labelSelectorText(selector));
}

function scaleOf(object: KubeObject, specReplicas: number, statusReplicas: number, selector: string) {
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      uid: object.metadata.uid,
      resourceVersion: object.metadata.resourceVersion,
      creationTimestamp: object.metadata.creationTimestamp,
    },
    spec: { replicas: specReplicas },
    status: { replicas: statusReplicas, selector },
  };
}

/** The object with its replicas set where its Scale reads them: spec.replicas, or a custom resource's scale path. */
export function withScaleReplicas(info: ResourceInfo, object: KubeObject, replicas: number): KubeObject {
  const paths = kindOf(info)?.scale;
  if (!paths) return { ...object, spec: { ...(object.spec as object), replicas } };
  const next = structuredClone(object);
  setAt(paths.specReplicasPath, next, replicas);
  return next;
}

export async function getScale(registry: Registry, info: ResourceInfo, namespace: string, name: string) {
  return toScale(await registry.get(info, namespace, name), info);
}

/** Writes a Scale (from PUT, or a patched Scale, unchecked client input): only spec.replicas changes. */
export async function updateScale(registry: Registry, info: ResourceInfo, namespace: string, name: string, scale: unknown, options: WriteOptions = {}) {
  const body = asObj(scale);
  const replicas = asObj(body.spec).replicas;
  // spec.replicas is an int32, as on the workloads it scales.
  const tooBig = typeof replicas === 'number' && replicas > 2147483647;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0 || tooBig) {
    const why = tooBig ? 'must be less than or equal to 2147483647 (an int32)' : 'must be greater than or equal to 0';
    throw new ApiError(422, 'Invalid', `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: ${why}`, {
      name,
      group: 'autoscaling',
      kind: 'Scale',
      causes: [{ type: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: ${why}` }],
    });
  }
  const rv = asObj(body.metadata).resourceVersion as string | undefined;
  const current = await registry.get(info, namespace, name);
  const next = withScaleReplicas(info, { ...current, metadata: { ...current.metadata, resourceVersion: rv || current.metadata.resourceVersion } }, replicas);
  const written = await registry.commitUpdate(info, current, next, options);
  return toScale(written, info);
}

export async function patchScale(
  registry: Registry,
  info: ResourceInfo,
  namespace: string,
  name: string,
  type: PatchType,
  patch: unknown,
  options: WriteOptions = {},
) {
  const scale = await getScale(registry, info, namespace, name);
  let patched: unknown;
  try {
    patched = type === 'json' ? jsonPatch(scale, patch) : type === 'merge' ? mergePatch(scale, patch) : strategicMergePatch(scale, patch);
  } catch (err) {
    if (err instanceof PatchError) throw new ApiError(err.code, err.code === 422 ? 'Invalid' : 'BadRequest', err.message);
    throw err;
  }
  return updateScale(registry, info, namespace, name, patched, options);
}

/** POST pods/<name>/binding: assigns a pod to a node, once. */
export async function bind(store: Store, namespace: string, name: string, binding: unknown): Promise<Status> {
  const pods = findResource('', 'v1', 'pods')!;
  const target = asObj(asObj(binding).target);
  const nodeName = target.name;
  if (typeof nodeName !== 'string' || !nodeName) {
    throw invalid(pods, name, [{ type: 'FieldValueRequired', field: 'target.name', message: 'Required value' }]);
  }
  await guaranteedUpdate<Pod>(store, pods.storeKey, namespace, name, (pod) => {
    if (pod.metadata.deletionTimestamp) throw conflict(pods, name, 'pod is being deleted, cannot be assigned to a host');
    if (pod.spec.nodeName) throw conflict(pods, name, `pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
    const conditions = (pod.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
    conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowTimestamp() });
    return { ...pod, spec: { ...pod.spec, nodeName }, status: { ...pod.status, conditions } };
  }).catch((err) => {
    throw toApiError(err, pods, name);
  });
  return { ...successStatus(), code: 201 };
}

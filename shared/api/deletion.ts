/**
 * The parts of DELETE that are rules rather than steps: what a delete request may ask
 * (preconditions, grace period), and how an object is marked when it cannot go at once
 * (deletionTimestamp and grace, the propagation finalizer, the kind's own mark).
 */
import { nowTimestamp, type KubeObject } from '../store/object.js';
import type { DeletionRules } from './kinds/kind.js';
import type { DeleteRequest } from './registry.js';
import type { ResourceInfo } from './resources.js';
import { conflict, invalid } from './status.js';

/** Throws the Conflict or Invalid kube-apiserver answers when the request's preconditions or grace period do not hold. */
export function checkDeleteRequest(info: ResourceInfo, name: string, current: KubeObject, request: DeleteRequest): void {
  const pre = request.preconditions ?? {};
  const meta = current.metadata;
  if (pre.uid && pre.uid !== meta.uid) throw conflict(info, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid}`);
  if (pre.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
    const message = `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`;
    throw conflict(info, name, message);
  }
  if (request.gracePeriodSeconds !== undefined && (!Number.isInteger(request.gracePeriodSeconds) || request.gracePeriodSeconds < 0)) {
    throw invalid(info, name, [{ type: 'FieldValueInvalid', field: 'gracePeriodSeconds', message: 'must be a non-negative integer' }]);
  }
}

/** `obj` marked for deletion: the finalizers added, deletionTimestamp set (a shorter grace replaces a longer one). */
export function markDeleted(obj: KubeObject, finalizers: string[], grace: number, rules: DeletionRules): KubeObject {
  const meta = { ...obj.metadata };
  const all = [...(meta.finalizers ?? [])];
  for (const f of finalizers) if (!all.includes(f)) all.push(f);
  meta.finalizers = all.length ? all : undefined;
  if (!meta.deletionTimestamp || grace < (meta.deletionGracePeriodSeconds ?? Infinity)) {
    meta.deletionTimestamp = nowTimestamp(new Date(Date.now() + grace * 1000));
    meta.deletionGracePeriodSeconds = grace;
  }
  const next: KubeObject = { ...obj, metadata: meta };
  return rules.marked ? rules.marked(next) : next;
}

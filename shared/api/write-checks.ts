/**
 * What every write checks before the kind's own rules: the body is an object of the kind the
 * path names, its namespace agrees with the path's, and its fields fit the kind's schema
 * (unknown fields refused with Strict, else dropped with a warning).
 */
import type { KubeObject } from '../store/object.js';
import { checkSchema, pruneUnknownFields } from './admission.js';
import { groupVersion, type ResourceInfo } from './resources.js';
import { badRequest, type StatusCause } from './status.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** The body as an object of the kind (a shallow copy, ours to change). */
export function checkKind(info: ResourceInfo, body: unknown): KubeObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest(`the body of the request is not a ${info.kind} object`);
  const object = body as KubeObject;
  const gv = groupVersion(info);
  if (object.apiVersion !== undefined && object.apiVersion !== gv) {
    throw badRequest(`the API version in the data (${String(object.apiVersion)}) does not match the expected API version (${gv})`);
  }
  if (object.kind !== undefined && object.kind !== info.kind) {
    throw badRequest(`the kind in the data (${String(object.kind)}) does not match the expected kind (${info.kind})`);
  }
  if (object.metadata !== undefined && (typeof object.metadata !== 'object' || object.metadata === null || Array.isArray(object.metadata))) {
    throw badRequest('metadata must be an object');
  }
  // Request bodies are freshly decoded and ours to change; patched objects share frozen parts
  // with the stored one, and commitUpdate copies them before anything changes.
  return { ...object, apiVersion: gv, kind: info.kind, metadata: { ...(object.metadata ?? {}) } };
}

/** The object's namespace set from the path (removed for a cluster-scoped kind). */
export function checkNamespace(info: ResourceInfo, object: KubeObject, namespace: string): void {
  if (!info.namespaced) {
    delete object.metadata.namespace;
    return;
  }
  const given = object.metadata.namespace;
  if (given && given !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  object.metadata.namespace = namespace;
}

/**
 * The schema check of a write: wrong types refused (400); unknown fields refused by name with
 * Strict, otherwise dropped from `object` (in place) as decoding into a typed object drops
 * them, with a warning each unless Ignore. Returns the warnings and the schema's 422 causes.
 */
export function checkFields(info: ResourceInfo, object: KubeObject, mode: FieldValidation | undefined): { warnings: string[]; causes: StatusCause[] } {
  const report = checkSchema(info, object);
  if (report.decodeErrors.length) {
    throw badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${report.decodeErrors.join('; ')}`);
  }
  if (report.unknown.length === 0) return { warnings: [], causes: report.causes };
  const unknown = report.unknown.map((u) => u.field);
  if (mode === 'Strict') throw badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
  pruneUnknownFields(info, object);
  return { warnings: mode === 'Ignore' ? [] : unknown.map((f) => `unknown field "${f}"`), causes: report.causes };
}

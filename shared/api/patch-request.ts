/**
 * What a PATCH request makes of the stored object, before the registry writes it: the patch of
 * its type applied, server-side apply's conflicts as 409 with a cause per field, and the
 * name and namespace checked against the URL. A missing object under apply is created whole.
 */
import type { KubeObject } from '../store/object.js';
import { ApplyConflictError, PatchError, jsonPatch, mergePatch, serverSideApply, strategicMergePatch } from './patch/index.js';
import type { PatchType } from './registry.js';
import type { ResourceInfo } from './resources.js';
import { ApiError, badRequest, toApiError } from './status.js';
import { checkKind } from './write-checks.js';

export interface PatchOptions {
  fieldManager?: string;
  force?: boolean;
}

const nameMismatch = (body: unknown, url: string) => badRequest(`the name of the object (${String(body)}) does not match the name on the URL (${url})`);

function applyPatch(info: ResourceInfo, type: PatchType, current: KubeObject, patch: unknown, options: PatchOptions): KubeObject {
  switch (type) {
    case 'merge':
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw badRequest('merge patch must be a JSON object');
      return mergePatch(current, patch) as KubeObject;
    case 'json':
      return jsonPatch(current, patch) as KubeObject;
    case 'strategic':
      return strategicMergePatch(current, patch, info) as KubeObject;
    case 'apply': {
      if (!options.fieldManager) throw badRequest('PATCH with apply requires a fieldManager query parameter');
      const applied = checkKind(info, structuredClone(patch));
      if (applied.metadata.name !== undefined && applied.metadata.name !== current.metadata.name)
        throw nameMismatch(applied.metadata.name, current.metadata.name ?? '');
      return serverSideApply(current, applied, { manager: options.fieldManager, force: Boolean(options.force), gvk: info });
    }
  }
}

/** `current` with the patch applied, or the error kube-apiserver answers for it. */
export function patchedObject(
  info: ResourceInfo,
  namespace: string,
  name: string,
  type: PatchType,
  current: KubeObject,
  patch: unknown,
  options: PatchOptions,
): KubeObject {
  let patched: KubeObject;
  try {
    patched = applyPatch(info, type, current, patch, options);
  } catch (err) {
    if (err instanceof ApplyConflictError) {
      throw new ApiError(409, 'Conflict', err.message, {
        name,
        group: info.group,
        kind: info.resource,
        causes: err.conflicts.map((c) => ({ type: 'FieldManagerConflict', message: `conflict with "${c.manager}"`, field: c.field })),
      });
    }
    if (err instanceof PatchError) throw new ApiError(err.code, err.code === 422 ? 'Invalid' : 'BadRequest', err.message);
    throw toApiError(err, info, name);
  }
  if (typeof patched !== 'object' || patched === null || typeof patched.metadata !== 'object' || patched.metadata === null) {
    throw badRequest('the patch removed the object metadata');
  }
  if (patched.metadata.name !== name) throw nameMismatch(patched.metadata.name, name);
  if (info.namespaced && (patched.metadata.namespace ?? namespace) !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  return patched;
}

/** Server-side apply of an object that does not exist yet: the object to create, its fields owned by the manager. */
export function appliedNew(info: ResourceInfo, name: string, patch: unknown, options: PatchOptions): KubeObject {
  if (!options.fieldManager) throw badRequest('PATCH with apply requires a fieldManager query parameter');
  const applied = checkKind(info, patch);
  applied.metadata.name ??= name;
  if (applied.metadata.name !== name) throw nameMismatch(applied.metadata.name, name);
  return serverSideApply(undefined, applied, { manager: options.fieldManager, force: Boolean(options.force), gvk: info });
}

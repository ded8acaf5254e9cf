/**
 * A kind served in several versions (a CRD's, conversion `None`) keeps its objects in one, the
 * storage version, and answers each request in the version it named: only `apiVersion`
 * differs between them. Every other kind is served in the version it is stored in, and these
 * are no-ops for it.
 */
import type { KubeObject } from '../store/object.js';
import { groupVersion, kindOf, type ResourceInfo } from './resources.js';

/** The object as `info`'s version serves it (a copy when the stored one differs). */
export function asServed<T extends KubeObject>(info: ResourceInfo, object: T): T {
  if (!kindOf(info)?.storageVersion) return object;
  const gv = groupVersion(info);
  return object.apiVersion === gv ? object : Object.freeze({ ...object, apiVersion: gv });
}

/** Sets the object (ours to change) to the version it is stored in. */
export function toStorage(info: ResourceInfo, object: KubeObject): KubeObject {
  const storage = kindOf(info)?.storageVersion;
  if (storage && storage !== info.version) object.apiVersion = groupVersion({ group: info.group, version: storage });
  return object;
}

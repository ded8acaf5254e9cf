/**
 * A kind served in several versions keeps its objects in one, the storage version, and answers
 * each request in the version it named: a CRD's (conversion `None`) differ only in apiVersion, a
 * built-in's (HorizontalPodAutoscaler v1 and v2) by its kind's conversion. Every other kind is
 * served in the version it is stored in, and these are no-ops for it.
 */
import type { KubeObject } from '../store/object.js';
import { groupVersion, kindOf, type ResourceInfo } from './resources.js';

/** Whether objects of this version may differ from how they are stored. */
export function converts(info: ResourceInfo): boolean {
  const kind = kindOf(info);
  return kind?.storageVersion !== undefined || kind?.fromStorage !== undefined;
}

/** The object as `info`'s version serves it (a copy when the stored one differs). */
export function asServed<T extends KubeObject>(info: ResourceInfo, object: T): T {
  const kind = kindOf(info);
  if (kind?.fromStorage) {
    const served = kind.fromStorage(object);
    return served === object ? object : (Object.freeze(served) as T);
  }
  if (!kind?.storageVersion) return object;
  const gv = groupVersion(info);
  return object.apiVersion === gv ? object : Object.freeze({ ...object, apiVersion: gv });
}

/** The object (ours to change) as it is stored: converted, or its apiVersion set to the storage version. */
export function toStorage(info: ResourceInfo, object: KubeObject): KubeObject {
  const kind = kindOf(info);
  if (kind?.toStorage) return kind.toStorage(object);
  const storage = kind?.storageVersion;
  if (storage && storage !== info.version) object.apiVersion = groupVersion({ group: info.group, version: storage });
  return object;
}

/**
 * JSON of stored objects, made once and reused by every response and watcher that sends the
 * same object. Store objects are frozen, so a cached serialization can never go stale.
 */
import type { KubeObject } from '../../shared/store/object.js';

const serialized = new WeakMap<object, string>();

export function objectJson(object: KubeObject): string {
  let text = serialized.get(object);
  if (text === undefined) {
    text = JSON.stringify(object);
    if (Object.isFrozen(object)) serialized.set(object, text);
  }
  return text;
}

/** A List response body, built from the items' cached JSON. */
export function listJson(kind: string, apiVersion: string, metadata: Record<string, unknown>, items: KubeObject[]): string {
  return `{"kind":${JSON.stringify(kind)},"apiVersion":${JSON.stringify(apiVersion)},"metadata":${JSON.stringify(metadata)},"items":[${items.map(objectJson).join(',')}]}`;
}

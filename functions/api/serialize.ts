/**
 * JSON of stored objects, made once and reused by every response and watcher that sends the
 * same object. Store objects are frozen, so a cached serialization can never go stale.
 */
import type { KubeObject } from '../../shared/store/object.js';
import { jsonOf } from '../../shared/store/object-cache.js';

export const objectJson = jsonOf;

/** A List response body, built from the items' cached JSON. */
export function listJson(kind: string, apiVersion: string, metadata: Record<string, unknown>, items: KubeObject[]): string {
  return `{"kind":${JSON.stringify(kind)},"apiVersion":${JSON.stringify(apiVersion)},"metadata":${JSON.stringify(metadata)},"items":[${items.map(objectJson).join(',')}]}`;
}

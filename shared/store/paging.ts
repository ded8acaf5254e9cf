/**
 * One page of a list, the same for every driver: the objects that pass the filter, in key
 * order, up to `limit`, with a continue token naming the last one and the list's revision (so
 * later pages read the same snapshot). `remainingItemCount` is counted only without selectors,
 * as Kubernetes does: with selectors the walk stops at the first item past the page.
 */
import { encodeContinue } from './continue-token.js';
import { matches, type ObjectFilter } from './filter.js';
import { keyOf, type KubeObject } from './object.js';
import type { ListResult } from './types.js';

export function pageOf(candidates: Iterable<KubeObject>, filter: ObjectFilter, limit: number | undefined, revision: number): ListResult {
  const max = limit && limit > 0 ? limit : Infinity;
  const items: KubeObject[] = [];
  let more = false;
  let remaining = 0;
  for (const object of candidates) {
    if (!matches(filter, object)) continue;
    if (items.length < max) {
      items.push(object);
      continue;
    }
    more = true;
    if (filter.labels || filter.fields) break;
    remaining++;
  }
  const result: ListResult = { items, revision };
  if (more) {
    const last = keyOf(items[items.length - 1]);
    result.continue = encodeContinue({ revision, namespace: last.namespace, name: last.name });
    if (!filter.labels && !filter.fields) result.remainingItemCount = remaining;
  }
  return result;
}

/**
 * What a list or watch with a namespace and selectors lets through. Shared by every driver,
 * so list and watch agree on what matches.
 */
import type { KubeObject } from './object.js';
import { matchFields, matchLabels, toFieldSelector, toLabelSelector, type Selector } from './selectors.js';
import type { ChangeEvent, ListOptions } from './types.js';

export interface ObjectFilter {
  namespace?: string;
  labels?: Selector;
  fields?: Selector;
}

/** Parses the options once; throws `InvalidError` on a bad selector. */
export function compileFilter(options: Pick<ListOptions, 'namespace' | 'labelSelector' | 'fieldSelector'>): ObjectFilter {
  return {
    namespace: options.namespace,
    labels: toLabelSelector(options.labelSelector),
    fields: toFieldSelector(options.fieldSelector),
  };
}

export function isEverything(filter: ObjectFilter): boolean {
  return filter.namespace === undefined && !filter.labels && !filter.fields;
}

export function matches(filter: ObjectFilter, object: KubeObject): boolean {
  if (filter.namespace !== undefined && (object.metadata.namespace ?? '') !== filter.namespace) return false;
  return matchLabels(filter.labels, object.metadata.labels) && matchFields(filter.fields, object);
}

/**
 * A change as a filtered watch sees it: an object entering the filter is ADDED; one leaving it
 * is DELETED carrying its previous state (the last one the watcher was shown to match) at the
 * change's resourceVersion, as kube-apiserver's watch cache sends it; others pass through or
 * are dropped (undefined).
 */
export function filterChange(filter: ObjectFilter, event: ChangeEvent): ChangeEvent | undefined {
  if (isEverything(filter)) return event;
  const now = event.type !== 'DELETED' && matches(filter, event.object);
  const before = event.prevObject !== undefined && matches(filter, event.prevObject);
  if (event.type === 'DELETED') return matches(filter, event.object) || before ? event : undefined;
  if (now && before) return event;
  if (now) return { ...event, type: 'ADDED' };
  if (before) {
    const prev = event.prevObject!;
    return { ...event, type: 'DELETED', object: { ...prev, metadata: { ...prev.metadata, resourceVersion: event.object.metadata.resourceVersion } } };
  }
  return undefined;
}

/**
 * `meta.k8s.io/v1` Tables for `kubectl get`, from each kind's columns (its file in `kinds/`;
 * priority 1 columns show only with `-o wide`), as kube-apiserver's printers build them.
 */
import type { KubeObject } from '../store/object.js';
import { ageColumn, nameColumn, type Column } from './columns.js';
import { kindOf, type ResourceInfo } from './resources.js';

type Obj = Record<string, unknown>;

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function partialMetadata(o: KubeObject): Obj {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/** A cell's value: a custom resource's column that finds nothing is null (kubectl's `<none>`). */
function cellOf(column: Column, o: KubeObject, now: Date): unknown {
  const value = column.cell(o, now);
  return value === undefined ? '' : value;
}

/** The Table for a list (or one object) of a resource. */
export function toTable(
  info: ResourceInfo,
  objects: KubeObject[],
  options: { includeObject?: IncludeObject; now?: Date; resourceVersion?: string; continue?: string; remainingItemCount?: number } = {},
) {
  const columns = kindOf(info)?.columns ?? [nameColumn, ageColumn];
  const now = options.now ?? new Date();
  const include = options.includeObject ?? 'Metadata';
  const metadata: Obj = {};
  if (options.resourceVersion !== undefined) metadata.resourceVersion = options.resourceVersion;
  if (options.continue) metadata.continue = options.continue;
  if (options.remainingItemCount !== undefined) metadata.remainingItemCount = options.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description ?? c.name,
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => {
      const row: Obj = { cells: columns.map((c) => cellOf(c, o, now)) };
      if (include === 'Metadata') row.object = partialMetadata(o);
      else if (include === 'Object') row.object = o;
      return row;
    }),
  };
}

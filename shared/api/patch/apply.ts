/**
 * Server-side apply: the applied configuration is merged over the live object, fields the
 * same manager applied before and left out now are removed (unless someone else owns them),
 * and fields another manager owns with a different value are conflicts unless `force`.
 * Other writes record their changed fields as `Update` ownership (`recordUpdate`).
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../../store/object.js';
import { nowTimestamp } from '../../store/object.js';
import { ApplyConflictError } from './errors.js';
import {
  displayPath,
  fromFieldsV1,
  leafPaths,
  ListIndex,
  readManagedFields,
  removeAt,
  toFieldsV1,
  valueAt,
  type FieldPath,
  type ManagedFieldsEntry,
} from './managed-fields.js';
import { strategicMergePatch } from './strategic.js';

export interface Gvk {
  group: string;
  version: string;
  kind: string;
}

const apiVersionOf = (gvk: Gvk) => (gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version);
const same = (a: unknown, b: unknown) => isDeepStrictEqual(a, b);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether applying `path` agrees with the live object. A list item by merge key (`.`) and an
 * empty map stand for the field's presence, not its contents (the server defaults fields into
 * containers; other managers own what is inside), so they agree when both are there. Equal
 * values are shared ownership, never a conflict.
 */
function agrees(path: FieldPath, applied: unknown, live: unknown, index: ListIndex): boolean {
  const a = valueAt(applied, path, index);
  const l = valueAt(live, path, index);
  if (path.endsWith(',"."]')) return a !== undefined && l !== undefined;
  if (isObj(a) && Object.keys(a).length === 0) return isObj(l);
  return same(a, l);
}

function entry(manager: string, operation: 'Apply' | 'Update', gvk: Gvk, paths: Set<FieldPath>, now: Date): ManagedFieldsEntry {
  return { manager, operation, apiVersion: apiVersionOf(gvk), time: nowTimestamp(now), fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(paths) };
}

function withManagedFields(object: KubeObject, entries: ManagedFieldsEntry[]): KubeObject {
  const kept = entries.filter((e) => Object.keys(e.fieldsV1).length > 0);
  return { ...object, metadata: { ...object.metadata, managedFields: kept.length ? kept : undefined } };
}

export function serverSideApply(
  live: KubeObject | undefined,
  applied: KubeObject,
  opts: { manager: string; force: boolean; gvk: Gvk; now?: Date },
): KubeObject {
  const now = opts.now ?? new Date();
  const appliedPaths = leafPaths(applied);
  const { managedFields: _ignored, ...appliedMeta } = applied.metadata;
  const clean: KubeObject = { ...applied, metadata: appliedMeta };
  if (!live) return withManagedFields(structuredClone(clean), [entry(opts.manager, 'Apply', opts.gvk, appliedPaths, now)]);

  const entries = readManagedFields(live).map((e) => ({ ...e, paths: fromFieldsV1(e.fieldsV1) }));
  const conflicts: { field: string; manager: string }[] = [];
  const conflicting = new Set<FieldPath>();
  const index = new ListIndex();
  for (const path of appliedPaths) {
    if (agrees(path, applied, live, index)) continue;
    for (const e of entries) {
      if (e.manager === opts.manager && e.operation === 'Apply') continue;
      if (e.paths.has(path)) {
        conflicts.push({ field: displayPath(path), manager: e.manager });
        conflicting.add(path);
      }
    }
  }
  if (conflicts.length && !opts.force) throw new ApplyConflictError(conflicts);

  const base = structuredClone(live) as KubeObject;
  const mine = entries.find((e) => e.manager === opts.manager && e.operation === 'Apply');
  if (mine) {
    for (const path of mine.paths) {
      if (appliedPaths.has(path)) continue;
      const ownedElsewhere = entries.some((e) => e !== mine && e.paths.has(path));
      if (!ownedElsewhere) removeAt(base, path);
    }
  }
  const merged = strategicMergePatch(base, clean) as KubeObject;
  const next: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (e === mine) continue;
    // With force the applier takes only the conflicting fields; equal values stay shared, as in Kubernetes.
    const paths = new Set([...e.paths].filter((p) => !conflicting.has(p)));
    const { paths: _p, ...rest } = e;
    next.push({ ...rest, fieldsV1: toFieldsV1(paths) });
  }
  next.push(entry(opts.manager, 'Apply', opts.gvk, appliedPaths, now));
  return withManagedFields(merged, next);
}

/** Records the fields a non-apply write changed as owned by `manager` (operation Update). */
export function recordUpdate(old: KubeObject | undefined, next: KubeObject, opts: { manager: string; gvk: Gvk; now?: Date; subresource?: string }): KubeObject {
  const now = opts.now ?? new Date();
  const includeStatus = opts.subresource === 'status';
  const index = new ListIndex();
  const changed = new Set([...leafPaths(next, { includeStatus })].filter((p) => !old || !same(valueAt(next, p, index), valueAt(old, p, index))));
  const entries = readManagedFields(old ?? next).map((e) => ({ ...e, paths: fromFieldsV1(e.fieldsV1) }));
  const out: ManagedFieldsEntry[] = [];
  let mine: Set<FieldPath> | undefined;
  for (const e of entries) {
    const { paths, ...rest } = e;
    // Fields that no longer exist are no one's.
    const live = new Set(
      [...paths].filter((p) => valueAt(next, p, index) !== undefined && !(changed.has(p) && !(e.manager === opts.manager && e.operation === 'Update'))),
    );
    if (e.manager === opts.manager && e.operation === 'Update' && (e.subresource ?? '') === (opts.subresource ?? '')) {
      mine = live;
      continue;
    }
    out.push({ ...rest, fieldsV1: toFieldsV1(live) });
  }
  if (changed.size === 0 && !mine) return withManagedFields(next, out);
  const paths = new Set([...(mine ?? []), ...changed]);
  const own = entry(opts.manager, 'Update', opts.gvk, paths, now);
  if (opts.subresource) own.subresource = opts.subresource;
  out.push(own);
  return withManagedFields(next, out);
}

/**
 * Field ownership for server-side apply, in Kubernetes' `managedFields` format (FieldsV1:
 * `f:<field>` for map fields, `k:{"name":"web"}` for list items by merge key, `v:<value>` for
 * set members, `.` for an item itself). Internally a field set is a set of leaf paths.
 */
import { listStrategy } from './merge-keys.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A path of FieldsV1 segments, JSON-encoded so it can live in a Set. */
export type FieldPath = string;

// A type, not an interface, so an entry is a plain JSON object to the metadata schema's type.
export type ManagedFieldsEntry = {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Obj;
  subresource?: string;
};

const UNTRACKED_META = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'generateName',
]);

/** The leaf paths an object sets (apiVersion, kind and identity metadata are not owned). */
export function leafPaths(object: Obj, options: { includeStatus?: boolean } = {}): Set<FieldPath> {
  const out = new Set<FieldPath>();
  for (const [key, value] of Object.entries(object)) {
    if (key === 'apiVersion' || key === 'kind' || value === undefined) continue;
    if (key === 'status' && !options.includeStatus) continue;
    if (key === 'metadata' && isObj(value)) {
      for (const [mk, mv] of Object.entries(value)) {
        if (UNTRACKED_META.has(mk) || mv === undefined) continue;
        walk(mv, [`f:metadata`, `f:${mk}`], ['metadata', mk], out);
      }
      continue;
    }
    walk(value, [`f:${key}`], [key], out);
  }
  return out;
}

function walk(value: unknown, segs: string[], names: string[], out: Set<FieldPath>): void {
  if (isObj(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) walk(v, [...segs, `f:${k}`], [...names, k], out);
    return;
  }
  if (Array.isArray(value)) {
    const strategy = listStrategy(names);
    if (strategy.kind === 'merge' && value.every((v) => isObj(v) && v[strategy.key] !== undefined)) {
      for (const item of value as Obj[]) {
        const seg = `k:${JSON.stringify({ [strategy.key]: item[strategy.key] })}`;
        out.add(JSON.stringify([...segs, seg, '.']));
        for (const [k, v] of Object.entries(item)) if (v !== undefined) walk(v, [...segs, seg, `f:${k}`], [...names, k], out);
      }
      return;
    }
    if (strategy.kind === 'set') {
      for (const v of value) out.add(JSON.stringify([...segs, `v:${JSON.stringify(v)}`]));
      return;
    }
  }
  out.add(JSON.stringify(segs));
}

/**
 * Lookups into lists by merge key or by value, indexed on first use, so that finding every
 * item of a long list costs linear time instead of a scan per item. For objects that do not
 * change while it is in use: make one per operation.
 */
export class ListIndex {
  private readonly byKey = new Map<unknown[], Map<string, Map<unknown, unknown>>>();
  private readonly byValue = new Map<unknown[], Set<string>>();

  /** The first item of `list` whose field `key` is `value` (===), as `list.find` would. */
  find(list: unknown[], key: string, value: unknown): unknown {
    let fields = this.byKey.get(list);
    if (!fields) this.byKey.set(list, (fields = new Map()));
    let items = fields.get(key);
    if (!items) {
      items = new Map();
      for (const item of list) {
        if (!isObj(item) || !Object.hasOwn(item, key)) continue;
        if (!items.has(item[key])) items.set(item[key], item);
      }
      fields.set(key, items);
    }
    return items.get(value);
  }

  /** Whether `list` holds an item whose JSON is `json`. */
  includes(list: unknown[], json: string): boolean {
    let values = this.byValue.get(list);
    if (!values) this.byValue.set(list, (values = new Set(list.map((item) => JSON.stringify(item)))));
    return values.has(json);
  }
}

/** The value at a path, or undefined; pass a `ListIndex` when looking up many paths. */
export function valueAt(object: unknown, path: FieldPath, index = new ListIndex()): unknown {
  let cur: unknown = object;
  for (const seg of JSON.parse(path) as string[]) {
    if (seg === '.') continue;
    if (seg.startsWith('f:')) cur = isObj(cur) && Object.hasOwn(cur, seg.slice(2)) ? cur[seg.slice(2)] : undefined;
    else if (seg.startsWith('k:')) {
      const [[k, v]] = Object.entries(JSON.parse(seg.slice(2)) as Obj);
      cur = Array.isArray(cur) ? index.find(cur, k, v) : undefined;
    } else if (seg.startsWith('v:')) {
      const v = JSON.parse(seg.slice(2));
      cur = Array.isArray(cur) && index.includes(cur, JSON.stringify(v)) ? v : undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Removes the field at a path (in place); empty maps left behind are kept, as Kubernetes does. */
export function removeAt(object: Obj, path: FieldPath): void {
  const segs = (JSON.parse(path) as string[]).filter((s) => s !== '.');
  let cur: unknown = object;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    if (seg.startsWith('f:')) {
      if (!isObj(cur)) return;
      if (last) delete cur[seg.slice(2)];
      else cur = cur[seg.slice(2)];
    } else if (seg.startsWith('k:')) {
      if (!Array.isArray(cur)) return;
      const [[k, v]] = Object.entries(JSON.parse(seg.slice(2)) as Obj);
      const index = cur.findIndex((item) => isObj(item) && item[k] === v);
      if (index < 0) return;
      if (last) cur.splice(index, 1);
      else cur = cur[index];
    } else if (seg.startsWith('v:')) {
      if (!Array.isArray(cur)) return;
      const v = seg.slice(2);
      const index = cur.findIndex((item) => JSON.stringify(item) === v);
      if (index >= 0) cur.splice(index, 1);
      return;
    }
  }
}

/** `.spec.template.spec.containers[name="web"].image`, as Kubernetes prints a field. */
export function displayPath(path: FieldPath): string {
  let out = '';
  for (const seg of JSON.parse(path) as string[]) {
    if (seg === '.') continue;
    if (seg.startsWith('f:')) out += `.${seg.slice(2)}`;
    else if (seg.startsWith('k:'))
      out += `[${Object.entries(JSON.parse(seg.slice(2)) as Obj)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}]`;
    else if (seg.startsWith('v:')) out += `[${seg.slice(2)}]`;
  }
  return out;
}

export function toFieldsV1(paths: Iterable<FieldPath>): Obj {
  const root: Obj = {};
  for (const path of paths) {
    let node = root;
    for (const seg of JSON.parse(path) as string[]) {
      node[seg] ??= {};
      node = node[seg] as Obj;
    }
  }
  return root;
}

export function fromFieldsV1(tree: unknown): Set<FieldPath> {
  const out = new Set<FieldPath>();
  const visit = (node: unknown, segs: string[]) => {
    const keys = isObj(node) ? Object.keys(node) : [];
    if (keys.length === 0) {
      if (segs.length) out.add(JSON.stringify(segs));
      return;
    }
    for (const k of keys) visit((node as Obj)[k], [...segs, k]);
  };
  visit(tree, []);
  return out;
}

export function readManagedFields(object: Obj): ManagedFieldsEntry[] {
  const meta = isObj(object.metadata) ? object.metadata : {};
  return Array.isArray(meta.managedFields) ? (meta.managedFields as ManagedFieldsEntry[]).filter((e) => isObj(e) && typeof e.manager === 'string') : [];
}

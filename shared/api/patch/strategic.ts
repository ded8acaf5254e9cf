/**
 * Strategic merge patch, as kubectl sends it: maps merge, null deletes, lists merge by their
 * merge key (merge-keys.ts) or are replaced, with the directives `$patch` (replace, delete,
 * merge), `$setElementOrder/<list>`, `$retainKeys` and `$deleteFromPrimitiveList/<list>`.
 */
import { PatchError } from './errors.js';
import { listStrategy } from './merge-keys.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function strategicMergePatch(target: unknown, patch: unknown, _gvk?: { group: string; version: string; kind: string }): unknown {
  if (!isObj(patch)) throw new PatchError('strategic merge patch must be a JSON object');
  return mergeMap(isObj(target) ? target : {}, patch, []);
}

function mergeMap(target: Obj, patch: Obj, path: string[]): Obj | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') {
    const copy = { ...patch };
    delete copy.$patch;
    return stripDirectives(copy) as Obj;
  }
  if (directive !== undefined && directive !== 'merge') throw new PatchError(`unknown patch type: ${String(directive)}`);
  const out: Obj = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys' || key.startsWith('$setElementOrder/') || key.startsWith('$deleteFromPrimitiveList/')) continue;
    if (value === null) {
      delete out[key];
      continue;
    }
    const childPath = [...path, key];
    if (Array.isArray(value)) {
      out[key] = mergeList(Array.isArray(out[key]) ? (out[key] as unknown[]) : [], value, childPath, patch[`$setElementOrder/${key}`]);
    } else if (isObj(value)) {
      const merged = mergeMap(isObj(out[key]) ? (out[key] as Obj) : {}, value, childPath);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else {
      out[key] = value;
    }
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      if (!Array.isArray(value)) throw new PatchError(`${key} must be a list`);
      if (Array.isArray(out[field])) out[field] = (out[field] as unknown[]).filter((v) => !value.includes(v));
    } else if (key.startsWith('$setElementOrder/')) {
      const field = key.slice('$setElementOrder/'.length);
      // A list the patch does not otherwise touch is still reordered.
      if (!(field in patch) && Array.isArray(out[field]) && Array.isArray(value)) {
        out[field] = reorder(out[field] as unknown[], value, listStrategy([...path, field]));
      }
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys as string[]);
    for (const key of Object.keys(out)) if (!keep.has(key)) delete out[key];
  }
  return out;
}

function keyOf(item: unknown, key: string): unknown {
  return isObj(item) ? item[key] : undefined;
}

function mergeList(target: unknown[], patch: unknown[], path: string[], order: unknown): unknown[] {
  const strategy = listStrategy(path);
  if (strategy.kind === 'replace') {
    // `$patch: replace` items are meaningless here; a replaced list is the patch as given.
    return patch.filter((p) => !(isObj(p) && p.$patch)).map(stripDirectives);
  }
  if (strategy.kind === 'set') {
    const out = [...target];
    for (const v of patch) if (!out.some((t) => JSON.stringify(t) === JSON.stringify(v))) out.push(v);
    return Array.isArray(order) ? reorder(out, order, strategy) : out;
  }
  const { key } = strategy;
  if (patch.some((p) => isObj(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isObj(p) && p.$patch === 'replace')).map(stripDirectives);
  }
  let out = [...target];
  for (const item of patch) {
    if (!isObj(item)) throw new PatchError(`a list merged by "${key}" at ${path.join('.')} must hold objects`);
    const id = item[key];
    if (id === undefined) throw new PatchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    const index = out.findIndex((t) => keyOf(t, key) === id);
    if (item.$patch === 'delete') {
      if (index >= 0) out = out.filter((_, i) => i !== index);
      continue;
    }
    if (index >= 0) {
      const merged = mergeMap(isObj(out[index]) ? (out[index] as Obj) : {}, item, path);
      if (merged === undefined) out = out.filter((_, i) => i !== index);
      else out[index] = merged;
    } else {
      out.push(stripDirectives(item));
    }
  }
  return Array.isArray(order) ? reorder(out, order, strategy) : out;
}

/** Orders a list as `$setElementOrder` says; items it does not name keep their place after. */
function reorder(list: unknown[], order: unknown[], strategy: ReturnType<typeof listStrategy>): unknown[] {
  const idOf = (v: unknown) => (strategy.kind === 'merge' ? keyOf(v, strategy.key) : v);
  const wanted = order.map((o) => (strategy.kind === 'merge' ? keyOf(o, strategy.key) : o));
  const ordered: unknown[] = [];
  for (const id of wanted) {
    const found = list.find((item) => JSON.stringify(idOf(item)) === JSON.stringify(id));
    if (found !== undefined) ordered.push(found);
  }
  for (const item of list) if (!ordered.includes(item)) ordered.push(item);
  return ordered;
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

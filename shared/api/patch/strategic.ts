/**
 * Strategic merge patch, as kubectl sends it: maps merge, null deletes, lists merge by their
 * merge key (merge-keys.ts) or are replaced, with the directives `$patch` (replace, delete,
 * merge), `$setElementOrder/<list>`, `$retainKeys` and `$deleteFromPrimitiveList/<list>`.
 * Lists are matched through maps, not by scanning, so a long list costs linear time; members
 * are own properties (see own.ts).
 */
import { PatchError } from './errors.js';
import { listStrategy } from './merge-keys.js';
import { ownMember, setMember } from './own.js';

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
    const current = ownMember(out, key);
    if (Array.isArray(value)) {
      setMember(out, key, mergeList(Array.isArray(current) ? current : [], value, childPath, ownMember(patch, `$setElementOrder/${key}`)));
    } else if (isObj(value)) {
      const merged = mergeMap(isObj(current) ? current : {}, value, childPath);
      if (merged === undefined) delete out[key];
      else setMember(out, key, merged);
    } else {
      setMember(out, key, value);
    }
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      if (!Array.isArray(value)) throw new PatchError(`${key} must be a list`);
      const list = ownMember(out, field);
      const drop = new Set(value);
      if (Array.isArray(list))
        setMember(
          out,
          field,
          list.filter((v) => !drop.has(v)),
        );
    } else if (key.startsWith('$setElementOrder/')) {
      const field = key.slice('$setElementOrder/'.length);
      const list = ownMember(out, field);
      // A list the patch does not otherwise touch is still reordered.
      if (!Object.hasOwn(patch, field) && Array.isArray(list) && Array.isArray(value)) {
        setMember(out, field, reorder(list, value, listStrategy([...path, field])));
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
  return isObj(item) ? ownMember(item, key) : undefined;
}

function mergeList(target: unknown[], patch: unknown[], path: string[], order: unknown): unknown[] {
  const strategy = listStrategy(path);
  if (strategy.kind === 'replace') {
    // `$patch: replace` items are meaningless here; a replaced list is the patch as given.
    return patch.filter((p) => !(isObj(p) && p.$patch)).map(stripDirectives);
  }
  if (strategy.kind === 'set') {
    const out = [...target];
    const seen = new Set(target.map((t) => JSON.stringify(t)));
    for (const v of patch) {
      const id = JSON.stringify(v);
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(v);
    }
    return Array.isArray(order) ? reorder(out, order, strategy) : out;
  }
  const { key } = strategy;
  if (patch.some((p) => isObj(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isObj(p) && p.$patch === 'replace')).map(stripDirectives);
  }
  // Items by merge key: the positions (ascending) of the items holding each key, so a lookup
  // finds the first one still there, as a scan from the front would.
  const out: unknown[] = [...target];
  const removed = new Set<number>();
  const positions = new Map<unknown, { at: number[]; head: number }>();
  const track = (id: unknown, index: number) => {
    const entry = positions.get(id);
    if (entry) entry.at.push(index);
    else positions.set(id, { at: [index], head: 0 });
  };
  out.forEach((t, i) => {
    const id = keyOf(t, key);
    if (id !== undefined) track(id, i);
  });
  for (const item of patch) {
    if (!isObj(item)) throw new PatchError(`a list merged by "${key}" at ${path.join('.')} must hold objects`);
    const id = ownMember(item, key);
    if (id === undefined) throw new PatchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    const found = positions.get(id);
    const index = found && found.head < found.at.length ? found.at[found.head] : -1;
    if (item.$patch === 'delete') {
      if (index >= 0) {
        removed.add(index);
        found!.head++;
      }
      continue;
    }
    if (index >= 0) {
      const merged = mergeMap(isObj(out[index]) ? (out[index] as Obj) : {}, item, path);
      if (merged === undefined) {
        removed.add(index);
        found!.head++;
      } else out[index] = merged;
    } else {
      track(id, out.length);
      out.push(stripDirectives(item));
    }
  }
  const kept = removed.size ? out.filter((_, i) => !removed.has(i)) : out;
  return Array.isArray(order) ? reorder(kept, order, strategy) : kept;
}

/** Orders a list as `$setElementOrder` says; items it does not name keep their place after. */
function reorder(list: unknown[], order: unknown[], strategy: ReturnType<typeof listStrategy>): unknown[] {
  const idOf = (v: unknown) => (strategy.kind === 'merge' ? keyOf(v, strategy.key) : v);
  // The first item with each id, as a scan from the front would find it.
  const byId = new Map<string | undefined, unknown>();
  for (const item of list) {
    const id = JSON.stringify(idOf(item));
    if (!byId.has(id)) byId.set(id, item);
  }
  const ordered: unknown[] = [];
  for (const o of order) {
    const found = byId.get(JSON.stringify(idOf(o)));
    if (found !== undefined) ordered.push(found);
  }
  const placed = new Set(ordered);
  for (const item of list) {
    if (placed.has(item)) continue;
    placed.add(item);
    ordered.push(item);
  }
  return ordered;
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) continue;
    setMember(out, k, stripDirectives(v));
  }
  return out;
}

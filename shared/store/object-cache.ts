/**
 * The current objects of one resource, in memory and in list order: what lets a driver serve
 * `get` and current-revision lists without reading or parsing its backend (kube-apiserver's
 * watch cache plays the same part). Objects are deeply frozen: they are shared by every
 * reader, watcher and subscriber, so nobody may change one in place.
 */
import type { KubeObject } from './object.js';
import { fieldValue, type Selector } from './selectors.js';

/** Freezes an object graph in place and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

const serialized = new WeakMap<object, string>();

/**
 * The JSON of an object, computed once for a frozen (stored) object and shared by everyone
 * who sends or stores it: the log's previous state, API responses, watch events.
 */
export function jsonOf(object: KubeObject): string {
  let text = serialized.get(object);
  if (text === undefined) {
    text = JSON.stringify(object);
    if (Object.isFrozen(object)) serialized.set(object, text);
  }
  return text;
}

/** Records the JSON a driver already made for an object it is about to freeze and keep. */
export function rememberJson(object: KubeObject, text: string): void {
  serialized.set(object, text);
}

const SEP = '\u0000';

export function cacheKey(namespace: string, name: string): string {
  return namespace + SEP + name;
}

/** Fields indexed per resource, as kube-apiserver's watch cache indexes pods by node. */
export const INDEXED_FIELDS: Record<string, string[]> = { pods: ['spec.nodeName'] };

const FIELD = '\u0001';

export class ObjectCache {
  private readonly objects = new Map<string, KubeObject>();
  /**
   * `label=value`, and `\u0001field=value` for the indexed fields -> keys of the objects
   * carrying it: equality selectors read only their matches.
   */
  private readonly byLabel = new Map<string, Set<string>>();

  constructor(private readonly fields: string[] = []) {}
  /** Keys in list order (namespace, then name); rebuilt lazily after adds and removals. */
  private sorted: string[] | null = [];

  get size(): number {
    return this.objects.size;
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(cacheKey(namespace, name));
  }

  /** Stores a frozen object (freezing it if needed). */
  set(object: KubeObject): void {
    const key = cacheKey(object.metadata.namespace ?? '', object.metadata.name ?? '');
    const previous = this.objects.get(key);
    if (!previous) this.sorted = null;
    else this.unindex(key, previous);
    this.objects.set(key, deepFreeze(object));
    for (const entry of this.entries(object)) {
      let keys = this.byLabel.get(entry);
      if (!keys) this.byLabel.set(entry, (keys = new Set()));
      keys.add(key);
    }
  }

  /** The index entries of an object: its labels and its indexed fields. */
  private entries(object: KubeObject): string[] {
    const out = Object.entries(object.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    for (const field of this.fields) out.push(`${FIELD}${field}=${fieldValue(object, field)}`);
    return out;
  }

  delete(namespace: string, name: string): void {
    const key = cacheKey(namespace, name);
    const previous = this.objects.get(key);
    if (!previous) return;
    this.unindex(key, previous);
    this.objects.delete(key);
    this.sorted = null;
  }

  private unindex(key: string, object: KubeObject): void {
    for (const entry of this.entries(object)) {
      const keys = this.byLabel.get(entry);
      keys?.delete(key);
      if (keys?.size === 0) this.byLabel.delete(entry);
    }
  }

  /**
   * Like `range`, but when the label selector, or the field selector on an indexed field, has
   * an equality requirement, only the objects the index holds for the rarest one are visited
   * (in list order). Callers still apply the whole filter: this only narrows what they look at.
   */
  *select(
    namespace: string | undefined,
    after: { namespace: string; name: string } | undefined,
    labels: Selector | undefined,
    fields?: Selector,
  ): Generator<KubeObject> {
    let smallest: Set<string> | undefined;
    const equalities = [
      ...(labels?.requirements ?? []).map((r) => ({ r, prefix: '' })),
      ...(fields?.requirements ?? []).filter((r) => this.fields.includes(r.key)).map((r) => ({ r, prefix: FIELD })),
    ];
    for (const { r, prefix } of equalities) {
      if (r.operator !== 'in' || r.values.length !== 1) continue;
      const keys = this.byLabel.get(`${prefix}${r.key}=${r.values[0]}`);
      if (!keys) return;
      if (!smallest || keys.size < smallest.size) smallest = keys;
    }
    if (!smallest) {
      yield* this.range(namespace, after);
      return;
    }
    const start = after ? cacheKey(after.namespace, after.name) : undefined;
    const prefix = namespace !== undefined ? namespace + SEP : undefined;
    for (const key of [...smallest].sort()) {
      if (start !== undefined && key <= start) continue;
      if (prefix !== undefined && !key.startsWith(prefix)) continue;
      yield this.objects.get(key)!;
    }
  }

  /**
   * Objects in list order, in `namespace` when given, strictly after the key
   * (afterNamespace, afterName) when given.
   */
  *range(namespace: string | undefined, after?: { namespace: string; name: string }): Generator<KubeObject> {
    const keys = this.keys();
    const start = after ? cacheKey(after.namespace, after.name) : namespace !== undefined ? cacheKey(namespace, '') : '';
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (after ? keys[mid] <= start : keys[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    const prefix = namespace !== undefined ? namespace + SEP : undefined;
    for (let i = lo; i < keys.length; i++) {
      if (prefix !== undefined && !keys[i].startsWith(prefix)) {
        if (keys[i] > prefix) return;
        continue;
      }
      yield this.objects.get(keys[i])!;
    }
  }

  private keys(): string[] {
    if (!this.sorted) this.sorted = [...this.objects.keys()].sort();
    return this.sorted;
  }
}

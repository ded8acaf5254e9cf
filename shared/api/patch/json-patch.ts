/**
 * JSON patch (RFC 6902), as kube-apiserver applies it (evanphx/json-patch): a malformed
 * operation is a 400; an operation that does not apply to the object (a missing path, a
 * failed test, a move into its own child) is a 422. Pointers walk own properties only, so
 * `__proto__`, `constructor` and `prototype` are plain names that are not there, never a way
 * into an object's prototype. Bounded as kube-apiserver bounds it: at most 10,000 operations,
 * and copies may add at most 3 MiB in all (otherwise a few `copy`s double the object each).
 */
import { ApiError } from '../status.js';
import { MAX_NESTING_DEPTH, nestedDeeperThan, nestingMessage } from './depth.js';
import { PatchError } from './errors.js';
import { setMember } from './own.js';

export const MAX_JSON_PATCH_OPERATIONS = 10_000;
export const MAX_JSON_PATCH_COPY_BYTES = 3 * 1024 * 1024;

type Container = Record<string, unknown> | unknown[];
type Operation = { op: string; path: string; from?: string; value?: unknown };

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);
const isContainer = (v: unknown): v is Container => typeof v === 'object' && v !== null;
const INDEX = /^(0|[1-9][0-9]*)$/;

/** A member of a container that is really there (own property, or array index in range). */
function has(container: Container, key: string): boolean {
  if (Array.isArray(container)) return INDEX.test(key) && Number(key) < container.length;
  return Object.hasOwn(container, key);
}

function segments(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function invalidOp(op: unknown, message: string): PatchError {
  return new PatchError(`invalid json patch operation ${JSON.stringify(op)}: ${message}`);
}

function doesNotApply(op: Operation, message: string): PatchError {
  return new PatchError(`${op.op} operation does not apply: ${message}`, 422);
}

function checkShape(op: unknown): Operation {
  if (typeof op !== 'object' || op === null || Array.isArray(op)) throw invalidOp(op, 'an operation must be an object');
  const o = op as Record<string, unknown>;
  if (typeof o.op !== 'string' || !OPS.has(o.op)) throw invalidOp(op, 'op must be one of add, remove, replace, move, copy, test');
  if (typeof o.path !== 'string') throw invalidOp(op, 'path must be a string');
  if (o.path !== '' && !o.path.startsWith('/')) throw invalidOp(op, 'path must be empty or start with "/"');
  if (o.op === 'move' || o.op === 'copy') {
    if (typeof o.from !== 'string') throw invalidOp(op, `from is required for ${o.op}`);
    if (o.from !== '' && !o.from.startsWith('/')) throw invalidOp(op, 'from must be empty or start with "/"');
  }
  if ((o.op === 'add' || o.op === 'replace' || o.op === 'test') && !('value' in o)) throw invalidOp(op, `value is required for ${o.op}`);
  return o as Operation;
}

/** The container holding the pointer's last segment; every step must be really there. */
function parentOf(doc: unknown, pointer: string, op: Operation): { parent: Container; key: string } {
  const segs = segments(pointer);
  let cur = doc;
  for (let i = 0; i < segs.length - 1; i++) {
    if (!isContainer(cur) || !has(cur, segs[i])) throw doesNotApply(op, `doc is missing path: ${JSON.stringify(pointer)}`);
    cur = (cur as Record<string, unknown>)[segs[i]];
  }
  if (!isContainer(cur)) throw doesNotApply(op, `doc is missing path: ${JSON.stringify(pointer)}`);
  return { parent: cur, key: segs[segs.length - 1] };
}

function get(doc: unknown, pointer: string, op: Operation): unknown {
  if (pointer === '') return doc;
  const { parent, key } = parentOf(doc, pointer, op);
  if (!has(parent, key)) throw doesNotApply(op, `doc is missing path: ${JSON.stringify(pointer)}`);
  return (parent as Record<string, unknown>)[key];
}

/** Adds (or, with `replace`, overwrites an existing member); answers the new document. */
function put(doc: unknown, pointer: string, value: unknown, op: Operation, replace: boolean): unknown {
  if (pointer === '') return value;
  const { parent, key } = parentOf(doc, pointer, op);
  if (Array.isArray(parent)) {
    if (replace) {
      if (!has(parent, key)) throw doesNotApply(op, `doc is missing path: ${JSON.stringify(pointer)}`);
      parent[Number(key)] = value;
    } else if (key === '-') parent.push(value);
    else if (INDEX.test(key) && Number(key) <= parent.length) parent.splice(Number(key), 0, value);
    else throw doesNotApply(op, `index ${JSON.stringify(key)} is out of bounds at ${JSON.stringify(pointer)}`);
    return doc;
  }
  if (replace && !has(parent, key)) throw doesNotApply(op, `doc is missing path: ${JSON.stringify(pointer)}`);
  setMember(parent, key, value);
  return doc;
}

function remove(doc: unknown, pointer: string, op: Operation): { doc: unknown; removed: unknown } {
  if (pointer === '') return { doc: null, removed: doc };
  const { parent, key } = parentOf(doc, pointer, op);
  if (!has(parent, key)) throw doesNotApply(op, `doc is missing path: ${JSON.stringify(pointer)}`);
  if (Array.isArray(parent)) return { doc, removed: parent.splice(Number(key), 1)[0] };
  const removed = parent[key];
  delete parent[key];
  return { doc, removed };
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => has(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations');
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new ApiError(413, 'RequestEntityTooLarge', `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`);
  }
  const checked = ops.map(checkShape);
  let doc: unknown = structuredClone(target);
  let copied = 0;
  for (const op of checked) {
    switch (op.op) {
      case 'add':
        doc = put(doc, op.path, structuredClone(op.value), op, false);
        break;
      case 'replace':
        doc = put(doc, op.path, structuredClone(op.value), op, true);
        break;
      case 'remove':
        doc = remove(doc, op.path, op).doc;
        break;
      case 'test':
        if (!deepEqual(get(doc, op.path, op), op.value)) throw new PatchError(`the test operation failed: ${JSON.stringify(op)}`, 422);
        break;
      case 'move': {
        const from = op.from!;
        if (from === op.path) {
          get(doc, from, op);
          break;
        }
        // RFC 6902 4.4: a location cannot be moved into one of its children.
        if (op.path.startsWith(`${from}/`))
          throw doesNotApply(op, `"from" ${JSON.stringify(from)} is a prefix of "path" ${JSON.stringify(op.path)}: a value cannot move into itself`);
        const taken = remove(doc, from, op);
        doc = put(taken.doc, op.path, taken.removed, op, false);
        break;
      }
      case 'copy': {
        const value = get(doc, op.from!, op);
        copied += value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value) ?? '');
        if (copied > MAX_JSON_PATCH_COPY_BYTES) {
          throw doesNotApply(op, `the accumulated size increase of copy is ${copied}, exceeding the limit ${MAX_JSON_PATCH_COPY_BYTES}`);
        }
        doc = put(doc, op.path, structuredClone(value), op, false);
        break;
      }
    }
  }
  if (nestedDeeperThan(doc)) throw new PatchError(`the patched object: ${nestingMessage(MAX_NESTING_DEPTH)}`, 422);
  return doc;
}

/**
 * The object shape the store keeps, and the metadata rules every driver applies the same
 * way (uid, timestamps, generation, finalizers). Drivers own storage; this file owns meaning.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ConflictError, TooLargeError } from './errors.js';

// The one declaration of metadata is the API's schema; the store keeps what passed it. A
// type-only import: the store carries no schema code at run time.
export type { ObjectMeta, OwnerReference } from '../api/schemas/common.js';
import type { ObjectMeta } from '../api/schemas/common.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/**
 * Equality as JSON sees it: a property whose value is undefined is the same as an absent one,
 * key order does not matter. What the store compares objects with, since it stores JSON.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

/** Same content, ignoring the resourceVersion that only a write would change. */
export function sameContent(a: KubeObject, b: KubeObject): boolean {
  return jsonEqual({ ...a, metadata: { ...a.metadata, resourceVersion: undefined } }, { ...b, metadata: { ...b.metadata, resourceVersion: undefined } });
}

/** The object without `finalizer`, for a guaranteedUpdate: undefined (no write) when it does not carry it. */
export function withoutFinalizer<T extends KubeObject>(object: T, finalizer: string): T | undefined {
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) return undefined;
  return { ...object, metadata: { ...object.metadata, finalizers: finalizers.filter((f) => f !== finalizer) } };
}

/** Kubernetes timestamps: RFC 3339, second precision, UTC. */
export function nowTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The 5-character suffix Kubernetes appends to a generateName. */
export function randomSuffix(length = 5): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length];
  return out;
}

/** What an object is, without what it holds: apiVersion, kind and metadata. */
export function identityOf(object: KubeObject): KubeObject {
  const { apiVersion, kind, metadata } = object;
  return { apiVersion, kind, metadata };
}

export function keyOf(object: KubeObject): { namespace: string; name: string } {
  return { namespace: object.metadata.namespace ?? '', name: object.metadata.name ?? '' };
}

/** Serializes an object and refuses it over `limit` bytes. */
export function encodeObject(object: KubeObject, limit: number): string {
  const text = JSON.stringify(object);
  const size = Buffer.byteLength(text);
  if (size > limit) throw new TooLargeError(size, limit);
  return text;
}

/**
 * The object as create stores it: name from generateName, a fresh uid (or the one the API drew
 * while defaulting it: a Job's selector names its own uid; the API never keeps a client's),
 * creation time, generation 1, the given revision. Never mutates its argument.
 */
export function prepareCreate(object: KubeObject, revision: number): KubeObject {
  const meta = { ...object.metadata };
  if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
  meta.uid ||= randomUUID();
  meta.creationTimestamp = nowTimestamp();
  meta.generation = 1;
  meta.resourceVersion = String(revision);
  delete meta.deletionTimestamp;
  return { ...object, metadata: meta };
}

/**
 * The object as update stores it, from the stored one: identity and creation time kept,
 * deletionTimestamp never unset, generation bumped when spec changed or deletion began.
 */
export function prepareUpdate(stored: KubeObject, next: KubeObject, revision: number): KubeObject {
  const meta = { ...next.metadata };
  const old = stored.metadata;
  meta.name = old.name;
  meta.namespace = old.namespace;
  meta.uid = old.uid;
  meta.creationTimestamp = old.creationTimestamp;
  if (old.deletionTimestamp) {
    meta.deletionTimestamp = old.deletionTimestamp;
    if (old.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds === undefined) {
      meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
    }
  }
  let generation = old.generation ?? 1;
  if (!jsonEqual(stored.spec, next.spec)) generation++;
  if (meta.deletionTimestamp && !old.deletionTimestamp) generation++;
  meta.generation = generation;
  meta.resourceVersion = String(revision);
  return { ...next, metadata: meta };
}

/** The object marked for deletion (finalizers hold it), at the given revision. */
export function prepareDeletionMark(stored: KubeObject, revision: number): KubeObject {
  if (stored.metadata.deletionTimestamp) return stored;
  return prepareUpdate(
    stored,
    {
      ...stored,
      metadata: { ...stored.metadata, deletionTimestamp: nowTimestamp(), deletionGracePeriodSeconds: stored.metadata.deletionGracePeriodSeconds ?? 0 },
    },
    revision,
  );
}

/**
 * True when the object is being deleted and nothing holds it any more: no finalizers and no
 * grace period left (a pod deleted gracefully stays until its kubelet confirms with 0).
 */
export function readyToRemove(object: KubeObject): boolean {
  const meta = object.metadata;
  return Boolean(meta.deletionTimestamp) && (meta.finalizers ?? []).length === 0 && (meta.deletionGracePeriodSeconds ?? 0) === 0;
}

/** The last state of a deleted object, stamped with the deleting revision. */
export function asDeleted(object: KubeObject, revision: number): KubeObject {
  return { ...object, metadata: { ...object.metadata, resourceVersion: String(revision) } };
}

/**
 * Throws `ConflictError` unless the stored object satisfies the preconditions (uid and
 * resourceVersion), worded as Kubernetes words a failed precondition.
 */
export function checkPreconditions(resource: string, stored: KubeObject, pre: { uid?: string; resourceVersion?: string } | undefined): void {
  const { namespace, name } = keyOf(stored);
  if (pre?.uid !== undefined && pre.uid !== stored.metadata.uid) {
    throw new ConflictError(resource, namespace, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${stored.metadata.uid}`);
  }
  if (pre?.resourceVersion !== undefined && pre.resourceVersion !== stored.metadata.resourceVersion) {
    throw new ConflictError(resource, namespace, name, 'the object has been modified; please apply your changes to the latest version and try again');
  }
}

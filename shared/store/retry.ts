/**
 * Read-modify-write over any `Store`, retried on Conflict: the way every controller and API
 * handler should change an object that others may be writing.
 */
import { isStoreError } from './errors.js';
import type { KubeObject } from './object.js';
import type { Store } from './types.js';

export interface GuaranteedUpdateOptions {
  /** Give up after this many conflicts (the last ConflictError is rethrown). */
  maxAttempts?: number;
}

/**
 * Reads the object, applies `mutate` to a copy and writes it back with the read
 * resourceVersion as precondition, until the write wins. `mutate` returns the new object,
 * or undefined to leave the stored one as it is (no write). `T` is the type the caller knows
 * the resource's objects to have (`shared/api/objects.ts`).
 */
export async function guaranteedUpdate<T extends KubeObject = KubeObject>(
  store: Store,
  resource: string,
  namespace: string,
  name: string,
  mutate: (current: T) => T | undefined | Promise<T | undefined>,
  options: GuaranteedUpdateOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 1000;
  for (let attempt = 1; ; attempt++) {
    const current = (await store.get(resource, namespace, name)) as T;
    const next = await mutate(structuredClone(current));
    if (next === undefined) return current;
    next.metadata = { ...next.metadata, resourceVersion: current.metadata.resourceVersion };
    try {
      return (await store.update(resource, next)) as T;
    } catch (err) {
      if (!isStoreError(err, 'Conflict') || attempt >= maxAttempts) throw err;
    }
  }
}

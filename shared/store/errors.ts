/**
 * Errors of the `Store` port. Drivers translate what their backend throws (a SQLite
 * constraint, a `ConditionalCheckFailedException`) into these and rethrow anything else.
 * HTTP codes are chosen once, where the API turns errors into a `metav1.Status`.
 */
export type StoreErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Gone' | 'TooLarge' | 'Invalid';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = `${code}Error`;
  }
}

/** The key does not exist. */
export class NotFoundError extends StoreError {
  constructor(
    readonly resource: string,
    readonly namespace: string,
    readonly key: string,
  ) {
    super('NotFound', `${resource} "${key}" not found`);
  }
}

/** Create found the key taken. */
export class AlreadyExistsError extends StoreError {
  constructor(
    readonly resource: string,
    readonly namespace: string,
    readonly key: string,
  ) {
    super('AlreadyExists', `${resource} "${key}" already exists`);
  }
}

/** A resourceVersion or uid precondition did not hold: someone else wrote first. */
export class ConflictError extends StoreError {
  constructor(
    readonly resource: string,
    readonly namespace: string,
    readonly key: string,
    detail: string,
  ) {
    super('Conflict', `Operation cannot be fulfilled on ${resource} "${key}": ${detail}`);
  }
}

/** The requested revision was compacted away; start again from a fresh list. */
export class GoneError extends StoreError {
  constructor(
    readonly requested: number,
    readonly compacted: number,
  ) {
    super('Gone', `too old resource version: ${requested} (${compacted})`);
  }
}

/** The serialized object is over the driver's limit. */
export class TooLargeError extends StoreError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super('TooLarge', `object is too large: ${size} bytes, the limit is ${limit} bytes`);
  }
}

/** A request the store cannot parse: a bad selector or continue token. */
export class InvalidError extends StoreError {
  constructor(message: string) {
    super('Invalid', message);
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

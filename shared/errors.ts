/**
 * One vocabulary for the outcomes controllers and handlers branch on, whichever layer raised
 * them: the store's errors (`StoreError`, by code) and the API's (`ApiError` from the registry,
 * by reason). Ask `isNotFound(err)` rather than matching reason strings; end a call with
 * `.catch(ignoreNotFound)` where "already gone" is success (Karpenter's `IgnoreNotFound`).
 */
import { ApiError } from './api/status.js';
import { isStoreError, type StoreErrorCode } from './store/errors.js';

type Outcome = Extract<StoreErrorCode, 'NotFound' | 'AlreadyExists' | 'Conflict'>;

const is =
  (outcome: Outcome) =>
  (err: unknown): boolean =>
    isStoreError(err, outcome) || (err instanceof ApiError && err.reason === outcome);

export const isNotFound = is('NotFound');
export const isAlreadyExists = is('AlreadyExists');
/** A precondition (resourceVersion or uid) did not hold: someone else wrote first. */
export const isConflict = is('Conflict');

/**
 * For `.catch(ignoreNotFound)`: "already gone" becomes undefined, anything else is rethrown.
 * `const pod = await store.get('pods', ns, name).catch(ignoreNotFound);`
 */
export function ignoreNotFound(err: unknown): undefined {
  if (isNotFound(err)) return undefined;
  throw err;
}

/**
 * For `.catch(ignore(isNotFound, isConflict))`: the given outcomes become undefined, as a
 * deletion that found the object gone or replaced; anything else is rethrown.
 */
export function ignore(...outcomes: ((err: unknown) => boolean)[]): (err: unknown) => undefined {
  return (err) => {
    if (outcomes.some((o) => o(err))) return undefined;
    throw err;
  };
}

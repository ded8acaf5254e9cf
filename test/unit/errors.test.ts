/** One error vocabulary over the store's errors and the API's. */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/api/status.js';
import { ignore, ignoreNotFound, isAlreadyExists, isConflict, isNotFound } from '../../shared/errors.js';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../shared/store/errors.js';

describe('errors', () => {
  it('recognises each outcome from the store and from the API alike', () => {
    expect(isNotFound(new NotFoundError('pods', 'default', 'p'))).toBe(true);
    expect(isNotFound(new ApiError(404, 'NotFound', 'pods "p" not found'))).toBe(true);
    expect(isConflict(new ConflictError('pods', 'default', 'p', 'moved'))).toBe(true);
    expect(isConflict(new ApiError(409, 'Conflict', 'moved'))).toBe(true);
    expect(isAlreadyExists(new AlreadyExistsError('pods', 'default', 'p'))).toBe(true);
    expect(isAlreadyExists(new ApiError(409, 'Conflict', 'moved'))).toBe(false);
    expect(isNotFound(new Error('NotFound'))).toBe(false);
  });

  it('ignoreNotFound and ignore turn the named outcomes into undefined and rethrow the rest', async () => {
    await expect(Promise.reject(new NotFoundError('pods', 'default', 'p')).catch(ignoreNotFound)).resolves.toBeUndefined();
    await expect(Promise.resolve(7).catch(ignoreNotFound)).resolves.toBe(7);
    await expect(Promise.reject(new ConflictError('pods', 'default', 'p', 'x')).catch(ignoreNotFound)).rejects.toThrow('Operation cannot be fulfilled');
    await expect(Promise.reject(new ApiError(409, 'Conflict', 'x')).catch(ignore(isNotFound, isConflict))).resolves.toBeUndefined();
    await expect(Promise.reject(new Error('disk full')).catch(ignore(isNotFound, isConflict))).rejects.toThrow('disk full');
  });
});

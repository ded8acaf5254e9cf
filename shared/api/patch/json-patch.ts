/**
 * JSON patch (RFC 6902) through fast-json-patch, a well-kept implementation with operation
 * validation; its errors become `PatchError`s with the operation named.
 */
import fastJsonPatch from 'fast-json-patch';
import { PatchError } from './errors.js';

const { applyPatch, validate } = fastJsonPatch;

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations');
  const error = validate(ops as fastJsonPatch.Operation[], target);
  if (error) throw new PatchError(`invalid json patch operation ${JSON.stringify(error.operation)}: ${error.message.split('\n')[0]}`);
  try {
    return applyPatch(structuredClone(target), ops as fastJsonPatch.Operation[], false, true).newDocument;
  } catch (err) {
    const e = err as { name?: string; message?: string; operation?: unknown };
    if (e.name === 'TEST_OPERATION_FAILED') throw new PatchError(`the test operation failed: ${JSON.stringify(e.operation)}`, 422);
    throw new PatchError(`unable to apply json patch: ${(e.message ?? String(err)).split('\n')[0]}`);
  }
}

/**
 * The causes a 422 Invalid lists, worded as apimachinery's field errors are, and the small
 * readers kind files use on untyped input (a write is validated before it is trusted).
 */
import { nameError } from './names.js';
import type { StatusCause } from './status.js';

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const required = (field: string, message = 'Required value'): StatusCause => ({ type: 'FieldValueRequired', field, message });

export const invalidValue = (field: string, value: unknown, message: string): StatusCause => ({
  type: 'FieldValueInvalid',
  field,
  message: `Invalid value: ${JSON.stringify(value)}: ${message}`,
});

export const forbiddenField = (field: string, message: string): StatusCause => ({ type: 'FieldValueForbidden', field, message: `Forbidden: ${message}` });

export const notSupported = (field: string, value: unknown, supported: string[]): StatusCause => ({
  type: 'FieldValueNotSupported',
  field,
  message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
});

/** A name that must be a DNS label, unique among `seen` (containers', volumes'). */
export function checkUniqueLabel(value: unknown, field: string, seen: Set<string>, causes: StatusCause[]): void {
  if (typeof value !== 'string' || !value) {
    causes.push(required(field));
    return;
  }
  const err = nameError(value, 'dns1123-label');
  if (err) causes.push(invalidValue(field, value, err));
  if (seen.has(value)) causes.push({ type: 'FieldValueDuplicate', field, message: `Duplicate value: ${JSON.stringify(value)}` });
  seen.add(value);
}

/** Whether two values are the same JSON (absent and null alike): for immutable fields. */
export const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** A port number field: 1 to 65535. */
export function checkPort(value: unknown, field: string, causes: StatusCause[]): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535)
    causes.push(invalidValue(field, value, 'must be between 1 and 65535, inclusive'));
}

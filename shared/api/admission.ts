/**
 * What the API does to an object before it is stored, as kube-apiserver's generic store does
 * with a kind's strategy: reset what clients may not set, fill the kind's defaults (so
 * `describe` prints what a user expects), and validate metadata, the kind's own rules and, on
 * update, its immutable fields. What is particular to a kind is in its file in `kinds/`.
 */
import type { KubeObject } from '../store/object.js';
import { labelKeyError, labelValueError } from '../store/selectors.js';
import { generateNameError, nameError } from './names.js';
import type { UnknownField } from './kinds/kind.js';
import { kindOf, type ResourceInfo } from './resources.js';
import type { StatusCause } from './status.js';
import { invalidValue, required, type Obj } from './validation.js';

/** Fields the server owns: a client's values are dropped on create. */
export function resetServerFields(object: KubeObject): void {
  const meta = object.metadata;
  for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink'] as const)
    delete meta[f];
}

/** The status a new object starts with, for kinds whose status only the system writes. */
export function initialStatus(info: ResourceInfo, object: KubeObject): unknown {
  const initial = kindOf(info)?.initialStatus;
  return initial ? initial(object) : object.status;
}

/** Fills Kubernetes' defaults in place. */
export function applyDefaults(info: ResourceInfo, object: KubeObject): void {
  kindOf(info)?.defaults?.(object);
}

function validateMetadata(info: ResourceInfo, object: KubeObject, causes: StatusCause[]): void {
  const meta = object.metadata;
  const rule = kindOf(info)?.nameRule ?? 'dns1123-subdomain';
  const name = meta.name;
  if (!name && !meta.generateName) causes.push(required('metadata.name', 'Required value: name or generateName is required'));
  if (meta.generateName) {
    const err = generateNameError(meta.generateName, rule);
    if (err) causes.push(invalidValue('metadata.generateName', meta.generateName, err));
  }
  if (name) {
    const err = nameError(name, rule);
    if (err) causes.push(invalidValue('metadata.name', name, err));
  }
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    const keyErr = labelKeyError(key);
    if (keyErr) causes.push(invalidValue('metadata.labels', key, keyErr));
    if (typeof value !== 'string') causes.push(invalidValue(`metadata.labels[${key}]`, value, 'must be a string'));
    else {
      const valueErr = labelValueError(value);
      if (valueErr) causes.push(invalidValue('metadata.labels', value, valueErr));
    }
  }
  for (const [key, value] of Object.entries(meta.annotations ?? {})) {
    const keyErr = labelKeyError(key);
    if (keyErr) causes.push(invalidValue('metadata.annotations', key, keyErr));
    if (typeof value !== 'string') causes.push(invalidValue(`metadata.annotations[${key}]`, value, 'must be a string'));
  }
}

/** Validates a new object; returns the causes (empty when valid). Schema causes come from `checkSchema`. */
export function validateCreate(info: ResourceInfo, object: KubeObject, schemaCauses: StatusCause[] = []): StatusCause[] {
  const causes: StatusCause[] = [...schemaCauses];
  validateMetadata(info, object, causes);
  kindOf(info)?.validate?.(object, causes);
  return causes;
}

/** Validates an update against the stored object: the create rules plus immutable fields. */
export function validateUpdate(info: ResourceInfo, object: KubeObject, old: KubeObject, schemaCauses: StatusCause[] = []): StatusCause[] {
  const causes = validateCreate(info, object, schemaCauses);
  kindOf(info)?.validateUpdate?.(object, old, causes);
  return causes;
}

/** A zod issue path as Kubernetes writes a field: `spec.containers[0].image`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

export interface SchemaReport {
  /** Unknown fields, with where they are and their dotted path. */
  unknown: UnknownField[];
  /** Values of the wrong JSON type: Kubernetes cannot decode these (400). */
  decodeErrors: string[];
  /** Values the schema does not allow (422 causes). */
  causes: StatusCause[];
}

function valueAtPath(object: unknown, path: readonly PropertyKey[]): unknown {
  let cur = object;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[part];
  }
  return cur;
}

/** Checks an object against its kind's zod schema (`shared/api/schemas`). */
export function checkSchema(info: ResourceInfo, object: Obj): SchemaReport {
  const report: SchemaReport = { unknown: [], decodeErrors: [], causes: [] };
  const kind = kindOf(info);
  if (kind?.unknownFields) report.unknown = kind.unknownFields(object as KubeObject);
  const schema = kind?.schema;
  if (!schema) return report;
  const result = schema.safeParse(object);
  if (result.success) return report;
  for (const issue of result.error.issues) {
    const field = fieldPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) report.unknown.push({ path: issue.path, key, field: field ? `${field}.${key}` : key });
    } else if (issue.code === 'invalid_value') {
      const value = valueAtPath(object, issue.path);
      const allowed = (issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      report.causes.push({ type: 'FieldValueNotSupported', field, message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed}` });
    } else if (valueAtPath(object, issue.path) !== undefined) {
      // Missing required fields are reported by validation, as 422 with their own wording.
      report.decodeErrors.push(`${field}: ${issue.message}`);
    }
  }
  return report;
}

/** Unknown fields, as dotted paths (`spec.replicaz`, `spec.template.spec.containers[0].imagee`). */
export function unknownFields(info: ResourceInfo, object: Obj): string[] {
  return checkSchema(info, object).unknown.map((u) => u.field);
}

/** Removes unknown fields (in place), as decoding into a typed object would; returns them. */
export function pruneUnknownFields(info: ResourceInfo, object: Obj): string[] {
  const { unknown } = checkSchema(info, object);
  for (const u of unknown) {
    const parent = valueAtPath(object, u.path);
    if (parent && typeof parent === 'object') delete (parent as Obj)[u.key];
  }
  return unknown.map((u) => u.field);
}

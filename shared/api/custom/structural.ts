/**
 * A CustomResourceDefinition's structural schema (an OpenAPI v3 subset, with Kubernetes'
 * `x-kubernetes-*` extensions) applied to custom resources as kube-apiserver applies it, in its
 * order: unknown fields pruned (unless preserved), defaults filled, then every value checked,
 * each failure a cause in kube-apiserver's words (`spec.replicas in body should be less than
 * or equal to 10`).
 */
import { isIP } from 'node:net';
import type { StatusCause } from '../status.js';
import type { UnknownField } from '../kinds/kind.js';

/** JSONSchemaProps, as a CRD's `openAPIV3Schema` writes it. */
export interface JSONSchemaProps {
  type?: string;
  format?: string;
  description?: string;
  title?: string;
  default?: unknown;
  nullable?: boolean;
  enum?: unknown[];
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  allOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: unknown[];
}

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `spec.ports[0]`, `spec.labels[app]`: a child's path as Kubernetes writes it. */
const child = (path: string, key: string) => (path ? `${path}.${key}` : key);
const index = (path: string, i: number | string) => `${path}[${i}]`;

/** The JSON type of a value, in the words of the messages (`integer` for a whole number). */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const render = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value)));

function invalid(field: string, value: unknown, detail: string): StatusCause {
  return { type: 'FieldValueInvalid', field, message: `Invalid value: ${render(value)}: ${detail}` };
}

// ---- pruning -------------------------------------------------------------------------------

/**
 * Removes (in place) what the schema does not know, as kube-apiserver prunes a custom resource;
 * returns what went, for the Strict / Warn field validation. `apiVersion`, `kind` and `metadata`
 * are kept at the root and in embedded resources.
 */
export function prune(schema: JSONSchemaProps, value: unknown): UnknownField[] {
  const found: UnknownField[] = [];
  pruneNode(schema, value, [], '', true, found);
  return found;
}

function pruneNode(schema: JSONSchemaProps, value: unknown, path: PropertyKey[], field: string, resource: boolean, found: UnknownField[]): void {
  if (Array.isArray(value)) {
    if (schema.items)
      value.forEach((item, i) => {
        pruneNode(schema.items!, item, [...path, i], index(field, i), !!schema.items!['x-kubernetes-embedded-resource'], found);
      });
    return;
  }
  if (!isObject(value)) return;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const additional = schema.additionalProperties;
  for (const key of Object.keys(value)) {
    if (resource && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    const known = schema.properties?.[key];
    const sub = known ?? (isObject(additional) ? additional : undefined);
    if (sub) {
      const at = known ? child(field, key) : index(field, key);
      pruneNode(sub, value[key], [...path, key], at, !!sub['x-kubernetes-embedded-resource'], found);
    } else if (!preserve && additional !== true) {
      found.push({ path, key, field: child(field, key) });
    }
  }
}

// ---- defaulting ----------------------------------------------------------------------------

/** Fills (in place) the schema's defaults where a field is missing, or null and not nullable. */
export function applySchemaDefaults(schema: JSONSchemaProps, value: unknown): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applySchemaDefaults(schema.items, item);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    const missing = !(key in value) || (value[key] === null && !sub.nullable);
    if (missing && sub.default !== undefined) value[key] = structuredClone(sub.default);
    else if (value[key] === null && !sub.nullable && sub.default === undefined) continue;
    if (key in value) applySchemaDefaults(sub, value[key]);
  }
  const additional = schema.additionalProperties;
  if (isObject(additional)) {
    for (const key of Object.keys(value)) if (!schema.properties?.[key]) applySchemaDefaults(additional, value[key]);
  }
}

// ---- validation ----------------------------------------------------------------------------

/** Checks a value (a whole custom resource at the root) against the schema; adds a cause per failure. */
export function validateValue(schema: JSONSchemaProps, value: unknown, field: string, causes: StatusCause[]): void {
  const at = field || '<root>';
  if (value === null) {
    if (!schema.nullable) causes.push(invalid(at, 'null', `${at} in body must be of type ${schema.type || 'object'}: "null"`));
    return;
  }
  if (!checkType(schema, value, at, causes)) return;
  if (schema.enum && !schema.enum.some((e) => deepEqual(e, value))) {
    causes.push({
      type: 'FieldValueNotSupported',
      field: at,
      message: `Unsupported value: ${render(value)}: supported values: ${schema.enum.map(render).join(', ')}`,
    });
  }
  if (typeof value === 'string') checkString(schema, value, at, causes);
  else if (typeof value === 'number') checkNumber(schema, value, at, causes);
  else if (Array.isArray(value)) checkArray(schema, value, field, causes);
  else if (isObject(value)) checkObject(schema, value, field, causes);
  checkJunctors(schema, value, field, causes);
}

function checkType(schema: JSONSchemaProps, value: unknown, at: string, causes: StatusCause[]): boolean {
  const actual = jsonType(value);
  let want = schema.type;
  let ok: boolean;
  if (schema['x-kubernetes-int-or-string']) {
    ok = actual === 'integer' || actual === 'string';
    want = 'integer,string';
  } else if (!want) ok = true;
  else if (want === 'number') ok = actual === 'number' || actual === 'integer';
  else ok = actual === want;
  if (!ok) causes.push(invalid(at, actual, `${at} in body must be of type ${want}: ${JSON.stringify(actual)}`));
  return ok;
}

const FORMATS: Record<string, (s: string) => boolean> = {
  byte: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)),
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)),
  datetime: (s) => FORMATS['date-time'](s),
  duration: (s) => /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(s) || s === '0',
  email: (s) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s),
  hostname: (s) => s.length <= 253 && s.split('.').every((l) => /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/.test(l)),
  ipv4: (s) => isIP(s) === 4,
  ipv6: (s) => isIP(s) === 6,
  cidr: (s) => {
    const [ip, bits, ...rest] = s.split('/');
    const family = isIP(ip ?? '');
    return rest.length === 0 && family !== 0 && /^\d+$/.test(bits ?? '') && Number(bits) <= (family === 4 ? 32 : 128);
  },
  mac: (s) => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s),
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  uri: (s) => {
    try {
      return new URL(s).protocol.length > 1;
    } catch {
      return false;
    }
  },
};

const patterns = new Map<string, RegExp>();

/** A schema's pattern as a JavaScript RegExp (unanchored, as in JSON Schema), or an error. */
export function compilePattern(pattern: string): RegExp | Error {
  let re = patterns.get(pattern);
  if (!re) {
    try {
      re = new RegExp(pattern, 'u');
    } catch (err) {
      return err as Error;
    }
    patterns.set(pattern, re);
  }
  return re;
}

function checkString(schema: JSONSchemaProps, value: string, at: string, causes: StatusCause[]): void {
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    causes.push({ type: 'FieldValueTooLong', field: at, message: `Too long: may not be more than ${schema.maxLength} bytes` });
  }
  if (schema.minLength !== undefined && length < schema.minLength) {
    causes.push(invalid(at, value, `${at} in body should be at least ${schema.minLength} chars long`));
  }
  if (schema.pattern !== undefined) {
    const re = compilePattern(schema.pattern);
    if (re instanceof RegExp && !re.test(value)) causes.push(invalid(at, value, `${at} in body should match '${schema.pattern}'`));
  }
  const format = schema.format && FORMATS[schema.format];
  if (format && !format(value)) causes.push(invalid(at, value, `${at} in body must be of type ${schema.format}: ${JSON.stringify(value)}`));
}

const NUMBER_FORMATS: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function checkNumber(schema: JSONSchemaProps, value: number, at: string, causes: StatusCause[]): void {
  const { minimum, maximum, multipleOf } = schema;
  if (maximum !== undefined && (schema.exclusiveMaximum ? value >= maximum : value > maximum)) {
    causes.push(invalid(at, value, `${at} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${maximum}`));
  }
  if (minimum !== undefined && (schema.exclusiveMinimum ? value <= minimum : value < minimum)) {
    causes.push(invalid(at, value, `${at} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${minimum}`));
  }
  if (multipleOf !== undefined && multipleOf > 0 && Math.abs(value / multipleOf - Math.round(value / multipleOf)) > 1e-9) {
    causes.push(invalid(at, value, `${at} in body should be a multiple of ${multipleOf}`));
  }
  const range = schema.format ? NUMBER_FORMATS[schema.format] : undefined;
  if (range && (value < range[0] || value > range[1])) causes.push(invalid(at, value, `${at} in body must be of type ${schema.format}: ${value}`));
}

function checkArray(schema: JSONSchemaProps, value: unknown[], field: string, causes: StatusCause[]): void {
  const at = field || '<root>';
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    causes.push({ type: 'FieldValueTooMany', field: at, message: `Too many: ${value.length}: must have at most ${schema.maxItems} items` });
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    causes.push(invalid(at, value.length, `${at} in body should have at least ${schema.minItems} items`));
  }
  const listType = schema['x-kubernetes-list-type'];
  if (schema.uniqueItems || listType === 'set') {
    value.forEach((item, i) => {
      if (value.findIndex((other) => deepEqual(other, item)) < i)
        causes.push({ type: 'FieldValueDuplicate', field: index(at, i), message: `Duplicate value: ${render(item)}` });
    });
  }
  if (listType === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'] ?? [];
    const seen = new Set<string>();
    value.forEach((item, i) => {
      if (!isObject(item)) return;
      const key = JSON.stringify(Object.fromEntries(keys.map((k) => [k, item[k]])));
      if (seen.has(key)) causes.push({ type: 'FieldValueDuplicate', field: index(at, i), message: `Duplicate value: ${key}` });
      seen.add(key);
    });
  }
  if (schema.items)
    value.forEach((item, i) => {
      validateValue(schema.items!, item, index(at, i), causes);
    });
}

function checkObject(schema: JSONSchemaProps, value: Obj, field: string, causes: StatusCause[]): void {
  const at = field || '<root>';
  const count = Object.keys(value).length;
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    causes.push({ type: 'FieldValueTooMany', field: at, message: `Too many: ${count}: must have at most ${schema.maxProperties} items` });
  }
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    causes.push(invalid(at, count, `${at} in body should have at least ${schema.minProperties} properties`));
  }
  for (const key of schema.required ?? []) {
    if (value[key] === undefined) causes.push({ type: 'FieldValueRequired', field: child(field, key), message: 'Required value' });
  }
  if (schema['x-kubernetes-embedded-resource']) {
    for (const key of ['apiVersion', 'kind'])
      if (typeof value[key] !== 'string' || value[key] === '')
        causes.push({ type: 'FieldValueRequired', field: child(field, key), message: 'Required value: must not be empty' });
  }
  const additional = schema.additionalProperties;
  for (const [key, item] of Object.entries(value)) {
    if (field === '' && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    const known = schema.properties?.[key];
    if (known) validateValue(known, item, child(field, key), causes);
    else if (isObject(additional)) validateValue(additional, item, index(at, key), causes);
  }
}

function checkJunctors(schema: JSONSchemaProps, value: unknown, field: string, causes: StatusCause[]): void {
  const at = field || '<root>';
  const fails = (s: JSONSchemaProps) => {
    const found: StatusCause[] = [];
    validateValue(s, value, field, found);
    return found;
  };
  for (const s of schema.allOf ?? []) causes.push(...fails(s));
  if (schema.anyOf && !schema.anyOf.some((s) => fails(s).length === 0)) {
    causes.push(invalid(at, '', `"${at}" must validate at least one schema (anyOf)`));
  }
  if (schema.oneOf) {
    const passing = schema.oneOf.filter((s) => fails(s).length === 0).length;
    if (passing !== 1)
      causes.push(invalid(at, '', `"${at}" must validate one and only one schema (oneOf)${passing ? `. Found ${passing} valid alternatives` : ''}`));
  }
  if (schema.not && fails(schema.not).length === 0) causes.push(invalid(at, '', `"${at}" must not validate the schema (not)`));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const [ka, kb] = [Object.keys(a as Obj), Object.keys(b as Obj)];
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Obj)[k], (b as Obj)[k]));
}

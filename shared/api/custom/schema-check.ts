/**
 * Whether a CRD's `openAPIV3Schema` is structural, as kube-apiserver requires of every
 * apiextensions.k8s.io/v1 CRD: a type at every node (but where x-kubernetes-int-or-string or
 * x-kubernetes-preserve-unknown-fields says any value goes), an object at the root, properties
 * or additionalProperties (not both), items for arrays, metadata limited to name and
 * generateName, patterns that compile, and defaults that fit. Validation rules
 * (x-kubernetes-validations, CEL) are compiled in the CRD's admission (`cel.ts`).
 */
import type { StatusCause } from '../status.js';
import { forbiddenField, invalidValue, isObj, notSupported, required, type Obj } from '../validation.js';
import type { UnknownField } from '../kinds/kind.js';
import { applySchemaDefaults, compilePattern, type JSONSchemaProps, prune, validateValue } from './structural.js';

const TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string'];
/** JSON Schema keywords kube-apiserver does not take in a CRD's schema. */
const UNSUPPORTED = ['$ref', '$schema', 'id', 'definitions', 'dependencies', 'patternProperties', 'additionalItems'];
const KNOWN = new Set([
  'type',
  'format',
  'title',
  'description',
  'default',
  'nullable',
  'enum',
  'properties',
  'additionalProperties',
  'items',
  'required',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'example',
  'externalDocs',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
  ...UNSUPPORTED,
]);

type Place = 'root' | 'property' | 'items' | 'additional' | 'junctor';

/** Adds a cause for each way the schema at `field` is not a structural schema Skiff can apply. */
export function checkStructural(schema: unknown, field: string, causes: StatusCause[]): void {
  checkNode(schema, field, 'root', causes);
}

/** The schema's fields JSONSchemaProps has no place for, as dotted paths (a CRD's unknown fields). */
export function unknownSchemaFields(schema: unknown, field: string, found: UnknownField[], path: PropertyKey[]): void {
  if (!isObj(schema)) return;
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) found.push({ path, key, field: `${field}.${key}` });
  const props = schema.properties;
  if (isObj(props)) for (const [k, v] of Object.entries(props)) unknownSchemaFields(v, `${field}.properties.${k}`, found, [...path, 'properties', k]);
  for (const key of ['items', 'additionalProperties', 'not'])
    if (isObj(schema[key])) unknownSchemaFields(schema[key], `${field}.${key}`, found, [...path, key]);
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const list = schema[key];
    if (Array.isArray(list))
      list.forEach((s, i) => {
        unknownSchemaFields(s, `${field}.${key}[${i}]`, found, [...path, key, i]);
      });
  }
}

function checkNode(node: unknown, field: string, place: Place, causes: StatusCause[]): void {
  if (!isObj(node)) {
    causes.push(invalidValue(field, node, 'must be an object (a JSON schema)'));
    return;
  }
  const s = node as JSONSchemaProps & Obj;
  for (const key of UNSUPPORTED) if (key in s) causes.push(forbiddenField(`${field}.${key}`, `${key} is not supported`));
  // The rules themselves are compiled in the CRD's admission (`cel.ts`: the evaluator loads on first use).
  if (s['x-kubernetes-validations'] !== undefined && !Array.isArray(s['x-kubernetes-validations'])) {
    causes.push(invalidValue(`${field}.x-kubernetes-validations`, s['x-kubernetes-validations'], 'must be a list of rules'));
  }
  checkType(s, field, place, causes);
  if (s.properties !== undefined && s.additionalProperties !== undefined && s.additionalProperties !== true) {
    causes.push(forbiddenField(`${field}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
  }
  if (s.additionalProperties === false) causes.push(forbiddenField(`${field}.additionalProperties`, 'must not be false'));
  if (s['x-kubernetes-preserve-unknown-fields'] === false) {
    causes.push(invalidValue(`${field}.x-kubernetes-preserve-unknown-fields`, false, 'must be true or undefined'));
  }
  if (s.type === 'array' && s.items === undefined && place !== 'junctor') causes.push(required(`${field}.items`, 'Required value: must be specified'));
  if (s.pattern !== undefined) {
    const re = typeof s.pattern === 'string' ? compilePattern(s.pattern) : new Error('must be a string');
    if (re instanceof Error) causes.push(invalidValue(`${field}.pattern`, s.pattern, `must be a valid regular expression: ${re.message}`));
  }
  checkListType(s, field, causes);
  if (place === 'root') checkRootMetadata(s, field, causes);
  if (isObj(s.properties)) for (const [key, sub] of Object.entries(s.properties)) checkNode(sub, `${field}.properties[${key}]`, 'property', causes);
  else if (s.properties !== undefined) causes.push(invalidValue(`${field}.properties`, s.properties, 'must be an object'));
  if (isObj(s.additionalProperties)) checkNode(s.additionalProperties, `${field}.additionalProperties`, 'additional', causes);
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) causes.push(forbiddenField(`${field}.items`, 'items must be a schema object and not an array'));
    else checkNode(s.items, `${field}.items`, place === 'junctor' ? 'junctor' : 'items', causes);
  }
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const)
    s[key]?.forEach((sub, i) => {
      checkNode(sub, `${field}.${key}[${i}]`, 'junctor', causes);
    });
  if (s.not !== undefined) checkNode(s.not, `${field}.not`, 'junctor', causes);
  if (s.default !== undefined) checkDefault(s, field, place, causes);
}

function checkType(s: JSONSchemaProps & Obj, field: string, place: Place, causes: StatusCause[]): void {
  const anyValue = s['x-kubernetes-int-or-string'] === true || s['x-kubernetes-preserve-unknown-fields'] === true;
  if (s.type !== undefined && s.type !== '' && !TYPES.includes(s.type)) {
    causes.push(notSupported(`${field}.type`, s.type, TYPES));
    return;
  }
  if (s['x-kubernetes-embedded-resource'] === true && s.type !== 'object') {
    causes.push(invalidValue(`${field}.type`, s.type ?? '', 'must be object if x-kubernetes-embedded-resource is true'));
  }
  if (s['x-kubernetes-int-or-string'] === true && s.type) {
    causes.push(forbiddenField(`${field}.type`, 'must be empty if x-kubernetes-int-or-string is true'));
  }
  if (place === 'root') {
    if (s.type !== 'object') causes.push(invalidValue(`${field}.type`, s.type ?? '', 'must be object at the root'));
    return;
  }
  if (place === 'junctor' || anyValue || s.type) return;
  const where = place === 'items' ? 'array items' : place === 'additional' ? 'additionalProperties' : 'object fields';
  causes.push(required(`${field}.type`, `Required value: must not be empty for specified ${where}`));
}

function checkListType(s: JSONSchemaProps, field: string, causes: StatusCause[]): void {
  const listType = s['x-kubernetes-list-type'];
  if (listType === undefined) return;
  if (!['atomic', 'set', 'map'].includes(listType)) causes.push(notSupported(`${field}.x-kubernetes-list-type`, listType, ['atomic', 'map', 'set']));
  if (s.type !== 'array') causes.push(invalidValue(`${field}.type`, s.type ?? '', 'must be array if x-kubernetes-list-type is specified'));
  const keys = s['x-kubernetes-list-map-keys'];
  if (listType === 'map') {
    if (!Array.isArray(keys) || keys.length === 0)
      causes.push(required(`${field}.x-kubernetes-list-map-keys`, 'Required value: must not be empty if x-kubernetes-list-type is map'));
    else if (s.items?.type !== 'object')
      causes.push(invalidValue(`${field}.items.type`, s.items?.type ?? '', 'must be object when x-kubernetes-list-type is map'));
    else
      for (const k of keys)
        if (!s.items.properties?.[k])
          causes.push(invalidValue(`${field}.x-kubernetes-list-map-keys`, keys, `entries must all be names of item properties: ${k}`));
  } else if (keys !== undefined) {
    causes.push(forbiddenField(`${field}.x-kubernetes-list-map-keys`, 'must not be set if x-kubernetes-list-type is not map'));
  }
}

/** At the root, metadata may name only name and generateName, as strings. */
function checkRootMetadata(s: JSONSchemaProps, field: string, causes: StatusCause[]): void {
  const meta = s.properties?.metadata;
  if (!isObj(meta)) return;
  const { type, properties, ...rest } = meta as JSONSchemaProps & Obj;
  const extra = Object.keys(rest).filter((k) => k !== 'description');
  const props = Object.entries(properties ?? {});
  const allowed = props.every(([k, v]) => (k === 'name' || k === 'generateName') && isObj(v) && (v.type === 'string' || v.type === undefined));
  if ((type !== undefined && type !== 'object') || extra.length || !allowed) {
    causes.push(
      forbiddenField(`${field}.properties[metadata]`, 'must not specify anything other than name and generateName, but metadata is implicitly specified'),
    );
  }
}

function checkDefault(s: JSONSchemaProps, field: string, place: Place, causes: StatusCause[]): void {
  if (place === 'root' || place === 'junctor') {
    causes.push(forbiddenField(`${field}.default`, place === 'root' ? 'must not be set at the root' : 'must not be set inside allOf, anyOf, oneOf or not'));
    return;
  }
  const value = structuredClone(s.default);
  if (prune(s, value).length) causes.push(invalidValue(`${field}.default`, s.default, 'must not have unknown fields (they would be pruned)'));
  applySchemaDefaults(s, value);
  const found: StatusCause[] = [];
  validateValue(s, value, `${field}.default`, found);
  for (const cause of found) causes.push(cause);
}

/**
 * apiextensions.k8s.io/v1 CustomResourceDefinition: a kind the cluster's users add. Its checks
 * are kube-apiserver's (names, scope, exactly one storage version, structural schemas, printer
 * columns, the scale subresource's paths); the names are accepted and the CRD Established by
 * the CRD controller (shared/controllers/crd.ts), and the API serves the kind from then on
 * (`shared/api/custom/`). Deleting a CRD deletes its objects first (the cleanup finalizer).
 */
import { z } from 'zod';
import type { KubeObject } from '../../store/object.js';
import { ageColumn, nameColumn } from '../columns.js';
import { JsonPathError, parseJsonPath } from '../custom/jsonpath.js';
import { checkStructural, unknownSchemaFields } from '../custom/schema-check.js';
import { nameError } from '../names.js';
import { Condition, loose, objectOf } from '../schemas/common.js';
import type { StatusCause } from '../status.js';
import { asArray, asObj, forbiddenField, invalidValue, isObj, notSupported, required } from '../validation.js';
import { hasRules, ruleErrors } from '../custom/cel.js';
import type { JSONSchemaProps } from '../custom/structural.js';
import { invalid } from '../status.js';
import { resource, type Kind, type UnknownField } from './kind.js';

export const CRDS = resource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', {
  namespaced: false,
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  subresources: ['status'],
});

/** Held while the CRD's objects are deleted. */
export const CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';
const APPROVAL = 'api-approved.kubernetes.io';
const COLUMN_TYPES = ['integer', 'number', 'string', 'boolean', 'date'];
const COLUMN_FORMATS = ['int32', 'int64', 'float', 'double', 'byte', 'date', 'date-time', 'password'];
/** Groups the server serves itself: no CRD may add kinds to them. */
const BUILT_IN_GROUPS = ['apps', 'batch', 'autoscaling', 'policy', 'extensions', 'metrics.k8s.io', 'skiff.io', 'skiff.dev'];

const Names = z.strictObject({
  plural: z.string(),
  singular: z.string().optional(),
  shortNames: z.array(z.string()).optional(),
  kind: z.string(),
  listKind: z.string().optional(),
  categories: z.array(z.string()).optional(),
});

const Version = z.strictObject({
  name: z.string(),
  served: z.boolean(),
  storage: z.boolean(),
  deprecated: z.boolean().optional(),
  deprecationWarning: z.string().optional(),
  // The schema itself is checked by checkStructural (its unknown fields by unknownSchemaFields).
  schema: z.strictObject({ openAPIV3Schema: loose.optional() }).optional(),
  subresources: z
    .strictObject({
      status: z.strictObject({}).optional(),
      scale: z.strictObject({ specReplicasPath: z.string(), statusReplicasPath: z.string(), labelSelectorPath: z.string().optional() }).optional(),
    })
    .optional(),
  additionalPrinterColumns: z
    .array(
      z.strictObject({
        name: z.string(),
        type: z.string(),
        format: z.string().optional(),
        description: z.string().optional(),
        priority: z.number().int().optional(),
        jsonPath: z.string(),
      }),
    )
    .optional(),
  selectableFields: z.array(z.strictObject({ jsonPath: z.string() })).optional(),
});

export const CustomResourceDefinition = objectOf('apiextensions.k8s.io/v1', 'CustomResourceDefinition', {
  spec: z.strictObject({
    group: z.string(),
    names: Names,
    scope: z.string(),
    versions: z.array(Version),
    conversion: z.strictObject({ strategy: z.string(), webhook: loose.optional() }).optional(),
    preserveUnknownFields: z.boolean().optional(),
  }),
  status: z
    .strictObject({
      conditions: z.array(Condition).optional(),
      acceptedNames: Names.partial().optional(),
      storedVersions: z.array(z.string()).optional(),
    })
    .optional(),
});
export type CustomResourceDefinition = z.infer<typeof CustomResourceDefinition>;
export type CrdVersion = z.infer<typeof Version>;

const spec = (o: KubeObject) => asObj(o.spec) as Partial<CustomResourceDefinition['spec']>;

/** The CRD's condition of a type, if any. */
export function crdCondition(crd: KubeObject, type: string): { status?: string; reason?: string; message?: string } | undefined {
  return asArray(asObj(crd.status).conditions).find((c) => asObj(c).type === type) as { status?: string } | undefined;
}

export const customResourceDefinition: Kind = {
  info: CRDS,
  schema: CustomResourceDefinition,
  columns: [nameColumn, { name: 'Created At', type: 'date', cell: (o) => o.metadata.creationTimestamp }, { ...ageColumn, priority: 1 }],
  initialStatus: () => ({ conditions: [], acceptedNames: { plural: '', kind: '' }, storedVersions: [] }),
  deletion: { finalizers: [CLEANUP_FINALIZER] },
  unknownFields(o) {
    const found: UnknownField[] = [];
    asArray(spec(o).versions).forEach((v, i) => {
      const schema = asObj(asObj(v).schema).openAPIV3Schema;
      unknownSchemaFields(schema, `spec.versions[${i}].schema.openAPIV3Schema`, found, ['spec', 'versions', i, 'schema', 'openAPIV3Schema']);
    });
    return found;
  },
  defaults(o) {
    const s = spec(o);
    const names = asObj(s.names);
    if (typeof names.kind === 'string') {
      names.singular ??= names.kind.toLowerCase();
      names.listKind ??= `${names.kind}List`;
    }
    s.conversion ??= { strategy: 'None' };
    for (const v of asArray(s.versions)) {
      for (const column of asArray(asObj(v).additionalPrinterColumns)) asObj(column).priority ??= 0;
    }
  },
  validate(o, causes) {
    const s = spec(o);
    validateNames(o, causes);
    if (s.scope === undefined) causes.push(required('spec.scope'));
    else if (s.scope !== 'Namespaced' && s.scope !== 'Cluster') causes.push(notSupported('spec.scope', s.scope, ['Cluster', 'Namespaced']));
    validateVersions(s.versions ?? [], causes);
    const strategy = s.conversion?.strategy;
    if (strategy === 'Webhook') causes.push(forbiddenField('spec.conversion.strategy', 'Webhook conversion is not supported by this server; use None'));
    else if (strategy !== 'None') causes.push(notSupported('spec.conversion.strategy', strategy, ['None', 'Webhook']));
    if (s.preserveUnknownFields) {
      causes.push(
        invalidValue(
          'spec.preserveUnknownFields',
          true,
          'cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead',
        ),
      );
    }
  },
  // Validation rules are compiled here, where waiting is allowed: the CEL evaluator loads on first use.
  async admit(o) {
    await refuseBadRules(o);
  },
  async admitUpdate(o) {
    await refuseBadRules(o);
  },
  validateUpdate(o, old, causes) {
    if (spec(old).scope && spec(o).scope !== spec(old).scope) causes.push(invalidValue('spec.scope', spec(o).scope, 'field is immutable'));
    if (spec(old).group !== spec(o).group) causes.push(invalidValue('spec.group', spec(o).group, 'field is immutable'));
    const names = new Set(asArray(spec(o).versions).map((v) => asObj(v).name));
    asArray(asObj(o.status).storedVersions).forEach((stored, i) => {
      if (!names.has(stored)) causes.push(invalidValue(`status.storedVersions[${i}]`, stored, 'must appear in spec.versions'));
    });
  },
};

/** A CRD whose rules do not compile (or call what this server lacks) is refused, naming the rule. */
async function refuseBadRules(o: KubeObject): Promise<void> {
  const causes: StatusCause[] = [];
  for (const [i, v] of asArray(spec(o).versions).entries()) {
    const schema = asObj(asObj(v).schema).openAPIV3Schema;
    if (isObj(schema) && hasRules(schema as JSONSchemaProps))
      causes.push(...(await ruleErrors(schema as JSONSchemaProps, `spec.versions[${i}].schema.openAPIV3Schema`)));
  }
  if (causes.length) throw invalid(CRDS, o.metadata.name ?? '', causes);
}

function validateNames(o: KubeObject, causes: StatusCause[]): void {
  const s = spec(o);
  const names = asObj(s.names);
  const group = s.group;
  if (!group) causes.push(required('spec.group'));
  else if (!group.includes('.')) causes.push(invalidValue('spec.group', group, 'should be a domain with at least one dot'));
  else if (BUILT_IN_GROUPS.includes(group)) causes.push(invalidValue('spec.group', group, 'is served by the API server itself'));
  else {
    const err = nameError(group, 'dns1123-subdomain');
    if (err) causes.push(invalidValue('spec.group', group, err));
    const protectedGroup = group.endsWith('.k8s.io') || group.endsWith('.kubernetes.io') || group === 'k8s.io' || group === 'kubernetes.io';
    if (protectedGroup && !o.metadata.annotations?.[APPROVAL]) {
      causes.push(
        required(
          `metadata.annotations[${APPROVAL}]`,
          `Required value: protected groups must have approval annotation "${APPROVAL}", see https://github.com/kubernetes/enhancements/pull/1111`,
        ),
      );
    }
  }
  const plural = names.plural as string | undefined;
  if (plural && group && o.metadata.name !== `${plural}.${group}`)
    causes.push(invalidValue('metadata.name', o.metadata.name, 'must be spec.names.plural+"."+spec.group'));
  const label = (field: string, value: unknown, need: boolean) => {
    if (value === undefined || value === '') {
      if (need) causes.push(required(field));
      return;
    }
    const err = nameError(String(value), 'dns1035-label');
    if (err) causes.push(invalidValue(field, value, err));
  };
  label('spec.names.plural', names.plural, true);
  label('spec.names.singular', names.singular, false);
  asArray(names.shortNames).forEach((n, i) => {
    label(`spec.names.shortNames[${i}]`, n, true);
  });
  asArray(names.categories).forEach((n, i) => {
    label(`spec.names.categories[${i}]`, n, true);
  });
  const kindLike = (field: string, value: unknown) => {
    if (!value) causes.push(required(field));
    else if (!/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(String(value)))
      causes.push(invalidValue(field, value, 'may have mixed case, but should otherwise match: ^[a-z]([-a-z0-9]*[a-z0-9])?$'));
  };
  kindLike('spec.names.kind', names.kind);
  kindLike('spec.names.listKind', names.listKind);
  if (names.kind && names.kind === names.listKind) causes.push(invalidValue('spec.names.listKind', names.listKind, 'kind and listKind may not be the same'));
}

function validateVersions(versions: unknown[], causes: StatusCause[]): void {
  if (versions.length === 0) {
    causes.push(invalidValue('spec.versions', versions, 'must have exactly one version marked as storage version'));
    return;
  }
  const storage = versions.filter((v) => asObj(v).storage === true).length;
  if (storage !== 1)
    causes.push(
      invalidValue(
        'spec.versions',
        versions.map((v) => asObj(v).name),
        'must have exactly one version marked as storage version',
      ),
    );
  if (!versions.some((v) => asObj(v).served === true))
    causes.push(
      invalidValue(
        'spec.versions',
        versions.map((v) => asObj(v).name),
        'must have at least one version served',
      ),
    );
  const seen = new Set<unknown>();
  versions.forEach((raw, i) => {
    const v = asObj(raw) as Partial<CrdVersion>;
    const field = `spec.versions[${i}]`;
    if (!v.name) causes.push(required(`${field}.name`));
    else {
      const err = nameError(v.name, 'dns1035-label');
      if (err) causes.push(invalidValue(`${field}.name`, v.name, err));
      if (seen.has(v.name)) causes.push({ type: 'FieldValueDuplicate', field: `${field}.name`, message: `Duplicate value: ${JSON.stringify(v.name)}` });
      seen.add(v.name);
    }
    const schema = v.schema?.openAPIV3Schema;
    if (schema === undefined) causes.push(required(`${field}.schema.openAPIV3Schema`, 'Required value: schemas are required'));
    else checkStructural(schema, `${field}.schema.openAPIV3Schema`, causes);
    validateScale(v, field, causes);
    validateColumns(v, field, causes);
    validateSelectableFields(v, field, causes);
  });
}

/** A JSON path of fields alone, as scale paths and selectable fields must be: `.spec.replicas`. */
const SIMPLE_PATH = /^(\.[a-zA-Z_][\w-]*)+$/;

function validateScale(v: Partial<CrdVersion>, field: string, causes: StatusCause[]): void {
  const scale = v.subresources?.scale;
  if (!scale) return;
  const at = `${field}.subresources.scale`;
  const under = (name: string, path: string | undefined, prefixes: string[]) => {
    if (path === undefined) return;
    if (!SIMPLE_PATH.test(path) || !prefixes.some((p) => path.startsWith(p))) {
      causes.push(invalidValue(`${at}.${name}`, path, `should be a json path under ${prefixes.join(' or ')}`));
    }
  };
  under('specReplicasPath', scale.specReplicasPath, ['.spec.']);
  under('statusReplicasPath', scale.statusReplicasPath, ['.status.']);
  under('labelSelectorPath', scale.labelSelectorPath, ['.spec.', '.status.']);
}

/** selectableFields: at most 8, unique, each a simple path to a string, integer or boolean field of the schema. */
function validateSelectableFields(v: Partial<CrdVersion>, field: string, causes: StatusCause[]): void {
  const fields = v.selectableFields ?? [];
  const at = `${field}.selectableFields`;
  if (fields.length > 8) causes.push({ type: 'FieldValueTooMany', field: at, message: `Too many: ${fields.length}: must have at most 8 items` });
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    const path = f.jsonPath;
    const where = `${at}[${i}].jsonPath`;
    if (!SIMPLE_PATH.test(path)) {
      causes.push(invalidValue(where, path, 'must be a simple json path starting with .'));
      return;
    }
    if (seen.has(path)) causes.push({ type: 'FieldValueDuplicate', field: where, message: `Duplicate value: ${JSON.stringify(path)}` });
    seen.add(path);
    let node = asObj(v.schema?.openAPIV3Schema);
    for (const part of path.slice(1).split('.')) node = asObj(asObj(node.properties)[part]);
    if (!['string', 'integer', 'boolean'].includes(String(node.type)) && node['x-kubernetes-int-or-string'] !== true)
      causes.push(invalidValue(where, path, 'must point to a field of type string, boolean or integer'));
  });
}

function validateColumns(v: Partial<CrdVersion>, field: string, causes: StatusCause[]): void {
  asArray(v.additionalPrinterColumns).forEach((raw, i) => {
    const column = asObj(raw);
    const at = `${field}.additionalPrinterColumns[${i}]`;
    if (!column.name) causes.push(required(`${at}.name`));
    if (!COLUMN_TYPES.includes(String(column.type))) causes.push(notSupported(`${at}.type`, column.type, COLUMN_TYPES));
    if (column.format !== undefined && column.format !== '' && !COLUMN_FORMATS.includes(String(column.format)))
      causes.push(notSupported(`${at}.format`, column.format, COLUMN_FORMATS));
    if (typeof column.priority === 'number' && column.priority < 0)
      causes.push(invalidValue(`${at}.priority`, column.priority, 'must be greater than or equal to 0'));
    if (!column.jsonPath) causes.push(required(`${at}.jsonPath`));
    else {
      try {
        parseJsonPath(String(column.jsonPath));
      } catch (err) {
        if (!(err instanceof JsonPathError)) throw err;
        causes.push(invalidValue(`${at}.jsonPath`, column.jsonPath, `must be a simple json path: ${err.message}`));
      }
    }
  });
}

/**
 * The kinds a CustomResourceDefinition serves, one a served version, built as the generic
 * registry wants them (`kinds/kind.ts`): the version's structural schema prunes, defaults and
 * validates; its printer columns make `kubectl get`'s table; status and scale are its
 * subresources; objects are stored in the storage version (conversion `None`: only apiVersion
 * differs between versions).
 */
import type { KubeObject } from '../../store/object.js';
import { age, nameColumn, type Column } from '../columns.js';
import { compareVersions, groupVersion } from '../resources.js';
import { type CrdVersion, type CustomResourceDefinition, crdCondition } from '../kinds/crd.js';
import { resource, type Kind } from '../kinds/kind.js';
import { brokenRules, hasRules } from './cel.js';
import { invalid, methodNotAllowed } from '../status.js';
import { evaluate, parseJsonPath } from './jsonpath.js';
import { applySchemaDefaults, prune, validateValue, type JSONSchemaProps } from './structural.js';

type Crd = KubeObject & Pick<CustomResourceDefinition, 'spec'>;

/**
 * The kinds an Established CRD serves (none before): one for each served version. A CRD being
 * deleted still serves them, for reads and deletes (its objects are going), not creates.
 */
export function kindsOf(object: KubeObject): Kind[] {
  const crd = object as Crd;
  if (crdCondition(crd, 'Established')?.status !== 'True') return [];
  const { spec } = crd;
  const storage = spec.versions.find((v) => v.storage)?.name;
  const served = spec.versions.filter((v) => v.served);
  const preferred = served
    .filter((v) => !v.deprecated)
    .map((v) => v.name)
    .sort(compareVersions)[0];
  const terminating = crd.metadata.deletionTimestamp !== undefined;
  return served.map((v) => versionKind(spec, v, storage ?? v.name, preferred, terminating));
}

/** The kind of the CRD's storage version, Established or not: what its objects are stored as. */
export function storageKindOf(object: KubeObject): Kind | undefined {
  const { spec } = object as Crd;
  const storage = spec.versions.find((v) => v.storage);
  return storage && versionKind(spec, storage, storage.name, undefined);
}

function versionKind(spec: Crd['spec'], v: CrdVersion, storageVersion: string, preferred: string | undefined, terminating = false): Kind {
  const schema = (v.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }) as JSONSchemaProps;
  const subresources = [...(v.subresources?.status ? ['status'] : []), ...(v.subresources?.scale ? ['scale'] : [])];
  const info = resource(spec.group, v.name, spec.names.plural, spec.names.kind, {
    namespaced: spec.scope === 'Namespaced',
    singular: spec.names.singular,
    shortNames: spec.names.shortNames,
    categories: spec.names.categories,
    subresources,
    // selectableFields: field selectors on the custom resource's own fields (`spec.color=red`).
    fieldSelectors: (v.selectableFields ?? []).map((f) => f.jsonPath.replace(/^\./, '')),
  });
  const gvk = `${groupVersion(info)} ${info.kind}`;
  const rules = hasRules(schema);
  const deprecationWarning = v.deprecated
    ? (v.deprecationWarning ?? `${gvk} is deprecated${preferred && preferred !== v.name ? `; use ${spec.group}/${preferred} ${info.kind}` : ''}`)
    : undefined;
  return {
    info,
    columns: columnsOf(v),
    // With the status subresource, a new object's status is the system's to write: what a create sends is dropped.
    initialStatus: () => undefined,
    unknownFields: (o) => prune(schema, o),
    defaults: (o) => applySchemaDefaults(schema, o),
    validate: (o, causes) => validateValue(schema, o, '', causes),
    // Validation rules run on what the schema let through, as kube-apiserver runs them after it.
    async admit(o) {
      if (terminating) throw methodNotAllowed('create not allowed while custom resource definition is terminating');
      const broken = rules ? await brokenRules(schema, o, undefined) : [];
      if (broken.length) throw invalid(info, o.metadata.name ?? o.metadata.generateName ?? '', broken);
    },
    async admitUpdate(o, old) {
      const broken = rules ? await brokenRules(schema, o, old) : [];
      if (broken.length) throw invalid(info, o.metadata.name ?? '', broken);
    },
    openApi: schema as Record<string, unknown>,
    storageVersion,
    scale: v.subresources?.scale,
    deprecationWarning,
  };
}

/** Name, then the version's printer columns; Age where it names none, as kube-apiserver prints. */
function columnsOf(v: CrdVersion): Column[] {
  const printer = v.additionalPrinterColumns;
  if (!printer?.length)
    return [nameColumn, { name: 'Age', type: 'date', description: 'CreationTimestamp', cell: (o, now) => age(o.metadata.creationTimestamp, now) }];
  return [
    nameColumn,
    ...printer.map((c): Column => {
      const steps = parseJsonPath(c.jsonPath);
      return {
        name: c.name,
        type: c.type as Column['type'],
        format: c.format,
        priority: c.priority,
        description: c.description,
        cell: (o, now) => {
          const found = evaluate(steps, o);
          if (found.length === 0 || found[0] === undefined || found[0] === null) return null;
          if (c.type === 'date') return typeof found[0] === 'string' ? age(found[0], now) : null;
          if (found.length === 1) return typeof found[0] === 'object' ? JSON.stringify(found[0]) : found[0];
          return found.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(' ');
        },
      };
    }),
  ];
}

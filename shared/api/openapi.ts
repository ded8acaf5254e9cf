/**
 * The OpenAPI v3 answer: a root naming one document per group-version (with a content hash
 * kubectl caches by), and per group-version the resources' paths and the schemas of their
 * kinds, named and shaped as Kubernetes' own (`io.k8s.api.core.v1.Pod`, ...), with every
 * field, its type and its upstream description (`./openapi/models.ts`), and the list and patch
 * extensions (`./openapi/extensions.ts`).
 *
 * What kubectl does with it: `explain` walks the schemas; client-side `apply` and `diff` build
 * strategic merge patches from them (a field missing here is the `unable to find api field`
 * warning); every PATCH carries `x-kubernetes-group-version-kind` and a `fieldValidation`
 * parameter, so kubectl sends `fieldValidation=Strict` and leaves unknown-field checks to the
 * server, which does them with the zod schemas.
 *
 * Each document is built once, on first ask, and kept with its hash.
 */
import { createHash } from 'node:crypto';
import { definitionsFrom, kindDefinitionName, kindFile, objectMetaFile, REF_PREFIX, type Schema } from './openapi/models.js';
import { BUILT_IN, groupVersion, kindOf, type ResourceInfo, type ServedResources } from './resources.js';

function docPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/** Kubernetes' package for a group-version: `io.k8s.api.core.v1`, `io.k8s.api.coordination.v1`. */
function apiPackage(group: string, version: string): string {
  return `io.k8s.api.${group ? group.split('.')[0] : 'core'}.${version}`;
}

/**
 * Where the package has no declaration of a kind (Skiff's own): its metadata is Kubernetes'
 * ObjectMeta, the rest any fields (the server checks them).
 */
function opaqueKind(info: ResourceInfo, objectMeta: string | undefined): Schema {
  const gvk = { group: info.group, version: info.version, kind: info.kind };
  const metadata = objectMeta
    ? {
        allOf: [{ $ref: REF_PREFIX + objectMeta }],
        description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
      }
    : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    type: 'object',
    description: `${info.kind} (served by Skiff; fields are validated by the server)`,
    'x-kubernetes-group-version-kind': [gvk],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata,
      spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
    'x-kubernetes-preserve-unknown-fields': true,
  };
}

const queryParam = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });

/**
 * A custom resource's kind and list as kube-apiserver publishes them (`com.example.stable.v1.CronTab`):
 * the CRD's schema of the version, with Kubernetes' ObjectMeta for metadata.
 */
function customSchemas(info: ResourceInfo, schema: Schema, objectMeta: string | undefined): { kind: string; list: string; schemas: Record<string, Schema> } {
  const name = `${info.group.split('.').reverse().join('.')}.${info.version}.${info.kind}`;
  const gvk = [{ group: info.group, version: info.version, kind: info.kind }];
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const metadata = objectMeta ? { allOf: [{ $ref: REF_PREFIX + objectMeta }], description: "Standard object's metadata." } : { type: 'object' };
  const kind: Schema = {
    ...schema,
    type: 'object',
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      ...props,
      metadata,
    },
    'x-kubernetes-group-version-kind': gvk,
  };
  const list: Schema = {
    type: 'object',
    required: ['items'],
    description: `${info.kind}List is a list of ${info.kind}`,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      items: { type: 'array', items: { $ref: REF_PREFIX + name } },
      metadata: { type: 'object' },
    },
    'x-kubernetes-group-version-kind': [{ ...gvk[0], kind: `${info.kind}List` }],
  };
  return { kind: name, list: `${name}List`, schemas: { [name]: kind, [`${name}List`]: list } };
}

function buildDocument(served: ServedResources, group: string, version: string) {
  const infos = served.of(group, version);
  if (infos.length === 0) return undefined;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const paths: Record<string, unknown> = {};

  // The kinds (and their lists) as the package declares them, and all they refer to. A kind
  // the package lacks, or cannot be read, is served as an object of any fields.
  let schemas: Record<string, Schema> = {};
  const names = new Map<ResourceInfo, { kind: string; list: string }>();
  for (const info of infos) {
    const custom = kindOf(info)?.openApi;
    if (custom) {
      const meta = objectMetaFile();
      if (meta) schemas = { ...schemas, ...definitionsFrom([meta]) };
      const published = customSchemas(info, custom, meta && kindDefinitionName(meta));
      schemas = { ...schemas, ...published.schemas };
      names.set(info, published);
      continue;
    }
    const kindDecl = kindFile(info.group, info.version, info.kind);
    const listDecl = kindFile(info.group, info.version, `${info.kind}List`);
    try {
      if (!kindDecl) throw new Error('no declaration in kubernetes-models');
      const kind = kindDefinitionName(kindDecl);
      schemas = { ...schemas, ...definitionsFrom(listDecl ? [kindDecl, listDecl] : [kindDecl]) };
      names.set(info, { kind, list: listDecl ? kindDefinitionName(listDecl) : kind });
    } catch (err) {
      if (kindDecl) console.warn(`[openapi] ${info.kind}: serving without field schemas: ${(err as Error).message}`);
      const kind = `${apiPackage(info.group, info.version)}.${info.kind}`;
      const meta = objectMetaFile();
      if (meta) schemas = { ...schemas, ...definitionsFrom([meta]) };
      schemas[kind] = opaqueKind(info, meta && kindDefinitionName(meta));
      names.set(info, { kind, list: kind });
    }
  }
  schemas = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));

  for (const info of infos) {
    const gvk = { group: info.group, version: info.version, kind: info.kind };
    const { kind, list } = names.get(info)!;
    const response = (name: string) => ({ '200': { description: 'OK', content: { 'application/json': { schema: { $ref: REF_PREFIX + name } } } } });
    const ref = { $ref: REF_PREFIX + kind };
    const operation = (verb: string, responses: unknown, extra: Record<string, unknown> = {}) => ({
      operationId: `${verb}${info.kind}`,
      'x-kubernetes-action': verb,
      'x-kubernetes-group-version-kind': gvk,
      responses,
      ...extra,
    });
    const writeParams = [
      queryParam('dryRun', 'When present, modifications are not persisted.'),
      queryParam('fieldManager', 'A name for the actor making these changes.'),
      queryParam('fieldValidation', 'Ignore, Warn or Strict: what to do with unknown or duplicate fields.'),
    ];
    const base = info.namespaced ? `${prefix}/namespaces/{namespace}/${info.resource}` : `${prefix}/${info.resource}`;
    paths[base] = {
      get: operation('list', response(list)),
      post: operation('post', response(kind), { parameters: writeParams, requestBody: { content: { '*/*': { schema: ref } } } }),
      delete: operation('deletecollection', response(list)),
    };
    paths[`${base}/{name}`] = {
      get: operation('get', response(kind)),
      put: operation('put', response(kind), { parameters: writeParams, requestBody: { content: { '*/*': { schema: ref } } } }),
      patch: operation('patch', response(kind), {
        parameters: [...writeParams, queryParam('force', 'Force is going to "force" Apply requests.')],
        // A custom resource takes no strategic merge patch: it has no patch strategies.
        requestBody: { content: Object.fromEntries(patchTypesOf(info).map((t) => [t, {}])) },
      }),
      delete: operation('delete', response(kind)),
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas },
    'x-skiff-group-version': groupVersion({ group, version }),
  };
}

function patchTypesOf(info: ResourceInfo): string[] {
  const types = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
  return kindOf(info)?.openApi ? types.filter((t) => !t.includes('strategic')) : types;
}

type Document = NonNullable<ReturnType<typeof buildDocument>>;

type Entry = { doc: Document; hash: string };

/**
 * Built documents and their hashes, by path (`api/v1`): the built-in group-versions' for good,
 * a cluster's custom ones while its served resources stay the same (a CRD's change makes new ones).
 */
const documents = new Map<string, Entry>();
const customDocuments = new WeakMap<ServedResources, Map<string, Entry>>();

function cached(served: ServedResources, group: string, version: string): Entry | undefined {
  const path = docPath(group, version);
  const custom = served.of(group, version).some((info) => kindOf(info)?.openApi);
  let cache = documents;
  if (custom) {
    cache = customDocuments.get(served) ?? new Map();
    customDocuments.set(served, cache);
  }
  let entry = cache.get(path);
  if (!entry) {
    const doc = buildDocument(served, group, version);
    if (!doc) return undefined;
    entry = { doc, hash: createHash('sha256').update(JSON.stringify(doc)).digest('hex').slice(0, 16).toUpperCase() };
    cache.set(path, entry);
  }
  return entry;
}

export function openApiV3Root(served: ServedResources = BUILT_IN) {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of served.groupVersions()) {
    const path = docPath(gv.group, gv.version);
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${cached(served, gv.group, gv.version)!.hash}` };
  }
  return { paths };
}

export function openApiV3Document(group: string, version: string, served: ServedResources = BUILT_IN) {
  return cached(served, group, version)?.doc;
}

/**
 * `/openapi/v2`: a document with no definitions. The schemas are served as OpenAPI v3, which
 * kubectl reads since 1.27; v2 is what it reads for what v3 has no answer for: a `kind: List`
 * file (kubectl never asks v3 whether a List takes `fieldValidation`, and looks its items up in
 * v2 to check them itself). Finding no definition there, it leaves the checks to the server, which
 * makes them on each item as on any object (`fieldValidation=Strict`); a 404 there instead failed
 * the command ("failed to download openapi"). kubectl asks for it as protobuf (gnostic's
 * `openapi_v2.Document`), written here by hand: field 1, `swagger`, a length-delimited string.
 */
export const OPENAPI_V2 = { swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths: {}, definitions: {} };
export const OPENAPI_V2_PROTOBUF = Buffer.from([0x0a, 0x03, ...Buffer.from('2.0')]);
export const OPENAPI_V2_PROTOBUF_TYPE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

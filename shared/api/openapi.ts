/**
 * The OpenAPI v3 answer kubectl needs to validate: a root naming one document per
 * group-version, and per group-version the resources' paths, each PATCH carrying
 * `x-kubernetes-group-version-kind` and a `fieldValidation` parameter. With those, kubectl
 * sends `fieldValidation=Strict` and leaves unknown-field checks to the server, which does them
 * with the zod schemas.
 */
import { createHash } from 'node:crypto';
import { groupVersion, resourcesOf, servedGroupVersions } from './resources.js';

function docPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

const hashes = new Map<string, string>();

export function openApiV3Root() {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of servedGroupVersions()) {
    const path = docPath(gv.group, gv.version);
    let hash = hashes.get(path);
    if (!hash) {
      hash = createHash('sha256').update(JSON.stringify(openApiV3Document(gv.group, gv.version))).digest('hex').slice(0, 16).toUpperCase();
      hashes.set(path, hash);
    }
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
  }
  return { paths };
}

const queryParam = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });

export function openApiV3Document(group: string, version: string) {
  const infos = resourcesOf(group, version);
  if (infos.length === 0) return undefined;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const info of infos) {
    const gvk = { group: info.group, version: info.version, kind: info.kind };
    const schemaName = `io.k8s.api.${info.group || 'core'}.${info.version}.${info.kind}`;
    schemas[schemaName] = {
      type: 'object',
      description: `${info.kind} (served by Skiff; fields are validated by the server)`,
      'x-kubernetes-group-version-kind': [gvk],
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
      'x-kubernetes-preserve-unknown-fields': true,
    };
    const ref = { $ref: `#/components/schemas/${schemaName}` };
    const ok = { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } };
    const operation = (verb: string, extra: Record<string, unknown> = {}) => ({
      operationId: `${verb}${info.kind}`,
      'x-kubernetes-action': verb,
      'x-kubernetes-group-version-kind': gvk,
      responses: ok,
      ...extra,
    });
    const writeParams = [
      queryParam('dryRun', 'When present, modifications are not persisted.'),
      queryParam('fieldManager', 'A name for the actor making these changes.'),
      queryParam('fieldValidation', 'Ignore, Warn or Strict: what to do with unknown or duplicate fields.'),
    ];
    const base = info.namespaced ? `${prefix}/namespaces/{namespace}/${info.resource}` : `${prefix}/${info.resource}`;
    paths[base] = {
      get: operation('list'),
      post: operation('post', { parameters: writeParams, requestBody: { content: { '*/*': { schema: ref } } } }),
      delete: operation('deletecollection'),
    };
    paths[`${base}/{name}`] = {
      get: operation('get'),
      put: operation('put', { parameters: writeParams, requestBody: { content: { '*/*': { schema: ref } } } }),
      patch: operation('patch', {
        parameters: [...writeParams, queryParam('force', 'Force is going to "force" Apply requests.')],
        requestBody: { content: { 'application/json-patch+json': {}, 'application/merge-patch+json': {}, 'application/strategic-merge-patch+json': {}, 'application/apply-patch+yaml': {} } },
      }),
      delete: operation('delete'),
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

/**
 * What a request asks, read as kube-apiserver reads it: query parameters (booleans, integers,
 * dryRun, fieldValidation), the media type of a patch, whether a Table is wanted, a whole
 * object's body, and DeleteOptions.
 */
import type { Context } from 'hono';
import type { DeleteRequest, FieldValidation, PatchType } from '../../shared/api/registry.js';
import { badRequest, unsupportedMediaType } from '../../shared/api/status.js';
import type { IncludeObject } from '../../shared/api/tables.js';
import type { UserInfo } from '../../shared/auth/authorizer.js';
import { decodeBody, hasBody, readBody } from './body.js';

const OBJECT_MEDIA_TYPES = new Set(['', 'application/json', 'application/yaml', 'text/yaml', 'application/vnd.kubernetes.protobuf']);

/**
 * A boolean query parameter as kube-apiserver reads one: false when absent, "0" or "false" (in
 * any case), true for anything else, even an empty value.
 */
export function boolParam(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value !== '0' && value.toLowerCase() !== 'false';
}

/** An integer query parameter; one that does not parse is a 400. */
export function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^-?\d+$/.test(value)) throw badRequest(`invalid value for ${name}: ${JSON.stringify(value)}: must be an integer`);
  return Number(value);
}

function fieldValidation(value: string | undefined): FieldValidation {
  if (value === undefined || value === '') return 'Warn';
  if (value === 'Strict' || value === 'Warn' || value === 'Ignore') return value;
  throw badRequest(`fieldValidation must be one of Ignore, Warn or Strict, got ${JSON.stringify(value)}`);
}

function dryRun(values: string[] | undefined): boolean {
  if (!values || values.length === 0) return false;
  for (const v of values) if (v !== 'All') throw badRequest(`Invalid dryRun value: ${JSON.stringify(v)}: supported values: "All"`);
  return true;
}

/** The patch type its media type names; another media type is a 415. */
export function patchType(contentType: string | undefined): PatchType {
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  switch (media) {
    case 'application/json-patch+json':
      return 'json';
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    case 'application/apply-patch+yaml':
      return 'apply';
    default:
      throw unsupportedMediaType(
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
  }
}

/** Whether the client asks for a `meta.k8s.io` Table (kubectl get). */
export function wantsTable(accept: string | undefined): boolean {
  return Boolean(accept?.split(',').some((part) => part.includes('as=Table')));
}

export function includeObject(c: Context): IncludeObject {
  const v = c.req.query('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

/** dryRun, fieldManager and fieldValidation of a write. */
export function writeOptions(c: Context) {
  return {
    dryRun: dryRun(c.req.queries('dryRun')),
    fieldManager: c.req.query('fieldManager') || undefined,
    fieldValidation: fieldValidation(c.req.query('fieldValidation')),
  };
}

/** A whole object (POST, PUT): JSON, YAML or protobuf; patch media types belong to PATCH. */
export async function objectBody(c: Context): Promise<unknown> {
  const contentType = c.req.header('content-type');
  const media = (contentType ?? 'application/json').split(';')[0].trim().toLowerCase();
  if (c.req.method !== 'PATCH' && !OBJECT_MEDIA_TYPES.has(media)) {
    throw unsupportedMediaType(
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${media})`,
    );
  }
  return decodeBody(await readBody(c.req.raw), contentType);
}

/** DeleteOptions from the query and the body (the query wins), checked. */
export async function deleteRequest(c: Context): Promise<DeleteRequest> {
  const raw = hasBody(c.req.raw) ? await readBody(c.req.raw) : new Uint8Array();
  const opts = raw.byteLength ? (decodeBody(raw, c.req.header('content-type')) as Record<string, unknown>) : {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw badRequest('the body of a delete must be DeleteOptions');
  const policy = (c.req.query('propagationPolicy') || opts.propagationPolicy) as string | undefined;
  if (policy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(policy)) {
    throw badRequest(`propagationPolicy must be one of Background, Foreground or Orphan, got ${JSON.stringify(policy)}`);
  }
  const grace = intParam(c.req.query('gracePeriodSeconds'), 'gracePeriodSeconds') ?? (opts.gracePeriodSeconds as number | undefined);
  const pre = (opts.preconditions ?? {}) as { uid?: string; resourceVersion?: string };
  const orphanQuery = c.req.query('orphanDependents');
  const orphan = orphanQuery !== undefined ? boolParam(orphanQuery) : opts.orphanDependents === true;
  return {
    propagationPolicy: (policy ?? (orphan ? 'Orphan' : undefined)) as DeleteRequest['propagationPolicy'],
    gracePeriodSeconds: grace,
    preconditions: pre,
    dryRun: dryRun(c.req.queries('dryRun') ?? (Array.isArray(opts.dryRun) ? (opts.dryRun as string[]) : undefined)),
  };
}

/** The user a request acts as (after impersonation); undefined when the app authenticates no one. */
export const userOf = (c: Context): UserInfo | undefined => c.get('user' as never) as UserInfo | undefined;

/**
 * Every error the API answers is a `metav1.Status`. `ApiError` carries the code, reason and
 * details; `toApiError` maps the store's errors and anything else once, here.
 */
import { isStoreError } from '../store/errors.js';
import type { ResourceInfo } from './resources.js';

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'InternalError'
  | 'Timeout'
  | 'ServiceUnavailable';

export interface StatusCause {
  type: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  /**
   * The Status in kube-apiserver's field order (kind, apiVersion, metadata, status, message,
   * reason, details, code; details: name, group, kind, uid, causes, retryAfterSeconds), empty
   * fields left out as Go's omitempty does: some clients compare bodies byte for byte.
   */
  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      details: orderedDetails(this.details),
      code: this.code,
    };
  }
}

function orderedDetails(details: StatusDetails | undefined): StatusDetails | undefined {
  if (!details) return undefined;
  const out: StatusDetails = {};
  if (details.name) out.name = details.name;
  if (details.group) out.group = details.group;
  if (details.kind) out.kind = details.kind;
  if (details.uid) out.uid = details.uid;
  // A cause's `type` is `reason` on the wire (Go's StatusCause.Type has the json name "reason").
  if (details.causes?.length)
    out.causes = details.causes.map((c) => ({ reason: c.type, message: c.message, ...(c.field ? { field: c.field } : {}) }) as unknown as StatusCause);
  if (details.retryAfterSeconds) out.retryAfterSeconds = details.retryAfterSeconds;
  return Object.keys(out).length ? out : undefined;
}

export function successStatus(details?: StatusDetails): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: orderedDetails(details), code: 200 };
}

const detailsOf = (info: ResourceInfo | undefined, name?: string): StatusDetails => ({
  name,
  group: info?.group ?? '',
  kind: info?.resource,
});

export const badRequest = (message: string, details?: StatusDetails) => new ApiError(400, 'BadRequest', message, details);
export const forbidden = (message: string, details?: StatusDetails) => new ApiError(403, 'Forbidden', message, details);
export const methodNotAllowed = (message: string) => new ApiError(405, 'MethodNotAllowed', message);
export const unsupportedMediaType = (message: string) => new ApiError(415, 'UnsupportedMediaType', message);

export function notFound(info: ResourceInfo, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${info.storeKey} "${name}" not found`, detailsOf(info, name));
}

export function namespaceNotFound(namespace: string): ApiError {
  return new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
}

export function alreadyExists(info: ResourceInfo, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${info.storeKey} "${name}" already exists`, detailsOf(info, name));
}

export function conflict(info: ResourceInfo, name: string, detail: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${info.storeKey} "${name}": ${detail}`, detailsOf(info, name));
}

/** 422 Invalid, worded as Kubernetes words it: `Pod "x" is invalid: [field: message, ...]`. */
export function invalid(info: ResourceInfo, name: string, causes: StatusCause[]): ApiError {
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${info.kind} "${name}" is invalid: ${summary}`, { name, group: info.group, kind: info.kind, causes });
}

export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

/** The one place other errors become HTTP answers; unexpected ones are 500 without a stack. */
export function toApiError(err: unknown, info?: ResourceInfo, name?: string): ApiError {
  if (err instanceof ApiError) return err;
  if (isStoreError(err)) {
    switch (err.code) {
      case 'NotFound':
        return info ? notFound(info, name ?? '') : new ApiError(404, 'NotFound', err.message);
      case 'AlreadyExists':
        return info ? alreadyExists(info, name ?? '') : new ApiError(409, 'AlreadyExists', err.message);
      case 'Conflict':
        return new ApiError(409, 'Conflict', err.message, detailsOf(info, name));
      case 'Gone':
        return expired(err.message);
      case 'TooLarge':
        return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: ${err.message}`);
      case 'Invalid':
        return badRequest(err.message);
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`);
}

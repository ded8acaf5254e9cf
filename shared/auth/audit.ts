/**
 * The audit log: one JSON line per request, in kube-apiserver's `audit.k8s.io/v1` Event shape
 * so the tools that read Kubernetes audit logs read this one: who (and as whom), what verb on
 * which object, the authorizer's decision and why, the response code, when, and how long it
 * took. Each request is logged at the level the audit policy gives it (`audit-policy.ts`):
 * Metadata for every request without a policy file; with one, request and response bodies where
 * it asks for them, but never for Secrets or tokens. Health checks are not logged.
 */
import { randomUUID } from 'node:crypto';
import { type WriteStream, createWriteStream } from 'node:fs';
import { type AuditLevel, type AuditPolicy, METADATA_POLICY, auditLevel } from './audit-policy.js';
import type { Attributes, UserInfo } from './authorizer.js';

export interface AuditRecord {
  method: string;
  uri: string;
  user?: UserInfo;
  /** The user it acted as, when it impersonated one. */
  actingAs?: UserInfo;
  attributes?: Attributes;
  decision?: { allowed: boolean; reason: string };
  code: number;
  sourceIP?: string;
  userAgent?: string;
  receivedAt: number;
  endedAt: number;
  /** What admission noted (Pod Security's audit mode). */
  annotations?: Record<string, string>;
  /** The level the policy gave it (default Metadata), and the bodies that level keeps. */
  level?: AuditLevel;
  requestObject?: unknown;
  responseBody?: string;
}

export interface AuditSink {
  /** The level a request is logged at (None: not at all). */
  level(user: UserInfo | undefined, attributes: Attributes | undefined, path: string): AuditLevel;
  /** True when some request may be logged with a body: the request's is then kept for it. */
  readonly wantsBodies: boolean;
  write(record: AuditRecord): void;
  close(): Promise<void>;
}

const parsed = (text: string | undefined) => {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

const timestamp = (ms: number) => new Date(ms).toISOString().replace(/(\.\d{3})Z$/, '$1000Z');
const userOf = (u: UserInfo) => ({ username: u.name, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups, ...(u.extra ? { extra: u.extra } : {}) });

/** A record as kube-apiserver writes an audit Event. */
export function auditEvent(r: AuditRecord) {
  const a = r.attributes;
  const event: Record<string, unknown> = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: r.level ?? 'Metadata',
    auditID: randomUUID(),
    // A watch's answer goes on streaming after it is logged.
    stage: a?.verb === 'watch' ? 'ResponseStarted' : 'ResponseComplete',
    requestURI: r.uri,
    verb: a?.verb ?? r.method.toLowerCase(),
    user: r.user ? userOf(r.user) : { username: 'system:anonymous', groups: ['system:unauthenticated'] },
  };
  if (r.actingAs && r.user && r.actingAs !== r.user) event.impersonatedUser = userOf(r.actingAs);
  if (r.sourceIP) event.sourceIPs = [r.sourceIP];
  if (r.userAgent) event.userAgent = r.userAgent;
  if (a?.resource !== undefined) {
    const ref: Record<string, string> = { resource: a.resource };
    if (a.namespace) ref.namespace = a.namespace;
    if (a.name) ref.name = a.name;
    if (a.apiGroup) ref.apiGroup = a.apiGroup;
    if (a.apiVersion) ref.apiVersion = a.apiVersion;
    if (a.subresource) ref.subresource = a.subresource;
    event.objectRef = ref;
  }
  event.responseStatus = { metadata: {}, code: r.code };
  const request = r.requestObject;
  if (request !== undefined && (r.level === 'Request' || r.level === 'RequestResponse')) event.requestObject = request;
  const response = parsed(r.responseBody);
  if (response !== undefined && r.level === 'RequestResponse') event.responseObject = response;
  event.requestReceivedTimestamp = timestamp(r.receivedAt);
  event.stageTimestamp = timestamp(r.endedAt);
  const annotations: Record<string, string> = { ...r.annotations };
  if (r.decision) {
    annotations['authorization.k8s.io/decision'] = r.decision.allowed ? 'allow' : 'forbid';
    annotations['authorization.k8s.io/reason'] = r.decision.reason;
  }
  if (Object.keys(annotations).length) event.annotations = annotations;
  return event;
}

/** Appends events to a file (0600), one JSON line each. */
export class FileAuditSink implements AuditSink {
  private readonly stream: WriteStream;
  readonly wantsBodies: boolean;

  constructor(
    path: string,
    private readonly policy: AuditPolicy = METADATA_POLICY,
  ) {
    this.stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.wantsBodies = policy.rules.some((r) => r.level === 'Request' || r.level === 'RequestResponse');
  }

  level(user: UserInfo | undefined, attributes: Attributes | undefined, path: string): AuditLevel {
    return auditLevel(this.policy, user, attributes, path);
  }

  write(record: AuditRecord): void {
    this.stream.write(`${JSON.stringify(auditEvent(record))}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

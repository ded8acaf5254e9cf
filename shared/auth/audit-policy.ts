/**
 * The audit policy, kube-apiserver's `audit.k8s.io/v1` Policy: rules tried in order, the first
 * that matches a request gives its level (`None`, `Metadata`, `Request`: with the request body,
 * `RequestResponse`: with the response body too); a request no rule matches is not logged.
 * Without a policy file, everything is logged at Metadata.
 *
 * Whatever a policy says, Secrets, token requests and node credentials are never logged above
 * Metadata: their bodies are what must not reach a log.
 */
import type { Attributes, UserInfo } from './authorizer.js';

export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse';
export const LEVELS: AuditLevel[] = ['None', 'Metadata', 'Request', 'RequestResponse'];

export interface AuditPolicyRule {
  level: AuditLevel;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: { group?: string; resources?: string[]; resourceNames?: string[] }[];
  namespaces?: string[];
  nonResourceURLs?: string[];
}

export interface AuditPolicy {
  rules: AuditPolicyRule[];
}

export const METADATA_POLICY: AuditPolicy = { rules: [{ level: 'Metadata' }] };

/** Bodies that hold credentials: at Metadata at most. */
function holdsSecrets(a: Attributes | undefined): boolean {
  if (!a?.resource || (a.apiGroup ?? '') !== '') return false;
  return (
    a.resource === 'secrets' || (a.resource === 'serviceaccounts' && a.subresource === 'token') || (a.resource === 'nodes' && a.subresource === 'credential')
  );
}

/** Checks a parsed Policy document; throws naming what is wrong. */
export function auditPolicyFrom(doc: unknown): AuditPolicy {
  const policy = doc as { apiVersion?: string; kind?: string; rules?: AuditPolicyRule[] };
  if (policy?.kind !== 'Policy' || !/^audit\.k8s\.io\/v1/.test(policy.apiVersion ?? '')) throw new Error('the audit policy must be an audit.k8s.io/v1 Policy');
  if (!Array.isArray(policy.rules)) throw new Error('the audit policy has no rules');
  for (const [i, rule] of policy.rules.entries()) {
    if (!LEVELS.includes(rule.level)) throw new Error(`rules[${i}].level must be one of ${LEVELS.join(', ')}; got ${JSON.stringify(rule.level)}`);
  }
  return { rules: policy.rules };
}

const within = (list: string[] | undefined, value: string | undefined) => !list || list.length === 0 || (value !== undefined && list.includes(value));

function matches(rule: AuditPolicyRule, user: UserInfo | undefined, a: Attributes | undefined, path: string): boolean {
  if (rule.users?.length && !rule.users.includes(user?.name ?? 'system:anonymous')) return false;
  if (rule.userGroups?.length && !rule.userGroups.some((g) => user?.groups.includes(g))) return false;
  if (!within(rule.verbs, a?.verb)) return false;
  if (a?.resource === undefined) {
    if (rule.resources?.length || rule.namespaces?.length) return false;
    return !rule.nonResourceURLs?.length || rule.nonResourceURLs.some((p) => (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : p === path));
  }
  if (rule.nonResourceURLs?.length) return false;
  if (rule.namespaces?.length && !rule.namespaces.includes(a.namespace ?? '')) return false;
  if (!rule.resources?.length) return true;
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return rule.resources.some(
    (r) =>
      (r.group ?? '') === (a.apiGroup ?? '') &&
      (!r.resources?.length || r.resources.some((name) => name === full || name === '*' || name === `${a.resource}/*` || name === `*/${a.subresource}`)) &&
      within(r.resourceNames, a.name),
  );
}

/** The level a request is logged at. */
export function auditLevel(policy: AuditPolicy, user: UserInfo | undefined, a: Attributes | undefined, path: string): AuditLevel {
  const rule = policy.rules.find((r) => matches(r, user, a, path));
  const level = rule?.level ?? 'None';
  return level !== 'None' && holdsSecrets(a) ? 'Metadata' : level;
}

/**
 * Role-based access control, as kube-apiserver's RBAC authorizer decides it: a user is allowed
 * what some rule allows, where the rule belongs to a ClusterRole bound cluster-wide
 * (ClusterRoleBinding) or to a Role or ClusterRole bound in the request's namespace
 * (RoleBinding). Nothing is denied explicitly; no rule means no.
 *
 * The bindings and roles are read from the store into an index by subject, rebuilt when any of
 * them changes (the store's change stamps; a driver without them is re-read after `ttlMs`), and
 * decisions are kept until then: a client's requests cost a map lookup.
 */
import { fromLabelSelector, matchLabels } from '../store/selectors.js';
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from '../api/kinds/rbac.js';
import type { Store } from '../store/types.js';
import {
  type Attributes,
  type Authorizer,
  type Decision,
  type NonResourceRule,
  type ResourceRule,
  type RuleLister,
  SA_PREFIX,
  type UserInfo,
} from './authorizer.js';

export const RBAC_RESOURCES = [
  'roles.rbac.authorization.k8s.io',
  'clusterroles.rbac.authorization.k8s.io',
  'rolebindings.rbac.authorization.k8s.io',
  'clusterrolebindings.rbac.authorization.k8s.io',
];
const [ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS] = RBAC_RESOURCES;
const MAX_CACHED_DECISIONS = 50_000;

/** A user's groups as one string, for the decision key; a token's groups are one array, so this is kept. */
const joinedGroups = new WeakMap<string[], string>();
function joined(groups: string[]): string {
  let text = joinedGroups.get(groups);
  if (text === undefined) joinedGroups.set(groups, (text = groups.join(',')));
  return text;
}

/** One binding of a role to a subject: where it applies (a namespace, or everywhere) and what it grants. */
interface Grant {
  /** Undefined: every namespace and the cluster scope (a ClusterRoleBinding). */
  namespace?: string;
  rules: PolicyRule[];
  describe: string;
}

/** The bindings as the authorizer reads them: subject key -> grants. */
class Index {
  private readonly grants = new Map<string, Grant[]>();

  constructor(
    /** Every ClusterRole's rules, aggregation resolved. */
    readonly clusterRules: Map<string, PolicyRule[]>,
    /** Every Role's rules, by `<namespace>/<name>`. */
    readonly roleRules: Map<string, PolicyRule[]>,
  ) {}

  add(subject: string, grant: Grant): void {
    const list = this.grants.get(subject);
    if (list) list.push(grant);
    else this.grants.set(subject, [grant]);
  }

  /** Every grant that applies to the user: as itself, through its groups, or as a service account. */
  *grantsFor(user: UserInfo): Iterable<Grant> {
    for (const key of [`User:${user.name}`, ...user.groups.map((g) => `Group:${g}`)]) yield* this.grants.get(key) ?? [];
  }
}

function subjectKey(s: Subject, bindingNamespace: string | undefined): string | undefined {
  if (s.kind === 'User' || s.kind === 'Group') return `${s.kind}:${s.name}`;
  if (s.kind === 'ServiceAccount') return `User:${SA_PREFIX}${s.namespace || bindingNamespace}:${s.name}`;
  return undefined;
}

/** ClusterRoles' rules, with aggregated roles' rules gathered from the roles their selectors match (transitively). */
function clusterRoleRules(roles: ClusterRole[]): Map<string, PolicyRule[]> {
  const byName = new Map(roles.map((r) => [r.metadata.name ?? '', r]));
  const resolved = new Map<string, PolicyRule[]>();
  const resolve = (role: ClusterRole, visiting: Set<string>): PolicyRule[] => {
    const name = role.metadata.name ?? '';
    const done = resolved.get(name);
    if (done) return done;
    const rules = [...(role.rules ?? [])];
    const selectors = role.aggregationRule?.clusterRoleSelectors ?? [];
    if (selectors.length) {
      visiting.add(name);
      for (const other of byName.values()) {
        const otherName = other.metadata.name ?? '';
        if (visiting.has(otherName) || !selectors.some((sel) => matchLabels(fromLabelSelector(sel), other.metadata.labels))) continue;
        for (const rule of resolve(other, visiting)) if (!rules.some((r) => JSON.stringify(r) === JSON.stringify(rule))) rules.push(rule);
      }
      visiting.delete(name);
    }
    resolved.set(name, rules);
    return rules;
  };
  for (const role of roles) resolve(role, new Set());
  return resolved;
}

function buildIndex(roles: Role[], clusterRoles: ClusterRole[], bindings: RoleBinding[], clusterBindings: ClusterRoleBinding[]): Index {
  const clusterRules = clusterRoleRules(clusterRoles);
  const roleRules = new Map(roles.map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r.rules ?? []]));
  const index = new Index(clusterRules, roleRules);
  for (const b of clusterBindings) {
    const rules = b.roleRef.kind === 'ClusterRole' ? clusterRules.get(b.roleRef.name) : undefined;
    if (!rules) continue;
    const describe = `ClusterRoleBinding "${b.metadata.name}" of ClusterRole "${b.roleRef.name}"`;
    for (const s of b.subjects ?? []) {
      const key = subjectKey(s, undefined);
      if (key) index.add(key, { rules, describe: `${describe} to ${s.kind} "${s.name}"` });
    }
  }
  for (const b of bindings) {
    const namespace = b.metadata.namespace ?? '';
    const rules = b.roleRef.kind === 'ClusterRole' ? clusterRules.get(b.roleRef.name) : roleRules.get(`${namespace}/${b.roleRef.name}`);
    if (!rules) continue;
    const describe = `RoleBinding "${b.metadata.name}/${namespace}" of ${b.roleRef.kind} "${b.roleRef.name}"`;
    for (const s of b.subjects ?? []) {
      const key = subjectKey(s, namespace);
      if (key) index.add(key, { namespace, rules, describe: `${describe} to ${s.kind} "${s.name}"` });
    }
  }
  return index;
}

const has = (list: string[] | undefined, value: string) => !!list && (list.includes('*') || list.includes(value));

/** Whether `rule` allows the request (kube's RuleAllows). */
export function ruleAllows(rule: PolicyRule, a: Omit<Attributes, 'user'>): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (a.resource === undefined) {
    const path = a.path ?? '';
    return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
  }
  if (!has(rule.apiGroups, a.apiGroup ?? '')) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resourceMatches = (rule.resources ?? []).some((r) => r === '*' || r === combined || (a.subresource !== undefined && r === `*/${a.subresource}`));
  if (!resourceMatches) return false;
  return !rule.resourceNames?.length || rule.resourceNames.includes(a.name ?? '');
}

/** How long a read of the roles and bindings is trusted, by default, by a store without change stamps (DynamoDB). */
export const RBAC_REREAD_MS = 1000;

export interface RBACOptions {
  /** How long a read of the roles and bindings is trusted by a store that has no change stamps. */
  ttlMs?: number;
}

export class RBACAuthorizer implements Authorizer, RuleLister {
  private index?: Index;
  private version?: string;
  private loadedAt = 0;
  private loading?: Promise<Index>;
  private readonly decisions = new Map<string, Decision>();
  private readonly ttlMs: number;

  constructor(
    private readonly store: Store,
    options: RBACOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? RBAC_REREAD_MS;
  }

  /** A decision kept from before is answered at once, without a promise: the path every repeated request takes. */
  authorize(a: Attributes): Decision | Promise<Decision> {
    const key = `${a.user.name}\u0000${joined(a.user.groups)}\u0000${a.verb}\u0000${a.apiGroup}\u0000${a.resource}\u0000${a.subresource}\u0000${a.namespace}\u0000${a.name}\u0000${a.path}`;
    if (this.index && this.fresh()) {
      const cached = this.decisions.get(key);
      if (cached) return cached;
      return this.remember(key, decide(this.index, a));
    }
    return this.current().then((index) => this.decisions.get(key) ?? this.remember(key, decide(index, a)));
  }

  private remember(key: string, decision: Decision): Decision {
    if (this.decisions.size >= MAX_CACHED_DECISIONS) this.decisions.clear();
    this.decisions.set(key, decision);
    return decision;
  }

  /** Whether the index still matches the stored roles and bindings. */
  private fresh(): boolean {
    const stamps = this.stamps();
    return stamps !== undefined ? stamps === this.version : Date.now() - this.loadedAt < this.ttlMs;
  }

  private stamps(): string | undefined {
    const stamp = this.store.changeStamp?.bind(this.store);
    return stamp ? `${stamp(ROLES)}:${stamp(CLUSTER_ROLES)}:${stamp(ROLE_BINDINGS)}:${stamp(CLUSTER_ROLE_BINDINGS)}` : undefined;
  }

  async rulesFor(user: UserInfo, namespace: string) {
    const index = await this.current();
    const resourceRules: ResourceRule[] = [];
    const nonResourceRules: NonResourceRule[] = [];
    for (const grant of index.grantsFor(user)) {
      if (grant.namespace !== undefined && grant.namespace !== namespace) continue;
      for (const r of grant.rules) {
        if (r.nonResourceURLs?.length) nonResourceRules.push({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs });
        else resourceRules.push({ verbs: r.verbs, apiGroups: r.apiGroups, resources: r.resources, resourceNames: r.resourceNames });
      }
    }
    return { resourceRules, nonResourceRules, incomplete: false };
  }

  /** The rules a binding's roleRef grants (a ClusterRole's with aggregation resolved); undefined if the role does not exist. */
  async roleRules(ref: { kind: string; name: string }, namespace: string | undefined): Promise<PolicyRule[] | undefined> {
    const index = await this.current();
    return ref.kind === 'ClusterRole' ? index.clusterRules.get(ref.name) : index.roleRules.get(`${namespace}/${ref.name}`);
  }

  /** The index for the roles and bindings as they are now, read again only when they changed. */
  private async current(): Promise<Index> {
    if (this.index && this.fresh()) return this.index;
    this.loading ??= this.load(this.stamps()).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(stamps: string | undefined): Promise<Index> {
    const [roles, clusterRoles, bindings, clusterBindings] = await Promise.all(RBAC_RESOURCES.map(async (r) => (await this.store.list(r)).items));
    const index = buildIndex(roles as Role[], clusterRoles as ClusterRole[], bindings as RoleBinding[], clusterBindings as ClusterRoleBinding[]);
    this.index = index;
    this.version = stamps;
    this.loadedAt = Date.now();
    this.decisions.clear();
    return index;
  }
}

function decide(index: Index, a: Attributes): Decision {
  for (const grant of index.grantsFor(a.user)) {
    // A RoleBinding grants only in its namespace; cluster-scoped requests need a ClusterRoleBinding.
    if (grant.namespace !== undefined && grant.namespace !== a.namespace) continue;
    if (grant.rules.some((rule) => ruleAllows(rule, a))) return { allowed: true, reason: `RBAC: allowed by ${grant.describe}` };
  }
  return { allowed: false, reason: '' };
}

export { ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS };

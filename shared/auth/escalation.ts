/**
 * RBAC's escalation check: a user may write a Role or ClusterRole only with rules it already
 * holds (where the role applies), and bind a role only if it holds the role's rules, unless it
 * is allowed to `escalate` (roles) or `bind` (that role). Otherwise anyone allowed to edit roles
 * could grant itself anything.
 */
import type { ClusterRole, PolicyRule, RoleBinding } from '../api/kinds/rbac.js';
import { RBAC_GROUP } from '../api/kinds/rbac.js';
import { forbidden } from '../api/status.js';
import type { KubeObject } from '../store/object.js';
import type { Authorizer, ResourceRule, UserInfo } from './authorizer.js';
import { type RBACAuthorizer, ruleAllows } from './rbac.js';

const ROLE_RESOURCES = new Set(['roles', 'clusterroles']);
const BINDING_RESOURCES = new Set(['rolebindings', 'clusterrolebindings']);

const each = (list: string[] | undefined) => (list?.length ? list : ['']);

/**
 * Whether some rule the user holds allows one broken-down request (kube's BreakdownRule): by
 * the authorizer's own matching, so a rule covers exactly what it grants.
 */
function coveredBy(held: PolicyRule[], verb: string, group: string, resource: string, name: string, url: string): boolean {
  if (url) return held.some((h) => ruleAllows(h, { verb, path: url }));
  const [base, subresource] = resource.split('/');
  return held.some((h) => ruleAllows(h, { verb, apiGroup: group, resource: base, subresource, name: name || undefined }));
}

/** The rules in `wanted` that `held` does not cover, as kube-apiserver lists them. */
export function uncovered(held: PolicyRule[], wanted: PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const rule of wanted) {
    for (const verb of rule.verbs ?? []) {
      if (rule.nonResourceURLs?.length) {
        for (const url of rule.nonResourceURLs) if (!coveredBy(held, verb, '', '', '', url)) missing.push({ verbs: [verb], nonResourceURLs: [url] });
        continue;
      }
      for (const group of rule.apiGroups ?? [])
        for (const resource of rule.resources ?? [])
          for (const name of each(rule.resourceNames))
            if (!coveredBy(held, verb, group, resource, name, ''))
              missing.push({ verbs: [verb], apiGroups: [group], resources: [resource], ...(name ? { resourceNames: [name] } : {}) });
    }
  }
  return missing;
}

const describeRule = (r: PolicyRule) =>
  r.nonResourceURLs
    ? `{NonResourceURLs:[${r.nonResourceURLs.map((u) => JSON.stringify(u)).join(' ')}], Verbs:[${r.verbs.map((v) => JSON.stringify(v)).join(' ')}]}`
    : `{APIGroups:[${(r.apiGroups ?? []).map((g) => JSON.stringify(g)).join(' ')}], Resources:[${(r.resources ?? []).map((x) => JSON.stringify(x)).join(' ')}]${
        r.resourceNames ? `, ResourceNames:[${r.resourceNames.map((n) => JSON.stringify(n)).join(' ')}]` : ''
      }, Verbs:[${r.verbs.map((v) => JSON.stringify(v)).join(' ')}]}`;

/**
 * Refuses a write to a role or binding that would grant `user` (or anyone it binds) more than
 * `user` holds. `info` is the resource written, `object` the object as it would be stored.
 */
export async function checkEscalation(
  authorizer: Authorizer,
  rbac: RBACAuthorizer,
  user: UserInfo,
  info: { group: string; resource: string },
  object: KubeObject,
): Promise<void> {
  if (info.group !== RBAC_GROUP || !(ROLE_RESOURCES.has(info.resource) || BINDING_RESOURCES.has(info.resource))) return;
  const namespace = object.metadata.namespace || undefined;
  const name = object.metadata.name ?? '';
  const allowed = async (verb: string, resource: string, objectName: string) =>
    (await authorizer.authorize({ user, verb, apiGroup: RBAC_GROUP, resource, namespace, name: objectName })).allowed;
  let wanted: PolicyRule[];
  if (ROLE_RESOURCES.has(info.resource)) {
    if (await allowed('escalate', info.resource, name)) return;
    const role = object as ClusterRole;
    if (role.aggregationRule) throw refuse(info, name, user, 'must be allowed to escalate to create a ClusterRole with an aggregationRule');
    wanted = role.rules ?? [];
  } else {
    const ref = (object as RoleBinding).roleRef;
    if (await allowed('bind', ref.kind === 'Role' ? 'roles' : 'clusterroles', ref.name)) return;
    wanted = (await rbac.roleRules(ref, namespace)) ?? [];
  }
  const { resourceRules, nonResourceRules } = await rbac.rulesFor(user, namespace ?? '');
  const held: PolicyRule[] = [...resourceRules.map((r: ResourceRule) => ({ ...r })), ...nonResourceRules.map((r) => ({ ...r }))];
  const missing = uncovered(held, wanted);
  if (missing.length) throw refuse(info, name, user, `is attempting to grant RBAC permissions not currently held:\n${missing.map(describeRule).join('\n')}`);
}

function refuse(info: { group: string; resource: string }, name: string, user: UserInfo, why: string) {
  const groups = user.groups.map((g) => JSON.stringify(g)).join(' ');
  return forbidden(`${info.resource}.${info.group} "${name}" is forbidden: user "${user.name}" (groups=[${groups}]) ${why}`, {
    name,
    group: info.group,
    kind: info.resource,
  });
}

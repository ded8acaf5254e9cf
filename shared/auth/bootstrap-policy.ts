/**
 * The roles every cluster starts with, after kube-apiserver's bootstrap policy: cluster-admin
 * for `system:masters`; the user-facing `admin`, `edit` and `view`, built by aggregation from
 * the `system:aggregate-to-*` roles (so a role labelled `rbac.authorization.k8s.io/aggregate-to-edit`
 * extends `edit` and `admin`); and what every signed-in user may do (discovery, asking what it
 * may do). Reconciled at start: missing roles and bindings are created, and defaults with
 * `rbac.authorization.kubernetes.io/autoupdate: "true"` get back any default rule or subject
 * they lost; nothing a user added is taken away.
 */
import type { ClusterRole, ClusterRoleBinding, PolicyRule } from '../api/kinds/rbac.js';
import { isAlreadyExists } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';
import { KUBELET_BUNDLE_PATH } from '../cloud/kubelet-script.js';
import { CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES } from './rbac.js';

const AUTOUPDATE = 'rbac.authorization.kubernetes.io/autoupdate';
const AGGREGATE = 'rbac.authorization.k8s.io/aggregate-to-';
const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];

const rule = (verbs: string[], apiGroups: string[], resources: string[]): PolicyRule => ({ verbs, apiGroups, resources });
const paths = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, nonResourceURLs });

/** The namespaced resources the user-facing roles cover, by API group. */
const WORKLOADS: [string, string[]][] = [
  ['', ['pods', 'services', 'endpoints', 'configmaps', 'persistentvolumeclaims', 'replicationcontrollers', 'serviceaccounts']],
  ['apps', ['deployments', 'replicasets', 'statefulsets', 'daemonsets', 'controllerrevisions']],
  ['batch', ['jobs', 'cronjobs']],
  ['autoscaling', ['horizontalpodautoscalers']],
  ['networking.k8s.io', ['ingresses', 'networkpolicies']],
  ['policy', ['poddisruptionbudgets']],
];
const SCALABLE: [string, string[]][] = [
  ['', ['replicationcontrollers/scale']],
  ['apps', ['deployments/scale', 'replicasets/scale', 'statefulsets/scale']],
];

function clusterRole(name: string, rules: PolicyRule[], extra: Partial<ClusterRole> = {}, labels: Record<string, string> = {}): ClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults', ...labels }, annotations: { [AUTOUPDATE]: 'true' } },
    rules,
    ...extra,
  };
}

function bindGroups(name: string, role: string, groups: string[]): ClusterRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { [AUTOUPDATE]: 'true' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: groups.map((g) => ({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: g })),
  };
}

const aggregated = (to: string) => ({ aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`${AGGREGATE}${to}`]: 'true' } }] }, rules: [] });

export const DEFAULT_CLUSTER_ROLES: ClusterRole[] = [
  clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), paths(['*'], ['*'])]),
  clusterRole('system:discovery', [
    paths(['get'], ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/']),
  ]),
  clusterRole('system:public-info-viewer', [paths(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])]),
  clusterRole('system:monitoring', [paths(['get'], ['/healthz', '/livez', '/readyz', '/metrics'])]),
  clusterRole('system:basic-user', [
    rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
    rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews']),
  ]),
  // What a bootstrap token may do: fetch the kubelet, and exchange itself for a node's own credential.
  clusterRole('system:node-bootstrapper', [rule(['create'], [''], ['nodes/credential']), paths(['get'], [KUBELET_BUNDLE_PATH])]),
  clusterRole('admin', [], aggregated('admin')),
  clusterRole('edit', [], aggregated('edit'), { [`${AGGREGATE}admin`]: 'true' }),
  clusterRole('view', [], aggregated('view'), { [`${AGGREGATE}edit`]: 'true' }),
  clusterRole(
    'system:aggregate-to-admin',
    [
      rule([...READ, ...WRITE], ['rbac.authorization.k8s.io'], ['roles', 'rolebindings']),
      rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']),
      rule(['create', 'delete', 'deletecollection', 'patch', 'update'], ['coordination.k8s.io'], ['leases']),
    ],
    {},
    { [`${AGGREGATE}admin`]: 'true' },
  ),
  clusterRole(
    'system:aggregate-to-edit',
    [
      ...WORKLOADS.map(([group, resources]) => rule(WRITE, [group], resources)),
      ...SCALABLE.map(([group, resources]) => rule(WRITE, [group], resources)),
      rule(WRITE, [''], ['secrets', 'pods/eviction']),
      rule(['create'], [''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'serviceaccounts/token']),
      rule(READ, [''], ['secrets', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
      rule(['impersonate'], [''], ['serviceaccounts']),
      rule(['update'], ['apps'], ['deployments/rollback']),
    ],
    {},
    { [`${AGGREGATE}edit`]: 'true' },
  ),
  clusterRole(
    'system:aggregate-to-view',
    [
      ...WORKLOADS.map(([group, resources]) => rule(READ, [group], resources)),
      ...SCALABLE.map(([group, resources]) => rule(READ, [group], resources)),
      rule(
        READ,
        [''],
        ['pods/log', 'pods/status', 'events', 'limitranges', 'resourcequotas', 'resourcequotas/status', 'bindings', 'namespaces', 'namespaces/status'],
      ),
      rule(READ, ['apps'], ['deployments/status', 'replicasets/status', 'statefulsets/status', 'daemonsets/status']),
      rule(READ, ['events.k8s.io'], ['events']),
      rule(READ, ['coordination.k8s.io'], ['leases']),
      rule(READ, ['discovery.k8s.io'], ['endpointslices']),
      rule(READ, ['policy'], ['poddisruptionbudgets/status']),
      // What metrics-server's system:aggregated-metrics-reader gives viewers, and the nodes' history.
      rule(READ, ['metrics.k8s.io'], ['pods', 'nodes']),
      rule(READ, ['metrics.skiff.dev'], ['nodehistories']),
    ],
    {},
    { [`${AGGREGATE}view`]: 'true' },
  ),
];

export const DEFAULT_CLUSTER_ROLE_BINDINGS: ClusterRoleBinding[] = [
  bindGroups('cluster-admin', 'cluster-admin', ['system:masters']),
  bindGroups('system:discovery', 'system:discovery', ['system:authenticated']),
  bindGroups('system:public-info-viewer', 'system:public-info-viewer', ['system:authenticated', 'system:unauthenticated']),
  bindGroups('system:monitoring', 'system:monitoring', ['system:monitoring']),
  bindGroups('system:basic-user', 'system:basic-user', ['system:authenticated']),
  bindGroups('system:node-bootstrapper', 'system:node-bootstrapper', ['system:bootstrappers']),
];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Creates what is missing; gives defaults that still auto-update back what they lost. One list of each kind: a start that finds all in place writes nothing. */
export async function reconcileBootstrapPolicy(store: Store): Promise<void> {
  const mergeRole = (role: ClusterRole) => (c: ClusterRole) => {
    const rules = [...(c.rules ?? [])];
    for (const r of role.rules ?? []) if (!rules.some((have) => same(have, r))) rules.push(r);
    return rules.length === (c.rules ?? []).length && (!role.aggregationRule || same(role.aggregationRule, c.aggregationRule))
      ? undefined
      : { ...c, rules, aggregationRule: role.aggregationRule ?? c.aggregationRule };
  };
  const mergeBinding = (binding: ClusterRoleBinding) => (c: ClusterRoleBinding) => {
    const subjects = [...(c.subjects ?? [])];
    for (const s of binding.subjects ?? []) if (!subjects.some((have) => same(have, s))) subjects.push(s);
    return subjects.length === (c.subjects ?? []).length ? undefined : { ...c, subjects };
  };
  const roles = await existing<ClusterRole>(store, CLUSTER_ROLES);
  for (const role of DEFAULT_CLUSTER_ROLES) await ensure(store, CLUSTER_ROLES, role, roles.get(role.metadata.name ?? ''), mergeRole(role));
  const bindings = await existing<ClusterRoleBinding>(store, CLUSTER_ROLE_BINDINGS);
  for (const b of DEFAULT_CLUSTER_ROLE_BINDINGS) await ensure(store, CLUSTER_ROLE_BINDINGS, b, bindings.get(b.metadata.name ?? ''), mergeBinding(b));
}

async function existing<T extends ClusterRole | ClusterRoleBinding>(store: Store, resource: string): Promise<Map<string, T>> {
  return new Map((await store.list(resource)).items.map((o) => [o.metadata.name ?? '', o as T]));
}

const wantsUpdate = <T extends ClusterRole | ClusterRoleBinding>(current: T, merge: (current: T) => T | undefined) =>
  current.metadata.annotations?.[AUTOUPDATE] === 'false' ? undefined : merge(current);

async function ensure<T extends ClusterRole | ClusterRoleBinding>(
  store: Store,
  resource: string,
  wanted: T,
  current: T | undefined,
  merge: (current: T) => T | undefined,
): Promise<void> {
  if (current) {
    if (!wantsUpdate(current, merge)) return;
  } else {
    try {
      await store.create(resource, structuredClone(wanted));
      return;
    } catch (err) {
      // Another API process made it since the list: bring that one up to date, as below.
      if (!isAlreadyExists(err)) throw err;
    }
  }
  await guaranteedUpdate<T>(store, resource, '', wanted.metadata.name ?? '', (fresh) => wantsUpdate(fresh, merge));
}

/**
 * rbac.authorization.k8s.io/v1: Role, ClusterRole (with aggregation), RoleBinding and
 * ClusterRoleBinding, validated as kube-apiserver validates them. What they grant is decided
 * in shared/auth/rbac.ts; who may write them (escalation) in shared/auth/escalation.ts.
 */
import { z } from 'zod';
import type { KubeObject } from '../../store/object.js';
import { ageColumn, nameColumn, type Column } from '../columns.js';
import { LabelSelector, objectOf } from '../schemas/common.js';
import type { StatusCause } from '../status.js';
import { invalidValue, notSupported, required, sameJson } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
const API_VERSION = `${RBAC_GROUP}/v1`;

export const PolicyRule = z.strictObject({
  verbs: z.array(z.string()),
  apiGroups: z.array(z.string()).optional(),
  resources: z.array(z.string()).optional(),
  resourceNames: z.array(z.string()).optional(),
  nonResourceURLs: z.array(z.string()).optional(),
});
export type PolicyRule = z.infer<typeof PolicyRule>;

export const Subject = z.strictObject({ kind: z.string(), apiGroup: z.string().optional(), name: z.string(), namespace: z.string().optional() });
export type Subject = z.infer<typeof Subject>;
export const RoleRef = z.strictObject({ apiGroup: z.string(), kind: z.string(), name: z.string() });

export const Role = objectOf(API_VERSION, 'Role', { rules: z.array(PolicyRule).nullable().optional() });
export type Role = z.infer<typeof Role>;
export const ClusterRole = objectOf(API_VERSION, 'ClusterRole', {
  rules: z.array(PolicyRule).nullable().optional(),
  aggregationRule: z.strictObject({ clusterRoleSelectors: z.array(LabelSelector).optional() }).optional(),
});
export type ClusterRole = z.infer<typeof ClusterRole>;
export const RoleBinding = objectOf(API_VERSION, 'RoleBinding', { subjects: z.array(Subject).optional(), roleRef: RoleRef });
export type RoleBinding = z.infer<typeof RoleBinding>;
export const ClusterRoleBinding = objectOf(API_VERSION, 'ClusterRoleBinding', { subjects: z.array(Subject).optional(), roleRef: RoleRef });
export type ClusterRoleBinding = z.infer<typeof ClusterRoleBinding>;

const createdAt: Column = { name: 'Created At', type: 'date', cell: (o) => o.metadata.creationTimestamp };
const subjectsOf = (kind: string) => (o: KubeObject) =>
  ((o as RoleBinding).subjects ?? [])
    .filter((s) => s.kind === kind)
    .map((s) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : s.name))
    .join(', ');
const bindingColumns: Column[] = [
  nameColumn,
  { name: 'Role', type: 'string', cell: (o) => `${(o as RoleBinding).roleRef?.kind}/${(o as RoleBinding).roleRef?.name}` },
  ageColumn,
  { name: 'Users', type: 'string', priority: 1, cell: subjectsOf('User') },
  { name: 'Groups', type: 'string', priority: 1, cell: subjectsOf('Group') },
  { name: 'ServiceAccounts', type: 'string', priority: 1, cell: subjectsOf('ServiceAccount') },
];

function validateRules(object: KubeObject, namespaced: boolean, causes: StatusCause[]): void {
  for (const [i, rule] of ((object as Role).rules ?? []).entries()) {
    const at = `rules[${i}]`;
    if (!rule.verbs?.length) causes.push(required(`${at}.verbs`, 'Required value: verbs must contain at least one value'));
    if (rule.nonResourceURLs?.length) {
      if (namespaced) causes.push(invalidValue(`${at}.nonResourceURLs`, rule.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'));
      if (rule.apiGroups?.length || rule.resources?.length)
        causes.push(invalidValue(`${at}.nonResourceURLs`, rule.nonResourceURLs, 'rules cannot apply to both regular resources and non-resource URLs'));
      continue;
    }
    if (!rule.apiGroups?.length) causes.push(required(`${at}.apiGroups`, 'Required value: resource rules must supply at least one api group'));
    if (!rule.resources?.length) causes.push(required(`${at}.resources`, 'Required value: resource rules must supply at least one resource'));
  }
}

/** Subjects get their API group filled in as kube-apiserver's defaulting does. */
function defaultSubjects(object: KubeObject): void {
  for (const s of (object as RoleBinding).subjects ?? []) {
    if (s.apiGroup === undefined) s.apiGroup = s.kind === 'ServiceAccount' ? '' : RBAC_GROUP;
  }
}

function validateBinding(object: KubeObject, roleKinds: string[], namespaced: boolean, causes: StatusCause[]): void {
  const b = object as RoleBinding;
  if (!b.roleRef) causes.push(required('roleRef'));
  else {
    if (b.roleRef.apiGroup !== RBAC_GROUP) causes.push(notSupported('roleRef.apiGroup', b.roleRef.apiGroup, [RBAC_GROUP]));
    if (!roleKinds.includes(b.roleRef.kind)) causes.push(notSupported('roleRef.kind', b.roleRef.kind, roleKinds));
    if (!b.roleRef.name) causes.push(required('roleRef.name'));
  }
  for (const [i, s] of (b.subjects ?? []).entries()) {
    const at = `subjects[${i}]`;
    if (!s.name) causes.push(required(`${at}.name`));
    if (s.kind === 'ServiceAccount') {
      if (s.apiGroup) causes.push(notSupported(`${at}.apiGroup`, s.apiGroup, ['']));
      if (!s.namespace && !namespaced) causes.push(required(`${at}.namespace`));
    } else if (s.kind === 'User' || s.kind === 'Group') {
      if (s.apiGroup !== RBAC_GROUP) causes.push(notSupported(`${at}.apiGroup`, s.apiGroup, [RBAC_GROUP]));
    } else causes.push(notSupported(`${at}.kind`, s.kind, ['ServiceAccount', 'User', 'Group']));
  }
}

function roleRefImmutable(object: KubeObject, old: KubeObject, causes: StatusCause[]): void {
  const ref = (object as RoleBinding).roleRef;
  if (!sameJson(ref, (old as RoleBinding).roleRef)) causes.push(invalidValue('roleRef', ref, 'cannot change roleRef'));
}

export const role: Kind = {
  info: resource(RBAC_GROUP, 'v1', 'roles', 'Role'),
  schema: Role,
  columns: [nameColumn, createdAt],
  validate: (object, causes) => validateRules(object, true, causes),
};

export const clusterRole: Kind = {
  info: resource(RBAC_GROUP, 'v1', 'clusterroles', 'ClusterRole', { namespaced: false }),
  schema: ClusterRole,
  columns: [nameColumn, createdAt],
  validate: (object, causes) => validateRules(object, false, causes),
};

export const roleBinding: Kind = {
  info: resource(RBAC_GROUP, 'v1', 'rolebindings', 'RoleBinding'),
  schema: RoleBinding,
  columns: bindingColumns,
  defaults: defaultSubjects,
  validate: (object, causes) => validateBinding(object, ['Role', 'ClusterRole'], true, causes),
  validateUpdate: roleRefImmutable,
};

export const clusterRoleBinding: Kind = {
  info: resource(RBAC_GROUP, 'v1', 'clusterrolebindings', 'ClusterRoleBinding', { namespaced: false }),
  schema: ClusterRoleBinding,
  columns: bindingColumns,
  defaults: defaultSubjects,
  validate: (object, causes) => validateBinding(object, ['ClusterRole'], false, causes),
  validateUpdate: roleRefImmutable,
};

/**
 * The kinds that are asked, never stored: authorization.k8s.io's access reviews (what
 * `kubectl auth can-i` and `can-i --list` send) and authentication.k8s.io's SelfSubjectReview
 * (`kubectl auth whoami`). A POST answers with the status filled in; no other verb is served.
 */
import { z } from 'zod';
import type { Attributes, UserInfo } from '../../auth/authorizer.js';
import type { KubeObject } from '../../store/object.js';
import { loose, objectOf } from '../schemas/common.js';
import type { StatusCause } from '../status.js';
import { invalidValue, required } from '../validation.js';
import { resource, type Asker, type Kind } from './kind.js';

const AUTHZ = 'authorization.k8s.io';
const AUTHN = 'authentication.k8s.io';
const CREATE_ONLY = { verbs: ['create'] };

const ResourceAttributes = z.strictObject({
  namespace: z.string().optional(),
  verb: z.string().optional(),
  group: z.string().optional(),
  version: z.string().optional(),
  resource: z.string().optional(),
  subresource: z.string().optional(),
  name: z.string().optional(),
  fieldSelector: loose.optional(),
  labelSelector: loose.optional(),
});
const NonResourceAttributes = z.strictObject({ path: z.string().optional(), verb: z.string().optional() });
const AccessSpec = {
  resourceAttributes: ResourceAttributes.optional(),
  nonResourceAttributes: NonResourceAttributes.optional(),
};
const SubjectSpec = {
  ...AccessSpec,
  user: z.string().optional(),
  groups: z.array(z.string()).optional(),
  uid: z.string().optional(),
  extra: z.record(z.string(), z.array(z.string())).optional(),
};

export const SelfSubjectAccessReview = objectOf(`${AUTHZ}/v1`, 'SelfSubjectAccessReview', { spec: z.strictObject(AccessSpec), status: loose.optional() });
export const SubjectAccessReview = objectOf(`${AUTHZ}/v1`, 'SubjectAccessReview', { spec: z.strictObject(SubjectSpec), status: loose.optional() });
export const LocalSubjectAccessReview = objectOf(`${AUTHZ}/v1`, 'LocalSubjectAccessReview', { spec: z.strictObject(SubjectSpec), status: loose.optional() });
export const SelfSubjectRulesReview = objectOf(`${AUTHZ}/v1`, 'SelfSubjectRulesReview', {
  spec: z.strictObject({ namespace: z.string().optional() }),
  status: loose.optional(),
});
export const SelfSubjectReview = objectOf(`${AUTHN}/v1`, 'SelfSubjectReview', { status: loose.optional() });

type AccessReview = z.infer<typeof SubjectAccessReview>;
type Spec = AccessReview['spec'];

/** Exactly one of the two attribute sets, as kube-apiserver requires. */
function validateAccessSpec(object: KubeObject, causes: StatusCause[]): void {
  const spec = (object as AccessReview).spec as Spec | undefined;
  if (!spec) return void causes.push(required('spec'));
  if (!spec.resourceAttributes === !spec.nonResourceAttributes)
    causes.push(invalidValue('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
}

function attributesOf(user: UserInfo, spec: Spec): Attributes {
  const r = spec.resourceAttributes;
  if (!r) return { user, verb: spec.nonResourceAttributes?.verb ?? '', path: spec.nonResourceAttributes?.path ?? '' };
  return {
    user,
    verb: r.verb ?? '',
    apiGroup: r.group ?? '',
    apiVersion: r.version,
    resource: r.resource ?? '',
    subresource: r.subresource || undefined,
    name: r.name || undefined,
    namespace: r.namespace || undefined,
  };
}

async function answer(object: KubeObject, user: UserInfo, asker: Asker): Promise<KubeObject> {
  const decision = await asker.authorizer.authorize(attributesOf(user, (object as AccessReview).spec));
  const status: Record<string, unknown> = { allowed: decision.allowed };
  if (!decision.allowed && decision.denied) status.denied = true;
  if (decision.reason) status.reason = decision.reason;
  return { ...object, metadata: { ...object.metadata, creationTimestamp: null }, status };
}

/** The user a SubjectAccessReview asks about. */
function subjectOf(spec: Spec): UserInfo {
  return { name: spec.user ?? '', uid: spec.uid, groups: spec.groups ?? [], extra: spec.extra };
}

export const selfSubjectAccessReview: Kind = {
  info: resource(AUTHZ, 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview', { namespaced: false, ...CREATE_ONLY }),
  schema: SelfSubjectAccessReview,
  validate: validateAccessSpec,
  review: (object, asker) => answer(object, asker.user, asker),
};

export const subjectAccessReview: Kind = {
  info: resource(AUTHZ, 'v1', 'subjectaccessreviews', 'SubjectAccessReview', { namespaced: false, ...CREATE_ONLY }),
  schema: SubjectAccessReview,
  validate(object, causes) {
    validateAccessSpec(object, causes);
    const spec = (object as AccessReview).spec;
    if (spec && !spec.user && !spec.groups?.length) causes.push(invalidValue('spec.user', spec.user ?? '', 'at least one of user or group must be specified'));
  },
  review: (object, asker) => answer(object, subjectOf((object as AccessReview).spec), asker),
};

export const localSubjectAccessReview: Kind = {
  info: resource(AUTHZ, 'v1', 'localsubjectaccessreviews', 'LocalSubjectAccessReview', CREATE_ONLY),
  schema: LocalSubjectAccessReview,
  validate(object, causes) {
    validateAccessSpec(object, causes);
    const spec = (object as AccessReview).spec;
    const ns = spec?.resourceAttributes?.namespace;
    if (spec?.resourceAttributes && ns !== object.metadata.namespace)
      causes.push(invalidValue('spec.resourceAttributes.namespace', ns ?? '', 'must match metadata.namespace'));
    if (spec?.nonResourceAttributes) causes.push(invalidValue('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request'));
  },
  review: (object, asker) => answer(object, subjectOf((object as AccessReview).spec), asker),
};

export const selfSubjectRulesReview: Kind = {
  info: resource(AUTHZ, 'v1', 'selfsubjectrulesreviews', 'SelfSubjectRulesReview', { namespaced: false, ...CREATE_ONLY }),
  schema: SelfSubjectRulesReview,
  validate(object, causes) {
    if (!(object as z.infer<typeof SelfSubjectRulesReview>).spec?.namespace) causes.push(required('spec.namespace', 'Required value: no namespace on request'));
  },
  async review(object, asker) {
    const namespace = (object as z.infer<typeof SelfSubjectRulesReview>).spec.namespace ?? '';
    const status = asker.rules ? await asker.rules.rulesFor(asker.user, namespace) : { resourceRules: [], nonResourceRules: [], incomplete: true };
    return { ...object, metadata: { ...object.metadata, creationTimestamp: null }, status };
  },
};

export const selfSubjectReview: Kind = {
  info: resource(AUTHN, 'v1', 'selfsubjectreviews', 'SelfSubjectReview', { namespaced: false, ...CREATE_ONLY }),
  schema: SelfSubjectReview,
  async review(object, asker) {
    const { name, uid, groups, extra } = asker.user;
    const userInfo: Record<string, unknown> = { username: name, groups };
    if (uid) userInfo.uid = uid;
    if (extra) userInfo.extra = extra;
    return { ...object, metadata: { ...object.metadata, creationTimestamp: null }, status: { userInfo } };
  },
};

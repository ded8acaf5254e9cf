/**
 * What decides every request to a cluster: the node authorizer for kubelets, then RBAC; the
 * admission checks that need to know who asks; and the roles a cluster starts with.
 */
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';
import { type Authorizer, type RuleLister, type UserInfo, unionAuthorizer } from './authorizer.js';
import { checkEscalation } from './escalation.js';
import { NodeAuthorizer, nodeRestriction } from './node-authorizer.js';
import { RBACAuthorizer } from './rbac.js';

/** Admission that needs the requester: NodeRestriction, then RBAC's escalation check. Throws to refuse. */
export type Admission = (user: UserInfo, info: { group: string; resource: string }, object: KubeObject, old: KubeObject | undefined) => Promise<void>;

export { reconcileBootstrapPolicy } from './bootstrap-policy.js';

export function clusterAuthorization(store: Store): { authorizer: Authorizer; rules: RuleLister; admission: Admission } {
  const rbac = new RBACAuthorizer(store);
  const authorizer = unionAuthorizer(new NodeAuthorizer(store), rbac);
  const admission: Admission = async (user, info, object, old) => {
    nodeRestriction(user, info, object, old);
    await checkEscalation(authorizer, rbac, user, info, object);
  };
  return { authorizer, rules: rbac, admission };
}

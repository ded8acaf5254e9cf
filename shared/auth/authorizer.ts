/**
 * The words of authorization, as kube-apiserver's authorizer interface has them: who asks
 * (`UserInfo`), what for (`Attributes`: a verb on a resource, or on a non-resource path), and
 * the answer. Authorizers are asked in order; the first with an opinion decides.
 */

/** A ServiceAccount's user name is this, then `<namespace>:<name>`. */
export const SA_PREFIX = 'system:serviceaccount:';

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** A request on a resource (`resource` set) or on a path (`path` set). */
export interface Attributes {
  user: UserInfo;
  /** get, list, watch, create, update, patch, delete, deletecollection; or impersonate, bind, escalate; for paths the HTTP verb in lower case. */
  verb: string;
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  /** Undefined for cluster-scoped resources and for "in every namespace". */
  namespace?: string;
  path?: string;
  /** A list or watch's field selector, as sent (the node authorizer limits nodes to their own pods by it). */
  fieldSelector?: string;
}

export type Decision = { allowed: true; reason: string } | { allowed: false; reason: string; denied?: boolean };

export interface Authorizer {
  authorize(attributes: Attributes): Promise<Decision> | Decision;
}

/** The rules an authorizer grants a user in a namespace, for SelfSubjectRulesReview. */
export interface RuleLister {
  rulesFor(user: UserInfo, namespace: string): Promise<{ resourceRules: ResourceRule[]; nonResourceRules: NonResourceRule[]; incomplete: boolean }>;
}

export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

export interface NonResourceRule {
  verbs: string[];
  nonResourceURLs?: string[];
}

/**
 * Asks each authorizer in turn; the first that allows or explicitly denies decides. Answers
 * without a promise when every authorizer asked did (a cached decision costs no microtask).
 */
export function unionAuthorizer(...authorizers: Authorizer[]): Authorizer {
  const settle = (decision: Decision, reasons: string[]): Decision | undefined => {
    if (decision.allowed || decision.denied) return decision;
    if (decision.reason) reasons.push(decision.reason);
    return undefined;
  };
  const rest = async (from: number, pending: Promise<Decision>, attributes: Attributes, reasons: string[]): Promise<Decision> => {
    const first = settle(await pending, reasons);
    if (first) return first;
    for (let i = from; i < authorizers.length; i++) {
      const decided = settle(await authorizers[i].authorize(attributes), reasons);
      if (decided) return decided;
    }
    return { allowed: false, reason: reasons.join('; ') };
  };
  return {
    authorize(attributes) {
      const reasons: string[] = [];
      for (let i = 0; i < authorizers.length; i++) {
        const decision = authorizers[i].authorize(attributes);
        if (decision instanceof Promise) return rest(i + 1, decision, attributes, reasons);
        const decided = settle(decision, reasons);
        if (decided) return decided;
      }
      return { allowed: false, reason: reasons.join('; ') };
    },
  };
}

/** kube-apiserver's words for a refusal: `User "x" cannot list resource "secrets" in API group "" in the namespace "y"`. */
export function forbiddenMessage(a: Attributes): string {
  const who = `User "${a.user.name}"`;
  if (a.resource === undefined) return `${who} cannot ${a.verb} path "${a.path}"`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `${who} cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup ?? ''}" ${where}`;
}

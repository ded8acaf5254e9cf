/**
 * TokenRequest (`POST .../serviceaccounts/<name>/token`, what `kubectl create token` sends):
 * checked as kube-apiserver checks it, answered with a signed token for that ServiceAccount.
 */
import type { Pod } from '../api/schemas/index.js';
import { forbidden, invalid, notFound } from '../api/status.js';
import { findResource } from '../api/resources.js';
import type { StatusCause } from '../api/status.js';
import { invalidValue, isObj, notSupported, required } from '../api/validation.js';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';
import { nodeNameOf } from './node-authorizer.js';
import { type BoundObject, EXTENDED_SECONDS, type ServiceAccountTokens, WARN_ONLY_SECONDS } from './service-account-tokens.js';

const MIN_SECONDS = 600;
const BOUND_KINDS: Record<string, string> = { Pod: 'pods', Secret: 'secrets', Node: 'nodes' };

interface TokenRequestSpec {
  audiences?: string[];
  expirationSeconds?: number;
  boundObjectRef?: { kind?: string; apiVersion?: string; name?: string; uid?: string } | null;
}

/**
 * `requester` is who asks: a node (NodeRestriction) gets tokens only bound to a pod of its own
 * that runs as that account.
 */
export async function requestToken(
  store: Store,
  tokens: ServiceAccountTokens,
  namespace: string,
  name: string,
  body: unknown,
  requester?: { name: string; groups: string[] },
): Promise<KubeObject> {
  const info = findResource('', 'v1', 'serviceaccounts')!;
  const spec = (isObj(body) && isObj(body.spec) ? body.spec : {}) as TokenRequestSpec;
  const causes: StatusCause[] = [];
  const seconds = spec.expirationSeconds ?? 3600;
  if (!Number.isInteger(seconds)) causes.push(invalidValue('spec.expirationSeconds', seconds, 'must be an integer'));
  else if (seconds < MIN_SECONDS) causes.push(invalidValue('spec.expirationSeconds', seconds, 'may not specify a duration less than 10 minutes'));
  else if (seconds > 2 ** 32) causes.push(invalidValue('spec.expirationSeconds', seconds, 'may not specify a duration larger than 2^32 seconds'));
  const audiences = spec.audiences?.length ? spec.audiences : [tokens.issuer];
  if (!Array.isArray(audiences) || audiences.some((a) => typeof a !== 'string'))
    causes.push(invalidValue('spec.audiences', audiences, 'must be a list of strings'));
  const ref = spec.boundObjectRef ?? undefined;
  if (ref && !BOUND_KINDS[ref.kind ?? '']) causes.push(notSupported('spec.boundObjectRef.kind', ref.kind ?? '', Object.keys(BOUND_KINDS)));
  if (ref && !ref.name) causes.push(required('spec.boundObjectRef.name'));
  if (causes.length) throw invalid(info, name, causes);

  const node = requester ? nodeNameOf(requester) : undefined;
  if (node !== undefined) await nodeRestriction(store, node, namespace, name, ref);
  const account = await store.get('serviceaccounts', namespace, name).catch(() => undefined);
  if (!account || account.metadata.deletionTimestamp) throw notFound(info, name);
  let bound: BoundObject | undefined;
  if (ref) {
    const resource = BOUND_KINDS[ref.kind!];
    const object = await store.get(resource, ref.kind === 'Node' ? '' : namespace, ref.name!).catch(() => undefined);
    if (!object || (ref.uid && ref.uid !== object.metadata.uid)) throw notFound(findResource('', 'v1', resource)!, ref.name!);
    bound = { kind: ref.kind as BoundObject['kind'], name: ref.name!, uid: object.metadata.uid ?? '' };
  }
  // A token outlives neither the cluster's limit nor, when bound to a pod, its usefulness; a
  // pod's default-length token is extended, as kube-apiserver extends it (service-account-tokens.ts).
  const expirationSeconds = Math.min(seconds, tokens.maxExpirationSeconds);
  const extended = tokens.extendExpiration && bound?.kind === 'Pod' && seconds === WARN_ONLY_SECONDS;
  const { token, expirationTimestamp } = await tokens.issue({
    namespace,
    serviceAccount: { name, uid: account.metadata.uid ?? '' },
    audiences,
    expirationSeconds: extended ? EXTENDED_SECONDS : expirationSeconds,
    bound,
    ...(extended ? { warnAfterSeconds: expirationSeconds } : {}),
  });
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name, namespace, creationTimestamp: null },
    spec: {
      audiences,
      expirationSeconds,
      boundObjectRef: ref ? { kind: ref.kind, apiVersion: ref.apiVersion ?? 'v1', name: ref.name, uid: bound?.uid } : null,
    },
    status: { token, expirationTimestamp },
  };
}

/**
 * NodeRestriction, before anything is looked up for the request: a node's token is bound to a
 * pod on that node that runs as the account.
 */
async function nodeRestriction(store: Store, node: string, namespace: string, account: string, ref: TokenRequestSpec['boundObjectRef']): Promise<void> {
  const refuse = (why: string) => forbidden(`serviceaccounts "${account}" is forbidden: ${why}`, { name: account, kind: 'serviceaccounts' });
  if (ref?.kind !== 'Pod' || !ref.name) throw refuse('node requested token not bound to a pod');
  const pod = (await store.get('pods', namespace, ref.name).catch(() => undefined)) as Pod | undefined;
  if (!pod || pod.spec.nodeName !== node) throw refuse('node requested token bound to a pod scheduled on a different node');
  if ((pod.spec.serviceAccountName || 'default') !== account) throw refuse(`node requested token for a service account pod "${ref.name}" does not use`);
}

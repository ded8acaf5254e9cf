/**
 * The node authorizer (kube-apiserver's Node mode with NodeRestriction's limits): a kubelet,
 * `system:node:<name>` in group `system:nodes`, may touch its own Node and Lease, the pods bound
 * to it (read, status, the confirming delete), list and watch pods only with the field selector
 * `spec.nodeName=<name>`, read the Secrets and ConfigMaps those pods reference, ask for tokens
 * of the service accounts they use (bound to one of them: `token-request.ts`), read the claims
 * they mount and the volumes bound to those, read the
 * Services, Endpoints and EndpointSlices its proxy follows, and record events. Anything else it has no opinion on, so RBAC decides (and grants a node nothing by
 * default). Requests from other users are none of its business.
 */
import type { Node, Pod } from '../api/schemas/index.js';
import type { KubeObject } from '../store/object.js';
import { forbidden } from '../api/status.js';
import { typedList } from '../api/objects.js';
import { parseFieldSelector } from '../store/selectors.js';
import type { Store } from '../store/types.js';
import type { Attributes, Authorizer, Decision } from './authorizer.js';

export const NODE_PREFIX = 'system:node:';
export const NODES_GROUP = 'system:nodes';

const allow = (reason: string): Decision => ({ allowed: true, reason: `Node: ${reason}` });
const noOpinion: Decision = { allowed: false, reason: '' };
const deny = (reason: string): Decision => ({ allowed: false, denied: true, reason });

/** The node a user is, if it is one. */
export function nodeNameOf(user: { name: string; groups: string[] }): string | undefined {
  return user.groups.includes(NODES_GROUP) && user.name.startsWith(NODE_PREFIX) ? user.name.slice(NODE_PREFIX.length) : undefined;
}

/** The names of Secrets and ConfigMaps a pod reads: env, envFrom, volumes and image pull secrets. */
export function referencedBy(pod: Pod): { secrets: Set<string>; configmaps: Set<string> } {
  const secrets = new Set<string>();
  const configmaps = new Set<string>();
  for (const c of [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef?.name) configmaps.add(e.valueFrom.configMapKeyRef.name);
    }
    for (const f of c.envFrom ?? []) {
      if (f.secretRef?.name) secrets.add(f.secretRef.name);
      if (f.configMapRef?.name) configmaps.add(f.configMapRef.name);
    }
  }
  for (const s of pod.spec.imagePullSecrets ?? []) if (s.name) secrets.add(s.name);
  for (const v of pod.spec.volumes ?? []) {
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
    if (v.configMap?.name) configmaps.add(v.configMap.name);
    for (const p of v.projected?.sources ?? []) {
      if (p.secret?.name) secrets.add(p.secret.name);
      if (p.configMap?.name) configmaps.add(p.configMap.name);
    }
  }
  return { secrets, configmaps };
}

export class NodeAuthorizer implements Authorizer {
  constructor(private readonly store: Store) {}

  authorize(a: Attributes): Decision | Promise<Decision> {
    const node = nodeNameOf(a.user);
    if (node === undefined || a.resource === undefined) return noOpinion;
    const group = a.apiGroup ?? '';
    if (group === '' && a.resource === 'nodes') return this.nodes(node, a);
    if (group === 'coordination.k8s.io' && a.resource === 'leases') {
      return a.namespace === 'kube-node-lease' && (a.name === node || a.verb === 'create')
        ? allow(`its own Lease`)
        : deny('a node may only touch its own Lease');
    }
    if (group === '' && a.resource === 'pods') return this.pods(node, a);
    if (group === '' && (a.resource === 'secrets' || a.resource === 'configmaps')) return this.referenced(node, a);
    if (group === '' && a.resource === 'serviceaccounts' && a.subresource === 'token') return this.token(node, a);
    if (group === '' && (a.resource === 'persistentvolumeclaims' || a.resource === 'persistentvolumes')) return this.storage(node, a);
    if ((group === '' || group === 'events.k8s.io') && a.resource === 'events' && ['create', 'update', 'patch'].includes(a.verb)) return allow('events');
    // What its proxy follows, as kube-proxy reads them.
    const proxied =
      (group === '' && (a.resource === 'services' || a.resource === 'endpoints')) || (group === 'discovery.k8s.io' && a.resource === 'endpointslices');
    if (proxied && ['get', 'list', 'watch'].includes(a.verb)) return allow('what its proxy follows');
    return noOpinion;
  }

  private nodes(node: string, a: Attributes): Decision {
    if (a.subresource === 'credential') return deny(`node "${node}" may not make node credentials`);
    if (['get', 'list', 'watch'].includes(a.verb)) return allow('reads nodes');
    // Its own Node only: a create names none here, so `nodeRestriction` checks the body's name.
    if (a.verb === 'create') return allow('registers a Node');
    if (a.name === node && ['update', 'patch', 'delete'].includes(a.verb)) return allow('its own Node');
    return deny(`node "${node}" may only change its own Node`);
  }

  private async pods(node: string, a: Attributes): Promise<Decision> {
    if (a.verb === 'list' || a.verb === 'watch') {
      const selector = a.fieldSelector ? parseFieldSelector(a.fieldSelector) : undefined;
      const own = selector?.requirements.some((r) => r.key === 'spec.nodeName' && r.operator === 'in' && r.values.length === 1 && r.values[0] === node);
      return own ? allow('its pods') : deny(`node "${node}" may only ${a.verb} pods with the field selector spec.nodeName=${node}`);
    }
    if (a.verb === 'create') return deny(`node "${node}" may not create pods`);
    if (!a.name || !a.namespace) return deny(`node "${node}" may only touch pods bound to it`);
    if (!['get', 'update', 'patch', 'delete'].includes(a.verb)) return deny(`node "${node}" may not ${a.verb} pods`);
    if (a.verb !== 'get' && a.verb !== 'delete' && a.subresource !== 'status') return deny(`node "${node}" may only change the status of its pods`);
    const pod = await this.store.get('pods', a.namespace, a.name).catch(() => undefined);
    // A pod that is gone answers 404 to whoever asks; the node may learn that of its own.
    if (!pod) return allow('a pod that is gone');
    return (pod as Pod).spec.nodeName === node ? allow('a pod bound to it') : deny(`no relationship found between node "${node}" and this object`);
  }

  /** Tokens for the accounts its pods run as (TokenRequest checks that each is bound to one of them). */
  private async token(node: string, a: Attributes): Promise<Decision> {
    if (a.verb !== 'create' || !a.name || !a.namespace) return deny(`node "${node}" may only create tokens of the service accounts its pods use`);
    const pods = typedList('pods', (await this.store.list('pods', { namespace: a.namespace, fieldSelector: `spec.nodeName=${node}` })).items);
    return pods.some((p) => (p.spec.serviceAccountName || 'default') === a.name)
      ? allow('a token for a service account its pods use')
      : deny(`no relationship found between node "${node}" and this object`);
  }

  /**
   * The claims its pods mount, and the volumes bound to them; a volume that is gone answers 404
   * (the kubelet sweeps the folders of local volumes that went).
   */
  private async storage(node: string, a: Attributes): Promise<Decision> {
    if (a.verb !== 'get' || !a.name) return deny(`node "${node}" may only get the ${a.resource} its pods use`);
    let namespace = a.namespace ?? '';
    let claim = a.name;
    if (a.resource === 'persistentvolumes') {
      const pv = (await this.store.get('persistentvolumes', '', a.name).catch(() => undefined)) as
        | { spec?: { claimRef?: { namespace?: string; name?: string } } }
        | undefined;
      if (!pv) return allow('a volume that is gone');
      namespace = pv.spec?.claimRef?.namespace ?? '';
      claim = pv.spec?.claimRef?.name ?? '';
    }
    const pods = namespace ? typedList('pods', (await this.store.list('pods', { namespace, fieldSelector: `spec.nodeName=${node}` })).items) : [];
    const uses = pods.some((p) => (p.spec.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim));
    return uses
      ? allow(`a ${a.resource === 'persistentvolumes' ? 'volume' : 'claim'} its pods use`)
      : deny(`no relationship found between node "${node}" and this object`);
  }

  private async referenced(node: string, a: Attributes): Promise<Decision> {
    if (a.verb !== 'get' || !a.name || !a.namespace) return deny(`node "${node}" may only get the ${a.resource} its pods reference`);
    const pods = typedList('pods', (await this.store.list('pods', { namespace: a.namespace, fieldSelector: `spec.nodeName=${node}` })).items);
    const uses = pods.some((p) => referencedBy(p)[a.resource as 'secrets' | 'configmaps'].has(a.name!));
    return uses
      ? allow(`a ${a.resource === 'secrets' ? 'Secret' : 'ConfigMap'} its pods reference`)
      : deny(`no relationship found between node "${node}" and this object`);
  }
}

/**
 * NodeRestriction's check of a write: a node creates only its own Node and Lease (the
 * authorizer sees no name on a create, so the body's is checked here); and a Node's addresses
 * and kubelet endpoint, where the API reaches its kubelet, are changed by that node alone.
 */
export function nodeRestriction(user: { name: string; groups: string[] }, info: { group: string; resource: string }, body: unknown, old?: KubeObject): void {
  const node = nodeNameOf(user);
  if (info.group === '' && info.resource === 'nodes' && old && node !== old.metadata.name) {
    const where = (o: unknown) => JSON.stringify([(o as Node).status?.addresses ?? [], (o as Node).status?.daemonEndpoints ?? {}]);
    if (where(body) !== where(old)) {
      throw forbidden(`nodes "${old.metadata.name}" is forbidden: only node "${old.metadata.name}" may change its addresses and kubelet endpoint`, {
        name: old.metadata.name,
        kind: 'nodes',
      });
    }
  }
  if (node === undefined) return;
  const own = (info.group === '' && info.resource === 'nodes') || (info.group === 'coordination.k8s.io' && info.resource === 'leases');
  if (!own) return;
  const name = (body as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  if (name !== node) {
    throw forbidden(
      `${info.resource}${info.group ? `.${info.group}` : ''} "${String(name)}" is forbidden: node "${node}" is not allowed to create ${info.resource} "${String(name)}"`,
      {
        name: typeof name === 'string' ? name : undefined,
        group: info.group || undefined,
        kind: info.resource,
      },
    );
  }
}

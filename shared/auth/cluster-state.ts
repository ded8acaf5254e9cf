/**
 * What the API needs to reach kubelets, kept in the store for an API that keeps nothing of its
 * own (the AWS shape's function): the cluster CA's certificate, which signs every kubelet's
 * serving certificate (the API pins it), and each kubelet's log-server credential, which the API
 * sends to that kubelet alone. The credentials and the CA (whose key, where the API signs
 * kubelets' serving certificates itself, is kept with it) are internal objects the API does not
 * serve, sealed at rest (`SEALED_RESOURCES`) like Secrets.
 */
import { randomBytes } from 'node:crypto';
import { ignoreNotFound } from '../errors.js';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';

export const KUBELET_CREDENTIALS_RESOURCE = 'kubeletcredentials';
export const CLUSTER_CA_RESOURCE = 'clusterca';

interface KubeletCredential extends KubeObject {
  token: string;
}

interface ClusterCa extends KubeObject {
  certificate: string;
  /** The CA's private key (PEM), when the API signs kubelets' serving certificates itself. */
  key?: string;
}

async function put(store: Store, resource: string, object: KubeObject): Promise<void> {
  const name = object.metadata.name as string;
  const current = await store.get(resource, '', name).catch(ignoreNotFound);
  if (!current) await store.create(resource, object);
  else await store.update(resource, { ...object, metadata: { ...current.metadata } });
}

async function read<T extends KubeObject>(store: Store, resource: string, name: string): Promise<T | undefined> {
  return (await store.get(resource, '', name).catch(ignoreNotFound)) as T | undefined;
}

export function putKubeletCredential(store: Store, node: string, token: string): Promise<void> {
  return put(store, KUBELET_CREDENTIALS_RESOURCE, {
    apiVersion: 'skiff.dev/v1',
    kind: 'KubeletCredential',
    metadata: { name: node },
    token,
  } as KubeletCredential);
}

export async function kubeletCredential(store: Store, node: string): Promise<string | undefined> {
  return (await read<KubeletCredential>(store, KUBELET_CREDENTIALS_RESOURCE, node))?.token;
}

export function putClusterCa(store: Store, certificate: string, key?: string): Promise<void> {
  return put(store, CLUSTER_CA_RESOURCE, {
    apiVersion: 'skiff.dev/v1',
    kind: 'ClusterCA',
    metadata: { name: 'cluster' },
    certificate,
    ...(key ? { key } : {}),
  } as ClusterCa);
}

export async function clusterCa(store: Store): Promise<string | undefined> {
  return (await read<ClusterCa>(store, CLUSTER_CA_RESOURCE, 'cluster'))?.certificate;
}

export async function clusterCaKey(store: Store): Promise<string | undefined> {
  return (await read<ClusterCa>(store, CLUSTER_CA_RESOURCE, 'cluster'))?.key;
}

/** What a kubelet that joined with a bootstrap token serves its logs with. */
export interface KubeletServing {
  /** The credential the API sends it, kept in the store for the API. */
  token: string;
  /** Its serving certificate and key (PEM), signed by the cluster CA for its addresses. */
  certificate: string;
  key: string;
}

/**
 * Makes a kubelet's serving material: a new log-server credential, kept in the store (the
 * node's earlier one stops working), and a certificate for `addresses` signed with `caKey`.
 */
export async function issueKubeletServing(
  store: Store,
  node: string,
  addresses: string[],
  sign: (node: string, addresses: string[]) => { cert: string; key: string },
): Promise<KubeletServing> {
  const token = randomBytes(24).toString('base64url');
  await putKubeletCredential(store, node, token);
  const { cert, key } = sign(node, addresses);
  return { token, certificate: cert, key };
}

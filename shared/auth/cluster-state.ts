/**
 * What the API needs to reach kubelets, kept in the store for an API that keeps nothing of its
 * own (the AWS shape's function): the cluster CA's certificate, which signs every kubelet's
 * serving certificate (the API pins it), and each kubelet's log-server credential, which the API
 * sends to that kubelet alone. The credentials are internal objects the API does not serve, and
 * sealed at rest (`SEALED_RESOURCES`) like Secrets.
 */
import { isNotFound } from '../errors.js';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';

export const KUBELET_CREDENTIALS_RESOURCE = 'kubeletcredentials';
export const CLUSTER_CA_RESOURCE = 'clusterca';

interface KubeletCredential extends KubeObject {
  token: string;
}

interface ClusterCa extends KubeObject {
  certificate: string;
}

async function put(store: Store, resource: string, object: KubeObject): Promise<void> {
  const name = object.metadata.name as string;
  const current = await store.get(resource, '', name).catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (!current) await store.create(resource, object);
  else await store.update(resource, { ...object, metadata: { ...current.metadata } });
}

async function read<T extends KubeObject>(store: Store, resource: string, name: string): Promise<T | undefined> {
  return (await store.get(resource, '', name).catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  })) as T | undefined;
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

export function putClusterCa(store: Store, certificate: string): Promise<void> {
  return put(store, CLUSTER_CA_RESOURCE, { apiVersion: 'skiff.dev/v1', kind: 'ClusterCA', metadata: { name: 'cluster' }, certificate } as ClusterCa);
}

export async function clusterCa(store: Store): Promise<string | undefined> {
  return (await read<ClusterCa>(store, CLUSTER_CA_RESOURCE, 'cluster'))?.certificate;
}

/**
 * `pods/log` served by the kubelet of the pod's node: the API finds the node's address and
 * kubelet port (status.addresses, status.daemonEndpoints) and streams what the kubelet answers,
 * with follow, tailLines, sinceSeconds, previous and timestamps passed through. Errors come
 * back as a Kubernetes `Status`, with kube-apiserver's wording.
 */
import { typed } from '../../shared/api/objects.js';
import { badRequest } from '../../shared/api/status.js';
import type { KubeObject } from '../../shared/store/object.js';
import type { Store } from '../../shared/store/types.js';
import type { LogProvider } from './app.js';

const PASSED = ['follow', 'tailLines', 'sinceSeconds', 'previous', 'timestamps', 'limitBytes'];

/**
 * `credentialFor` names the credential each node's kubelet requires on its log server, one per
 * node: the API sends a node's own and no other, and calls no kubelet it holds none for (a
 * Node written by hand, pointing anywhere, gets nothing from it). Undefined: the kubelets ask
 * for none (a kubelet tested alone).
 */
export type KubeletCredentials = (nodeName: string) => string | undefined;

export function kubeletLogs(store: Store, credentialFor: KubeletCredentials | undefined): LogProvider {
  return async (pod: KubeObject, query) => {
    const name = pod.metadata.name ?? '';
    const spec = typed('pods', pod).spec;
    const containers = [...spec.containers, ...(spec.initContainers ?? [])].map((c) => c.name);
    let container = query.container;
    if (!container) {
      if (spec.containers.length !== 1) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
      container = containers[0];
    }
    if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    const nodeName = spec.nodeName ?? '';
    if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
    const node = await store.get('nodes', '', nodeName).catch(() => undefined);
    const status = node && typed('nodes', node).status;
    const address = status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    const port = status?.daemonEndpoints?.kubeletEndpoint?.Port;
    if (!address || !port) throw badRequest(`the kubelet of node ${nodeName} does not serve logs`);
    const token = credentialFor?.(nodeName);
    if (credentialFor && !token) throw badRequest(`the kubelet of node ${nodeName} is not one this cluster started: no credential to reach it`);
    const params = new URLSearchParams();
    for (const key of PASSED) if (query[key] !== undefined) params.set(key, String(query[key]));
    const url = `http://${address}:${port}/containerLogs/${encodeURIComponent(pod.metadata.namespace ?? '')}/${encodeURIComponent(name)}/${encodeURIComponent(container)}?${params}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    } catch (err) {
      throw badRequest(`the kubelet of node ${nodeName} did not answer: ${(err as Error).message}`);
    }
    if (!res.ok) throw badRequest((await res.text()) || `the kubelet of node ${nodeName} answered ${res.status}`);
    return new Response(res.body, { status: 200, headers: { 'content-type': 'text/plain' } });
  };
}

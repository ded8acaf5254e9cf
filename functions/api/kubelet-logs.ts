/**
 * `pods/log` served by the kubelet of the pod's node: the API finds the node's address and
 * kubelet port (status.addresses, status.daemonEndpoints) and streams what the kubelet answers,
 * with follow, tailLines, sinceSeconds, previous and timestamps passed through. Errors come
 * back as a Kubernetes `Status`, with kube-apiserver's wording.
 */
import { readFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { Readable } from 'node:stream';
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
export type KubeletCredentials = (nodeName: string) => string | undefined | Promise<string | undefined>;

export interface KubeletLogsOptions {
  /**
   * The CA that signed the kubelets' serving certificates, from a file or read when needed (the
   * AWS shape keeps it in the table). Given, kubelets are reached only over HTTPS whose
   * certificate that CA signed for the node's address (pinned: the system's CAs are not
   * trusted); a kubelet that serves anything else is not answered.
   */
  caFile?: string;
  ca?: () => Promise<string | undefined>;
}

export function kubeletLogs(store: Store, credentialFor: KubeletCredentials | undefined, options: KubeletLogsOptions = {}): LogProvider {
  let ca: string | undefined;
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
    const token = await credentialFor?.(nodeName);
    if (credentialFor && !token) throw badRequest(`the kubelet of node ${nodeName} is not one this cluster started: no credential to reach it`);
    const params = new URLSearchParams();
    for (const key of PASSED) if (query[key] !== undefined) params.set(key, String(query[key]));
    if (options.caFile) ca ??= readFileSync(options.caFile, 'utf8');
    if (options.ca) ca ??= await options.ca();
    // Asked to pin a CA and none is known: never fall back to plain HTTP.
    if (options.ca && !ca) throw badRequest(`no cluster CA is known, so the kubelet of node ${nodeName} cannot be reached securely`);
    const url = `${ca ? 'https' : 'http'}://${address}:${port}/containerLogs/${encodeURIComponent(pod.metadata.namespace ?? '')}/${encodeURIComponent(name)}/${encodeURIComponent(container)}?${params}`;
    let res: IncomingMessage;
    try {
      res = await get(url, token, ca);
    } catch (err) {
      throw badRequest(`the kubelet of node ${nodeName} did not answer: ${(err as Error).message}`);
    }
    if (res.statusCode !== 200) {
      let text = '';
      for await (const chunk of res) text += String(chunk);
      throw badRequest(text || `the kubelet of node ${nodeName} answered ${res.statusCode}`);
    }
    return new Response(Readable.toWeb(res) as ReadableStream, { status: 200, headers: { 'content-type': 'text/plain' } });
  };
}

function get(url: string, token: string | undefined, ca: string | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = ca ? httpsGet(url, { headers, ca }, resolve) : httpGet(url, { headers }, resolve);
    req.on('error', reject);
  });
}

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
import type { LogProvider, StreamProvider } from './app.js';

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

/** Where a pod's kubelet is reached: its base URL, the credential it requires, and the CA to pin. */
export interface KubeletReach {
  base: string;
  nodeName: string;
  token?: string;
  ca?: string;
}

/** Finds the kubelet of the pod's node, refusing what cannot be reached safely. */
function kubeletReach(store: Store, credentialFor: KubeletCredentials | undefined, options: KubeletLogsOptions) {
  const reachNode = nodeReach(store, credentialFor, options);
  return async (pod: KubeObject): Promise<KubeletReach> => {
    const name = pod.metadata.name ?? '';
    const nodeName = typed('pods', pod).spec.nodeName ?? '';
    if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
    return reachNode(nodeName);
  };
}

/** Finds a node's kubelet, refusing what cannot be reached safely. */
export function nodeReach(store: Store, credentialFor: KubeletCredentials | undefined, options: KubeletLogsOptions) {
  let ca: string | undefined;
  return async (nodeName: string): Promise<KubeletReach> => {
    const node = await store.get('nodes', '', nodeName).catch(() => undefined);
    const status = node && typed('nodes', node).status;
    const address = status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    const port = status?.daemonEndpoints?.kubeletEndpoint?.Port;
    if (!address || !port) throw badRequest(`the kubelet of node ${nodeName} does not serve logs`);
    const token = await credentialFor?.(nodeName);
    if (credentialFor && !token) throw badRequest(`the kubelet of node ${nodeName} is not one this cluster started: no credential to reach it`);
    if (options.caFile) ca ??= readFileSync(options.caFile, 'utf8');
    if (options.ca) ca ??= await options.ca();
    // Asked to pin a CA and none is known: never fall back to plain HTTP.
    if (options.ca && !ca) throw badRequest(`no cluster CA is known, so the kubelet of node ${nodeName} cannot be reached securely`);
    return { base: `${ca ? 'https' : 'http'}://${address}:${port}`, nodeName, token, ca };
  };
}

/** The container a request names, or the pod's only one; refused as kube-apiserver words it. */
export function containerOf(pod: KubeObject, asked: string | undefined, includeInit = true): string {
  const name = pod.metadata.name ?? '';
  const spec = typed('pods', pod).spec;
  const containers = [...spec.containers, ...(includeInit ? (spec.initContainers ?? []) : [])].map((c) => c.name);
  if (!asked) {
    if (spec.containers.length !== 1) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    return containers[0];
  }
  if (!containers.includes(asked)) throw badRequest(`container ${asked} is not valid for pod ${name}`);
  return asked;
}

export function kubeletLogs(store: Store, credentialFor: KubeletCredentials | undefined, options: KubeletLogsOptions = {}): LogProvider {
  const reach = kubeletReach(store, credentialFor, options);
  return async (pod: KubeObject, query) => {
    const name = pod.metadata.name ?? '';
    const container = containerOf(pod, query.container);
    const kubelet = await reach(pod);
    const params = new URLSearchParams();
    for (const key of PASSED) if (query[key] !== undefined) params.set(key, String(query[key]));
    const url = `${kubelet.base}/containerLogs/${encodeURIComponent(pod.metadata.namespace ?? '')}/${encodeURIComponent(name)}/${encodeURIComponent(container)}?${params}`;
    let res: IncomingMessage;
    try {
      res = await get(url, kubelet.token, kubelet.ca);
    } catch (err) {
      throw badRequest(`the kubelet of node ${kubelet.nodeName} did not answer: ${(err as Error).message}`);
    }
    if (res.statusCode !== 200) {
      let text = '';
      for await (const chunk of res) text += String(chunk);
      throw badRequest(text || `the kubelet of node ${kubelet.nodeName} answered ${res.statusCode}`);
    }
    return new Response(Readable.toWeb(res) as ReadableStream, { status: 200, headers: { 'content-type': 'text/plain' } });
  };
}

/**
 * exec, attach and port-forward: checked as kube-apiserver checks them, then the kubelet URL the
 * API passes the client's WebSocket through to, with the node's credential.
 */
export function kubeletStreams(store: Store, credentialFor: KubeletCredentials | undefined, options: KubeletLogsOptions = {}): StreamProvider {
  const reach = kubeletReach(store, credentialFor, options);
  return async (pod, kind, query) => {
    const name = pod.metadata.name ?? '';
    const phase = typed('pods', pod).status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed')
      throw badRequest(`cannot ${kind === 'portforward' ? 'port-forward to' : `${kind} into`} a container in a completed pod; current phase is ${phase}`);
    const kubelet = await reach(pod);
    const namespace = encodeURIComponent(pod.metadata.namespace ?? '');
    const params = new URLSearchParams();
    let path: string;
    if (kind === 'portforward') {
      for (const ports of query.ports ?? []) params.append('ports', ports);
      path = `/portForward/${namespace}/${encodeURIComponent(name)}`;
    } else {
      const container = containerOf(pod, query.container?.[0], false);
      const command = query.command ?? [];
      if (kind === 'exec' && command.length === 0) throw badRequest('you must specify at least one command for the container');
      const on = (key: string) => ['true', '1'].includes(query[key]?.[0] ?? '');
      if (!on('stdin') && !on('stdout') && !on('stderr')) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
      for (const c of command) params.append('command', c);
      for (const key of ['stdin', 'stdout', 'stderr', 'tty']) if (on(key)) params.set(key, 'true');
      path = `/${kind}/${namespace}/${encodeURIComponent(name)}/${encodeURIComponent(container)}`;
    }
    return { url: `${kubelet.base}${path}?${params}`, nodeName: kubelet.nodeName, token: kubelet.token, ca: kubelet.ca };
  };
}

export function get(url: string, token: string | undefined, ca: string | undefined, timeoutMs?: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = ca ? httpsGet(url, { headers, ca, timeout: timeoutMs }, resolve) : httpGet(url, { headers, timeout: timeoutMs }, resolve);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

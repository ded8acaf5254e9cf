/**
 * The Services the system keeps. The `kubernetes` Service in `default`, as kube-apiserver keeps it: the service range's first
 * address, port 443 (`https`), and Endpoints and an EndpointSlice naming where the API listens,
 * so that a pod reaches the API at `KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT` through its
 * node's proxy. Written at each start of an API that listens on an address (the embedded shape;
 * the AWS shape's API is a Function URL, which no address names). Made again if deleted at the
 * next start, and corrected if the API moved. And `kube-system/kube-dns` (the range's tenth
 * address, port 53 over UDP and TCP), answered by the cluster DNS server `skiff up` runs, or in
 * the AWS shape (made at the API function's cold start) by each node's kubelet.
 */
import { isStoreError } from '../store/errors.js';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';
import { ALLOCATIONS, type Allocation, dnsServiceIP, hold, kubernetesServiceIP } from './service-allocation.js';

const MANAGER = 'skiff-apiserver';

/** Creates `object`, or replaces what is stored when it differs in the fields that matter. */
async function put(store: Store, resource: string, object: KubeObject, fields: string[]): Promise<void> {
  try {
    await store.create(resource, object);
  } catch (err) {
    if (!isStoreError(err, 'AlreadyExists')) throw err;
    const current = await store.get(resource, object.metadata.namespace ?? '', object.metadata.name ?? '');
    const pick = (o: KubeObject) => JSON.stringify(fields.map((f) => (o as Record<string, unknown>)[f]));
    if (pick(current) !== pick(object))
      await store.update(resource, { ...current, ...Object.fromEntries(fields.map((f) => [f, (object as Record<string, unknown>)[f]])) });
  }
}

/**
 * A Service the system keeps (no selector): its ClusterIP held, its ports, and Endpoints and an
 * EndpointSlice naming one address; with no address, the Service alone (each node answers it).
 */
export async function reconcileSystemService(
  store: Store,
  service: { namespace: string; name: string; clusterIP: string; labels: Record<string, string> },
  ports: { name: string; port: number; protocol: 'TCP' | 'UDP'; targetPort: number }[],
  ip: string | undefined,
): Promise<void> {
  const { namespace, name, clusterIP } = service;
  if (!(await hold(store, `ip-${clusterIP}`, { namespace, name }))) {
    const holder = (await store.get(ALLOCATIONS, '', `ip-${clusterIP}`)) as Allocation;
    if (holder.spec.namespace !== namespace || holder.spec.service !== name)
      throw new Error(`${clusterIP}, the address of ${namespace}/${name}, is held by the Service ${holder.spec.namespace}/${holder.spec.service}`);
  }
  const spec = {
    type: 'ClusterIP',
    clusterIP,
    clusterIPs: [clusterIP],
    ports,
    sessionAffinity: 'None',
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    internalTrafficPolicy: 'Cluster',
  };
  const meta = (labels: Record<string, string>) => ({ name, namespace, labels });
  await put(store, 'services', { apiVersion: 'v1', kind: 'Service', metadata: meta(service.labels), spec, status: { loadBalancer: {} } }, ['spec']);
  if (ip === undefined) return;
  const endpointPorts = ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol }));
  const endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: meta({ 'endpointslice.kubernetes.io/skip-mirror': 'true' }),
    subsets: [{ addresses: [{ ip }], ports: endpointPorts }],
  };
  await put(store, 'endpoints', endpoints, ['subsets']);
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta({ 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': MANAGER }),
    addressType: 'IPv4',
    endpoints: [{ addresses: [ip], conditions: { ready: true, serving: true, terminating: false } }],
    ports: endpointPorts,
  };
  await put(store, 'endpointslices.discovery.k8s.io', slice, ['endpoints', 'ports']);
}

export function reconcileKubernetesService(store: Store, api: { ip: string; port: number }): Promise<void> {
  return reconcileSystemService(
    store,
    { namespace: 'default', name: 'kubernetes', clusterIP: kubernetesServiceIP(), labels: { component: 'apiserver', provider: 'kubernetes' } },
    [{ name: 'https', port: 443, protocol: 'TCP', targetPort: api.port }],
    api.ip,
  );
}

/**
 * `kube-system/kube-dns`, at the range's tenth address as Kubernetes has it, answered by the
 * cluster DNS server at `dns`; without one (the AWS shape), by each node's kubelet.
 */
export function reconcileDnsService(store: Store, dns?: { ip: string; port: number }): Promise<void> {
  return reconcileSystemService(
    store,
    { namespace: 'kube-system', name: 'kube-dns', clusterIP: dnsServiceIP(), labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' } },
    [
      { name: 'dns', port: 53, protocol: 'UDP', targetPort: dns?.port ?? 53 },
      { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: dns?.port ?? 53 },
    ],
    dns?.ip,
  );
}

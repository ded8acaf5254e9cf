/**
 * The `kubernetes` Service in `default`, as kube-apiserver keeps it: the service range's first
 * address, port 443 (`https`), and Endpoints and an EndpointSlice naming where the API listens,
 * so that a pod reaches the API at `KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT` through its
 * node's proxy. Written at each start of an API that listens on an address (the embedded shape;
 * the AWS shape's API is a Function URL, which no address names). Made again if deleted at the
 * next start, and corrected if the API moved.
 */
import { isStoreError } from '../store/errors.js';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';
import { ALLOCATIONS, kubernetesServiceIP } from './service-allocation.js';

const NAME = 'kubernetes';
const NAMESPACE = 'default';
const MANAGER = 'skiff-apiserver';

/** Creates `object`, or replaces what is stored when it differs in the fields that matter. */
async function put(store: Store, resource: string, object: KubeObject, fields: string[]): Promise<void> {
  try {
    await store.create(resource, object);
  } catch (err) {
    if (!isStoreError(err, 'AlreadyExists')) throw err;
    const current = await store.get(resource, NAMESPACE, NAME);
    const pick = (o: KubeObject) => JSON.stringify(fields.map((f) => (o as Record<string, unknown>)[f]));
    if (pick(current) !== pick(object))
      await store.update(resource, { ...current, ...Object.fromEntries(fields.map((f) => [f, (object as Record<string, unknown>)[f]])) });
  }
}

export async function reconcileKubernetesService(store: Store, api: { ip: string; port: number }): Promise<void> {
  const clusterIP = kubernetesServiceIP();
  try {
    await store.create(ALLOCATIONS, {
      apiVersion: 'skiff.dev/v1',
      kind: 'ServiceAllocation',
      metadata: { name: `ip-${clusterIP}` },
      spec: { namespace: NAMESPACE, service: NAME },
    });
  } catch (err) {
    if (!isStoreError(err, 'AlreadyExists')) throw err;
  }
  const labels = { component: 'apiserver', provider: 'kubernetes' };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: NAME, namespace: NAMESPACE, labels },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: api.port }],
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
  await put(store, 'services', service, ['spec']);
  const endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: NAME, namespace: NAMESPACE, labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: api.ip }], ports: [{ name: 'https', port: api.port, protocol: 'TCP' }] }],
  };
  await put(store, 'endpoints', endpoints, ['subsets']);
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: NAME, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': NAME, 'endpointslice.kubernetes.io/managed-by': MANAGER } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [api.ip], conditions: { ready: true, serving: true, terminating: false } }],
    ports: [{ name: 'https', port: api.port, protocol: 'TCP' }],
  };
  await put(store, 'endpointslices.discovery.k8s.io', slice, ['endpoints', 'ports']);
}

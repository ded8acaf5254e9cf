/**
 * The endpoints controller: for each Service with a selector, the EndpointSlices (at most 100
 * endpoints a slice, one set of slices per set of resolved ports) and the legacy Endpoints of the
 * pods it selects, as kube-controller-manager's endpointslice and endpoints controllers keep
 * them. An endpoint is a pod with an address that has not finished: `ready` when the pod is
 * Ready and not terminating, `serving` when Ready, `terminating` once deleted (a terminating
 * pod is in the slices, so a proxy can drain it, and out of the Endpoints). A named targetPort
 * is resolved in each pod's containers. Only what changed is written.
 *
 * A LoadBalancer Service is given the addresses of the Ready nodes as its load balancer's
 * (`status.loadBalancer.ingress`), where each node's proxy answers its ports, as k3s's service
 * load balancer does.
 *
 * It also lets go of ClusterIPs and NodePorts held for a Service that no longer holds them
 * (changed), is gone, or never came (a create that failed after allocating: a minute after they
 * were taken), as
 * kube-apiserver's allocator repair loop does (`../api/service-allocation.ts`).
 */
import { createHash } from 'node:crypto';
import { typedList } from '../api/objects.js';
import { ALLOCATIONS, type Allocation, heldBy } from '../api/service-allocation.js';
import type { Pod } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isAlreadyExists, isConflict, isNotFound } from '../errors.js';
import type { KubeObject } from '../store/object.js';
import { selectorFromMatchLabels, matchLabels } from '../store/selectors.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { controllerRef, isPodReady } from './replicaset.js';
import type { Controller, ReconcileResult } from './types.js';

const SLICES = 'endpointslices.discovery.k8s.io';
const SERVICE_NAME = 'kubernetes.io/service-name';
const MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
const MANAGER = 'endpointslice-controller.k8s.io';
const MAX_PER_SLICE = 100;
const ALLOCATIONS_KEY = '~allocations';
/** The LoadBalancer Services, looked at again when the nodes change. */
const LOAD_BALANCERS_KEY = '~loadbalancers';
/** `~free/<namespace>/<name>/<allocation>,...`: what a deleted Service held, let go at once. */
const FREE = '~free/';
/** How long an allocation may wait for its Service (a create in flight) before it is let go. */
const ALLOCATION_GRACE_MS = 60_000;
/** How long one its Service holds no more is kept (an update that holds it may still be landing). */
const CHANGED_GRACE_MS = 5_000;

interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
}
type Service = KubeObject & { spec?: { selector?: Record<string, string>; ports?: ServicePort[]; type?: string; publishNotReadyAddresses?: boolean } };
interface Endpoint {
  pod: Pod;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}
type Resolved = { name?: string; port: number; protocol: string }[];

/** The service's ports as this pod serves them (a named targetPort looked up in its containers); a port it lacks is left out. */
function resolvePorts(service: Service, pod: Pod): Resolved {
  const out: Resolved = [];
  for (const p of service.spec?.ports ?? []) {
    const target = p.targetPort ?? p.port;
    const port =
      typeof target === 'number'
        ? target
        : /^\d+$/.test(target)
          ? Number(target)
          : pod.spec.containers.flatMap((c) => c.ports ?? []).find((cp) => cp.name === target)?.containerPort;
    if (port !== undefined) out.push({ ...(p.name ? { name: p.name } : {}), port, protocol: p.protocol ?? 'TCP' });
  }
  return out;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 6);
const targetRef = (pod: Pod) => ({ kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid });
/** A pod's hostname within the Service its subdomain names (a StatefulSet's pods in their headless Service). */
const hostnameIn = (pod: Pod, service: Service) => (pod.spec.hostname && pod.spec.subdomain === service.metadata.name ? { hostname: pod.spec.hostname } : {});
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class EndpointsController implements Controller {
  readonly name = 'endpoints';

  constructor(private readonly store: Store) {}

  keysFor(event: ChangeEvent): string[] {
    const meta = event.object.metadata;
    if (event.resource === 'services')
      return event.type === 'DELETED'
        ? [`${meta.namespace}/${meta.name}`, `${FREE}${meta.namespace}/${meta.name}/${heldBy(event.object).join(',')}`]
        : // A changed Service may have let go of NodePorts (a type without them): the sweep frees them.
          [`${meta.namespace}/${meta.name}`, ...(event.type === 'MODIFIED' ? [ALLOCATIONS_KEY] : [])];
    if (event.resource === 'pods') return [`${meta.namespace}/*`];
    if (event.resource === 'nodes') return [LOAD_BALANCERS_KEY];
    if (event.resource === ALLOCATIONS && event.type === 'ADDED') return [ALLOCATIONS_KEY];
    return [];
  }

  async allKeys(): Promise<string[]> {
    const services = (await this.store.list('services')).items;
    return [...services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`), ALLOCATIONS_KEY];
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    if (key === ALLOCATIONS_KEY) return this.releaseOrphans();
    if (key === LOAD_BALANCERS_KEY) return this.loadBalance((await this.store.list('services')).items as Service[]);
    if (key.startsWith(FREE)) return this.free(key.slice(FREE.length));
    const [namespace, name] = key.split('/') as [string, string];
    const services = (
      name === '*' ? (await this.store.list('services', { namespace })).items : [await this.store.get('services', namespace, name).catch(ignoreNotFound)]
    ) as (Service | undefined)[];
    if (name !== '*' && !services[0]) return this.forget(namespace, name);
    // A load balancer follows its Service and the nodes, not the pods: looked at on its own key only.
    if (name !== '*') await this.loadBalance(services as Service[]);
    const selecting = services.filter(
      (s): s is Service => !!s && !!s.spec?.selector && Object.keys(s.spec.selector).length > 0 && s.spec.type !== 'ExternalName',
    );
    if (selecting.length === 0) return;
    const pods = typedList('pods', (await this.store.list('pods', { namespace })).items);
    for (const service of selecting) await this.sync(service, pods);
  }

  private async sync(service: Service, pods: Pod[]): Promise<void> {
    const selector = selectorFromMatchLabels(service.spec?.selector);
    const endpoints: Endpoint[] = pods
      .filter((p) => p.status?.podIP && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed' && matchLabels(selector, p.metadata.labels))
      .sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)))
      .map((pod) => {
        const terminating = !!pod.metadata.deletionTimestamp;
        const serving = isPodReady(pod) || service.spec?.publishNotReadyAddresses === true;
        return { pod, ready: serving && !terminating, serving, terminating };
      });
    // One group per set of ports the pods resolve to (a named targetPort may differ by pod).
    const groups = new Map<string, { ports: Resolved; endpoints: Endpoint[] }>();
    for (const e of endpoints) {
      const ports = resolvePorts(service, e.pod);
      const k = JSON.stringify(ports);
      groups.set(k, { ports, endpoints: [...(groups.get(k)?.endpoints ?? []), e] });
    }
    await this.writeSlices(service, [...groups.values()]);
    await this.writeEndpoints(service, [...groups.values()]);
  }

  private async writeSlices(service: Service, groups: { ports: Resolved; endpoints: Endpoint[] }[]): Promise<void> {
    const { namespace, name } = service.metadata as { namespace: string; name: string };
    const desired: KubeObject[] = [];
    for (const g of groups.length ? groups : [{ ports: [], endpoints: [] }]) {
      for (let i = 0; i === 0 || i * MAX_PER_SLICE < g.endpoints.length; i++) {
        desired.push({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            name: `${name}-${hash(JSON.stringify(g.ports))}-${i}`,
            namespace,
            labels: { [SERVICE_NAME]: name, [MANAGED_BY]: MANAGER },
            ownerReferences: [controllerRef(service, 'v1', 'Service')],
          },
          addressType: 'IPv4',
          endpoints: g.endpoints.slice(i * MAX_PER_SLICE, (i + 1) * MAX_PER_SLICE).map((e) => ({
            addresses: [e.pod.status?.podIP as string],
            ...hostnameIn(e.pod, service),
            conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
            ...(e.pod.spec.nodeName ? { nodeName: e.pod.spec.nodeName } : {}),
            targetRef: targetRef(e.pod),
          })),
          ports: g.ports,
        });
      }
    }
    const existing = (await this.store.list(SLICES, { namespace, labelSelector: `${SERVICE_NAME}=${name},${MANAGED_BY}=${MANAGER}` })).items;
    for (const slice of desired) {
      const current = existing.find((s) => s.metadata.name === slice.metadata.name);
      if (!current) await this.store.create(SLICES, slice).catch(ignore(isAlreadyExists));
      else if (!same([current.endpoints, current.ports, current.metadata.ownerReferences], [slice.endpoints, slice.ports, slice.metadata.ownerReferences]))
        await this.store
          .update(SLICES, {
            ...current,
            endpoints: slice.endpoints,
            ports: slice.ports,
            metadata: { ...current.metadata, ownerReferences: slice.metadata.ownerReferences },
          })
          .catch(ignore(isConflict));
    }
    for (const stale of existing.filter((s) => !desired.some((d) => d.metadata.name === s.metadata.name)))
      await this.store.delete(SLICES, namespace, stale.metadata.name as string).catch(ignoreNotFound);
  }

  /** The legacy Endpoints: ready addresses and not-ready ones per port set; terminating pods are left out. */
  private async writeEndpoints(service: Service, groups: { ports: Resolved; endpoints: Endpoint[] }[]): Promise<void> {
    const { namespace, name } = service.metadata as { namespace: string; name: string };
    const address = (e: Endpoint) => ({
      ip: e.pod.status?.podIP as string,
      ...hostnameIn(e.pod, service),
      ...(e.pod.spec.nodeName ? { nodeName: e.pod.spec.nodeName } : {}),
      targetRef: targetRef(e.pod),
    });
    const subsets = groups
      .map((g) => {
        const live = g.endpoints.filter((e) => !e.terminating);
        const ready = live.filter((e) => e.ready).map(address);
        const notReady = live.filter((e) => !e.ready).map(address);
        return { ...(ready.length ? { addresses: ready } : {}), ...(notReady.length ? { notReadyAddresses: notReady } : {}), ports: g.ports };
      })
      .filter((s) => s.addresses || s.notReadyAddresses);
    const current = await this.store.get('endpoints', namespace, name).catch(ignoreNotFound);
    const labels = { ...service.metadata.labels };
    if (!current) {
      await this.store
        .create('endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace, labels }, subsets })
        .catch(ignore(isAlreadyExists));
    } else if (!same(current.subsets ?? [], subsets) || !same(current.metadata.labels ?? {}, labels)) {
      await this.store.update('endpoints', { ...current, metadata: { ...current.metadata, labels }, subsets }).catch(ignore(isConflict));
    }
  }

  /** The LoadBalancer Services' load balancers: the Ready nodes' addresses (listed once), where their proxies answer the ports. */
  private async loadBalance(services: Service[]): Promise<void> {
    const balanced = services.filter((s) => s.spec?.type === 'LoadBalancer');
    if (balanced.length === 0) return;
    const nodes = typedList('nodes', (await this.store.list('nodes')).items);
    const ips = nodes
      .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      .map((n) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address)
      .filter((ip): ip is string => !!ip)
      .sort();
    const ingress = ips.map((ip) => ({ ip, ipMode: 'VIP' }));
    for (const service of balanced) {
      const current = service as KubeObject & { status?: { loadBalancer?: { ingress?: unknown[] } } };
      if (same(current.status?.loadBalancer?.ingress ?? [], ingress)) continue;
      await this.store
        .update('services', { ...current, status: { ...current.status, loadBalancer: ingress.length ? { ingress } : {} } })
        .catch(ignore(isConflict, isNotFound));
    }
  }

  /** A Service gone: its Endpoints and slices go with it (the slices' owner reference would take them too, later). */
  private async forget(namespace: string, name: string): Promise<void> {
    await this.store.delete('endpoints', namespace, name).catch(ignoreNotFound);
    const slices = (await this.store.list(SLICES, { namespace, labelSelector: `${SERVICE_NAME}=${name},${MANAGED_BY}=${MANAGER}` })).items;
    for (const s of slices) await this.store.delete(SLICES, namespace, s.metadata.name as string).catch(ignore(isNotFound));
  }

  /** Lets go of what a deleted Service held, unless a Service of that name holds it again. */
  private async free(what: string): Promise<void> {
    const [namespace, name, list] = what.split('/') as [string, string, string];
    const again = await this.store.get('services', namespace, name).catch(ignoreNotFound);
    const keep = new Set(again ? heldBy(again) : []);
    for (const held of list.split(',').filter((h) => h && !keep.has(h))) {
      const allocation = (await this.store.get(ALLOCATIONS, '', held).catch(ignoreNotFound)) as Allocation | undefined;
      if (allocation?.spec.namespace === namespace && allocation.spec.service === name)
        await this.store.delete(ALLOCATIONS, '', held, { preconditions: { uid: allocation.metadata.uid } }).catch(ignore(isNotFound, isConflict));
    }
  }

  /** Lets go of addresses and ports no Service holds, once they are a minute old; comes back for younger ones. */
  private async releaseOrphans(): Promise<ReconcileResult | void> {
    const [allocations, services] = await Promise.all([this.store.list(ALLOCATIONS), this.store.list('services')]);
    const held = new Set(services.items.flatMap((s) => heldBy(s).map((h) => `${s.metadata.namespace}/${s.metadata.name}/${h}`)));
    const existing = new Set(services.items.map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
    let recheck: number | undefined;
    for (const a of allocations.items as Allocation[]) {
      if (held.has(`${a.spec.namespace}/${a.spec.service}/${a.metadata.name}`)) continue;
      const age = Date.now() - Date.parse(a.metadata.creationTimestamp ?? '');
      // Its Service is there and holds it no more (changed type or ports): free in a moment (an
      // update holding it may be landing). No Service: it may be on its way, for a minute.
      const grace = existing.has(`${a.spec.namespace}/${a.spec.service}`) ? CHANGED_GRACE_MS : ALLOCATION_GRACE_MS;
      if (age >= grace) await this.store.delete(ALLOCATIONS, '', a.metadata.name as string).catch(ignoreNotFound);
      else recheck = Math.min(recheck ?? grace, grace - age + 1000);
    }
    return recheck === undefined ? undefined : { requeueAfterMs: recheck };
  }
}

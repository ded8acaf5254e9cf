/**
 * ClusterIPs and NodePorts that are unique across the cluster, however many API instances
 * create Services at once (every Lambda is one). kube-apiserver keeps a bitmap per range, and
 * since 1.31 an IPAddress object per address; here each address or port held is an internal
 * store object named after it (`ip-127.96.3.4`, `port-30080`), made only if absent, so two
 * Services can never hold the same one. The endpoints controller (shared/controllers/endpoints.ts)
 * lets go of those whose Service has gone, or never came (a create that failed after allocating).
 *
 * The service range is `SKIFF_SERVICE_CIDR` (default 127.96.0.0/16, on loopback, so that a
 * ClusterIP can answer on the machine of the node that proxies it without privileges); its
 * first address is the `kubernetes` Service's and its tenth the cluster DNS's, as in Kubernetes.
 * NodePorts are 30000-32767.
 */
import { randomInt } from 'node:crypto';
import { type Cidr, ipOf, isHostOf, parseCidr } from '../net/cidr.js';
import { isStoreError } from '../store/errors.js';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';
import { findResource } from './resources.js';
import { invalid } from './status.js';
import { asArray, asObj, invalidValue, isObj } from './validation.js';

export const ALLOCATIONS = 'serviceallocations';
export const DEFAULT_SERVICE_CIDR = '127.96.0.0/16';
export const NODE_PORTS = { first: 30000, last: 32767 };

export interface Allocation extends KubeObject {
  spec: { namespace: string; service: string };
}

/** The service range: its first address as a number, and how many it holds. */
export const serviceRange = (cidr = process.env.SKIFF_SERVICE_CIDR || DEFAULT_SERVICE_CIDR): Cidr => parseCidr(cidr, 'the service range');

/** The `kubernetes` Service's address: the range's first. */
export const kubernetesServiceIP = () => ipOf(serviceRange().base + 1);
/** The cluster DNS Service's address: the range's tenth, as Kubernetes' tools place it. */
export const dnsServiceIP = () => ipOf(serviceRange().base + 10);

/** Holds `name` for the Service, or answers false when another holds it. */
export async function hold(store: Store, name: string, service: { namespace: string; name: string }): Promise<boolean> {
  const allocation: Allocation = {
    apiVersion: 'skiff.dev/v1',
    kind: 'ServiceAllocation',
    metadata: { name },
    spec: { namespace: service.namespace, service: service.name },
  };
  try {
    await store.create(ALLOCATIONS, allocation);
    return true;
  } catch (err) {
    if (isStoreError(err, 'AlreadyExists')) return false;
    throw err;
  }
}

/** Draws free values until one is held: at random, then in order from a random start (a full range is an error). */
async function holdOne(
  store: Store,
  service: { namespace: string; name: string },
  first: number,
  count: number,
  nameOf: (n: number) => string,
): Promise<number | undefined> {
  for (let attempt = 0; attempt < 16; attempt++) {
    const n = first + randomInt(count);
    if (await hold(store, nameOf(n), service)) return n;
  }
  const start = randomInt(count);
  for (let k = 0; k < count; k++) {
    const n = first + ((start + k) % count);
    if (await hold(store, nameOf(n), service)) return n;
  }
  return undefined;
}

/**
 * Gives a new Service its ClusterIP (unless headless or ExternalName) and the NodePorts its type
 * needs, holding each; what the client asked for is checked (in the range, not held by another)
 * and held. A dry run is answered with free values, holding none.
 */
export async function allocateService(store: Store, object: KubeObject, dryRun = false): Promise<void> {
  const spec = asObj(object.spec);
  const service = { namespace: object.metadata.namespace ?? '', name: object.metadata.name ?? '' };
  const refuse = (field: string, value: unknown, why: string) => {
    throw invalid(findResource('', 'v1', 'services')!, service.name, [invalidValue(field, value, why)]);
  };
  const claim = async (name: string) => dryRun || hold(store, name, service);
  if (spec.type !== 'ExternalName' && spec.clusterIP !== 'None') {
    const { cidr, base, size } = serviceRange();
    if (typeof spec.clusterIP === 'string' && spec.clusterIP !== '') {
      if (!isHostOf(serviceRange(), spec.clusterIP))
        refuse('spec.clusterIP', spec.clusterIP, `provided IP is not in the valid range. The range of valid IPs is ${cidr}`);
      if (!(await claim(`ip-${spec.clusterIP}`))) refuse('spec.clusterIP', spec.clusterIP, 'provided IP is already allocated');
    } else {
      // The first ten addresses are the system's (the kubernetes Service, cluster DNS): drawn past them.
      const [first, count] = [base + 11, size - 12];
      const n = count < 1 ? undefined : dryRun ? first + randomInt(count) : await holdOne(store, service, first, count, (x) => `ip-${ipOf(x)}`);
      if (n === undefined) refuse('spec.clusterIP', '', `no address is left in the service range ${cidr}`);
      spec.clusterIP = ipOf(n as number);
    }
    spec.clusterIPs = [spec.clusterIP];
  }
  await allocateNodePorts(store, object, undefined, dryRun);
}

/**
 * The NodePorts a Service's type needs (NodePort, LoadBalancer), at create or on an update that
 * changes its type or ports: a port keeps the NodePort it had; a new one is held, as asked or
 * drawn; a type without NodePorts has them cleared (those let go are released by the endpoints
 * controller's sweep).
 */
export async function allocateNodePorts(store: Store, object: KubeObject, old: KubeObject | undefined, dryRun = false): Promise<void> {
  const spec = asObj(object.spec);
  const service = { namespace: object.metadata.namespace ?? '', name: object.metadata.name ?? '' };
  const refuse = (field: string, value: unknown, why: string) => {
    throw invalid(findResource('', 'v1', 'services')!, service.name, [invalidValue(field, value, why)]);
  };
  const ports = asArray(spec.ports).filter(isObj);
  if (spec.type !== 'NodePort' && spec.type !== 'LoadBalancer') {
    for (const p of ports) delete p.nodePort;
    return;
  }
  const had = new Map(
    asArray(asObj(old?.spec).ports)
      .filter(isObj)
      .filter((p) => typeof p.nodePort === 'number')
      .map((p) => [`${p.port}/${p.protocol ?? 'TCP'}`, p.nodePort as number]),
  );
  const held = new Set(had.values());
  const count = NODE_PORTS.last - NODE_PORTS.first + 1;
  for (const [i, p] of ports.entries()) {
    const field = `spec.ports[${i}].nodePort`;
    if (typeof p.nodePort === 'number' && p.nodePort !== 0) {
      if (held.has(p.nodePort)) continue;
      if (p.nodePort < NODE_PORTS.first || p.nodePort > NODE_PORTS.last)
        refuse(field, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORTS.first}-${NODE_PORTS.last}`);
      if (!dryRun && !(await hold(store, `port-${p.nodePort}`, service))) refuse(field, p.nodePort, 'provided port is already allocated');
      continue;
    }
    const kept = had.get(`${p.port}/${p.protocol ?? 'TCP'}`);
    if (kept !== undefined) {
      p.nodePort = kept;
      continue;
    }
    const n = dryRun ? NODE_PORTS.first + randomInt(count) : await holdOne(store, service, NODE_PORTS.first, count, (x) => `port-${x}`);
    if (n === undefined) refuse(field, 0, 'no port is left in the node port range');
    p.nodePort = n;
  }
}

/** The allocation names a Service holds. */
export function heldBy(service: KubeObject): string[] {
  const spec = asObj(service.spec);
  const ips = asArray(spec.clusterIPs).filter((ip): ip is string => typeof ip === 'string' && ip !== 'None');
  const ports = asArray(spec.ports)
    .map((p) => asObj(p).nodePort)
    .filter((n): n is number => typeof n === 'number' && n > 0);
  return [...ips.map((ip) => `ip-${ip}`), ...ports.map((n) => `port-${n}`)];
}

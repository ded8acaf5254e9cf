/**
 * ResourceQuota and LimitRange at admission, as kube-apiserver's ResourceQuota and LimitRanger
 * plugins do them, in Kubernetes' words:
 * - a LimitRange's `Container` limits fill in a container's missing requests and limits
 *   (`defaultRequest`, `default`) and bound them (`min`, `max`, `maxLimitRequestRatio`); `Pod`
 *   limits bound the pod's sums; `PersistentVolumeClaim` limits bound a claim's storage;
 * - a create that would take a quota's `used` past its `hard` is refused (403, `exceeded quota:
 *   q, requested: pods=1, used: pods=2, limited: pods=2`); a pod that names no request or limit a
 *   quota counts is refused (`must specify limits.cpu for: main`). The charge is written on the
 *   quota's status with compare-and-swap, so two creates at once cannot both take the last room;
 *   the resource-quota controller recounts from what exists, which also gives back what a
 *   refused write had charged.
 * `usageOf` is the evaluators' part (what an object takes of each resource), shared with the
 * controller.
 */
import type { KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';
import { LIMIT_RANGES, type LimitRange, RESOURCE_QUOTAS, type ResourceQuota } from './kinds/quota.js';
import { formatBytes, formatCpu, parseBytes, parseCpu } from './quantity.js';
import { isTerminal } from './objects.js';
import type { ResourceInfo } from './resources.js';
import type { Container, Pod } from './schemas/index.js';
import { forbidden } from './status.js';
import { asObj } from './validation.js';

type Usage = Map<string, number>;
const COMPUTE = ['cpu', 'memory', 'ephemeral-storage'];

/** `cpu`, `requests.cpu`, `limits.cpu`: counted in millicores; the rest in bytes or units. */
const isCpu = (resource: string) => resource === 'cpu' || resource.endsWith('.cpu');
const amount = (resource: string, value: unknown): number => (isCpu(resource) ? parseCpu(value as string) : parseBytes(value as string));
const format = (resource: string, value: number): string =>
  isCpu(resource) ? formatCpu(value) : /memory|storage/.test(resource) ? formatBytes(value) : String(value);

/** A pod's requests or limits of a resource: the containers' sum, or the largest init container's if more, and the overhead. */
function podAmount(pod: Pod, kind: 'requests' | 'limits', resource: string): number {
  const of = (c: Container) => {
    const v = c.resources?.[kind]?.[resource];
    return v === undefined ? 0 : amount(resource, v);
  };
  const sum = pod.spec.containers.reduce((n, c) => n + of(c), 0);
  const init = Math.max(0, ...(pod.spec.initContainers ?? []).map(of));
  const overhead = pod.spec.overhead?.[resource];
  return Math.max(sum, init) + (overhead === undefined ? 0 : amount(resource, overhead));
}

/** What `object` of `resource` (a store key) takes of each quota resource; nothing for a finished pod. */
export function usageOf(resource: string, object: KubeObject): Usage {
  const [plural, ...group] = resource.split('.');
  const usage: Usage = new Map([[`count/${resource}`, 1]]);
  if (
    group.length === 0 &&
    ['pods', 'services', 'configmaps', 'secrets', 'persistentvolumeclaims', 'replicationcontrollers', 'resourcequotas'].includes(plural)
  )
    usage.set(plural, 1);
  if (resource === 'pods') {
    const pod = object as Pod;
    if (isTerminal(pod)) return new Map();
    for (const r of COMPUTE) {
      usage.set(`requests.${r}`, podAmount(pod, 'requests', r));
      usage.set(`limits.${r}`, podAmount(pod, 'limits', r));
      usage.set(r, podAmount(pod, 'requests', r));
    }
  } else if (resource === 'services') {
    const spec = asObj(object.spec) as { type?: string; ports?: { nodePort?: number }[] };
    usage.set('services.loadbalancers', spec.type === 'LoadBalancer' ? 1 : 0);
    usage.set('services.nodeports', spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? (spec.ports ?? []).length : 0);
  } else if (resource === 'persistentvolumeclaims') {
    const spec = asObj(object.spec) as { storageClassName?: string; resources?: { requests?: { storage?: string } } };
    const storage = parseBytes(spec.resources?.requests?.storage ?? 0);
    usage.set('requests.storage', storage);
    if (spec.storageClassName) {
      usage.set(`${spec.storageClassName}.storageclass.storage.k8s.io/requests.storage`, storage);
      usage.set(`${spec.storageClassName}.storageclass.storage.k8s.io/persistentvolumeclaims`, 1);
    }
  }
  return usage;
}

/** Whether a quota's scopes take in `object` (scopes speak of pods only; other kinds are out of a scoped quota). */
export function inScope(quota: ResourceQuota, resource: string, object: KubeObject): boolean {
  const scopes = [...(quota.spec?.scopes ?? [])];
  const selected = quota.spec?.scopeSelector?.matchExpressions ?? [];
  if (scopes.length === 0 && selected.length === 0) return true;
  if (resource !== 'pods') return false;
  const pod = object as Pod;
  const bestEffort = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].every(
    (c) => Object.keys(c.resources?.requests ?? {}).length === 0 && Object.keys(c.resources?.limits ?? {}).length === 0,
  );
  const terminating = pod.spec.activeDeadlineSeconds !== undefined && pod.spec.activeDeadlineSeconds !== null;
  const holds: Record<string, boolean> = { Terminating: terminating, NotTerminating: !terminating, BestEffort: bestEffort, NotBestEffort: !bestEffort };
  if (!scopes.every((s) => holds[s] ?? true)) return false;
  return selected.every((e) => {
    if (e.scopeName !== 'PriorityClass') return holds[e.scopeName] ?? true;
    const name = pod.spec.priorityClassName ?? '';
    if (e.operator === 'Exists') return name !== '';
    if (e.operator === 'DoesNotExist') return name === '';
    const listed = (e.values ?? []).includes(name);
    return e.operator === 'NotIn' ? !listed : listed;
  });
}

/** The resources a quota limits that `usage` takes. */
const charged = (quota: ResourceQuota, usage: Usage) => Object.keys(quota.spec?.hard ?? {}).filter((r) => usage.has(r));

/** `must specify` refusals: a pod that names no request or limit of a compute resource a quota counts. */
function unspecified(quota: ResourceQuota, pod: Pod): string[] {
  const out: string[] = [];
  for (const resource of Object.keys(quota.spec?.hard ?? {})) {
    const m = /^(requests|limits)\.(cpu|memory)$/.exec(resource) ?? (['cpu', 'memory'].includes(resource) ? [resource, 'requests', resource] : null);
    if (!m) continue;
    const missing = pod.spec.containers.filter((c) => c.resources?.[m[1] as 'requests' | 'limits']?.[m[2]] === undefined).map((c) => c.name);
    if (missing.length) out.push(`${resource} for: ${missing.join(',')}`);
  }
  return out;
}

/** How long a namespace found without quotas or limit ranges is taken to have none (kube-apiserver's live lookups are kept 30 s). */
const NONE_FOR_MS = 1000;

export class QuotaAdmission {
  /** Namespaces (by resource) found with none, and when: a pod create then costs no read. */
  private readonly none = new Map<string, number>();

  constructor(private readonly store: Store) {}

  /** The namespace's objects of `resource`, or [] while it was recently found to have none. */
  private async listed<T>(resource: string, namespace: string): Promise<T[]> {
    const key = `${resource}/${namespace}`;
    const at = this.none.get(key);
    if (at !== undefined && Date.now() - at < NONE_FOR_MS) return [];
    const items = (await this.store.list(resource, { namespace })).items as T[];
    if (items.length === 0) this.none.set(key, Date.now());
    else this.none.delete(key);
    return items;
  }

  /** A quota or limit range was written here: the namespace has some now. */
  forget(resource: string, namespace: string): void {
    this.none.delete(`${resource}/${namespace}`);
  }

  /** Fills in and checks what the namespace's LimitRanges say (pods and claims); throws 403 Forbidden. */
  async limit(info: ResourceInfo, object: KubeObject, namespace: string): Promise<void> {
    if (info.storeKey !== 'pods' && info.storeKey !== 'persistentvolumeclaims') return;
    const ranges = await this.listed<LimitRange>(LIMIT_RANGES.storeKey, namespace);
    if (ranges.length === 0) return;
    const problems: string[] = [];
    for (const range of ranges)
      for (const item of range.spec?.limits ?? []) {
        if (info.storeKey === 'pods') problems.push(...limitPod(object as Pod, item));
        else if (item.type === 'PersistentVolumeClaim') problems.push(...bound(item, 'PersistentVolumeClaim', asObj(asObj(object.spec).resources)));
      }
    if (problems.length)
      throw forbidden(`${info.resource} "${object.metadata.name ?? object.metadata.generateName ?? ''}" is forbidden: [${problems.join(', ')}]`, {
        kind: info.resource,
      });
  }

  /** Charges the create to every quota of the namespace that counts it; throws 403 Forbidden past a hard limit. */
  async charge(info: ResourceInfo, object: KubeObject, namespace: string, dryRun = false): Promise<void> {
    const quotas = (await this.listed<ResourceQuota>(RESOURCE_QUOTAS.storeKey, namespace)).filter((q) => inScope(q, info.storeKey, object));
    if (quotas.length === 0) return;
    const usage = usageOf(info.storeKey, object);
    const name = object.metadata.name ?? object.metadata.generateName ?? '';
    const refuse = (why: string) => forbidden(`${info.resource} "${name}" is forbidden: ${why}`, { name, kind: info.resource });
    for (const quota of quotas) {
      const must = info.storeKey === 'pods' ? unspecified(quota, object as Pod) : [];
      if (must.length) throw refuse(`failed quota: ${quota.metadata.name}: must specify ${must.join('; ')}`);
    }
    for (const quota of quotas) {
      const resources = charged(quota, usage);
      if (resources.length === 0) continue;
      const write = async (current: ResourceQuota): Promise<ResourceQuota | undefined> => {
        const used = current.status?.used ?? (await recount(this.store, current));
        const hard = current.spec?.hard ?? {};
        const over = resources.filter((r) => amount(r, used[r] ?? 0) + (usage.get(r) ?? 0) > amount(r, hard[r]));
        if (over.length) {
          const list = (f: (r: string) => string) => over.map((r) => `${r}=${f(r)}`).join(',');
          throw refuse(
            `exceeded quota: ${current.metadata.name}, requested: ${list((r) => format(r, usage.get(r) ?? 0))}, used: ${list((r) => format(r, amount(r, used[r] ?? 0)))}, limited: ${list((r) => String(hard[r]))}`,
          );
        }
        if (dryRun) return undefined;
        const next = { ...used };
        for (const r of resources) next[r] = format(r, amount(r, used[r] ?? 0) + (usage.get(r) ?? 0));
        return { ...current, status: { hard, used: next } };
      };
      await guaranteedUpdate<ResourceQuota>(this.store, RESOURCE_QUOTAS.storeKey, namespace, quota.metadata.name ?? '', write);
    }
  }
}

/** The `used` of a quota, counted from the objects of its namespace (also for a quota the controller has not yet seen). */
export async function recount(store: Store, quota: ResourceQuota): Promise<Record<string, string>> {
  const hard = Object.keys(quota.spec?.hard ?? {});
  const total = new Map<string, number>(hard.map((r) => [r, 0]));
  const resources = new Set(hard.map(resourceCounted));
  for (const resource of resources) {
    for (const object of (await store.list(resource, { namespace: quota.metadata.namespace })).items) {
      if (object.metadata.deletionTimestamp && resource !== 'pods') continue;
      if (!inScope(quota, resource, object)) continue;
      for (const [r, n] of usageOf(resource, object)) if (total.has(r)) total.set(r, total.get(r)! + n);
    }
  }
  return Object.fromEntries([...total].map(([r, n]) => [r, format(r, n)]));
}

/** The store key a quota resource counts (`requests.cpu`: pods; `count/deployments.apps`: deployments.apps). */
export function resourceCounted(resource: string): string {
  if (resource.startsWith('count/')) return resource.slice('count/'.length);
  if (resource.includes('storageclass.storage.k8s.io/') || resource === 'requests.storage' || resource === 'persistentvolumeclaims')
    return 'persistentvolumeclaims';
  if (resource.startsWith('services')) return 'services';
  if (['configmaps', 'secrets', 'replicationcontrollers', 'resourcequotas'].includes(resource)) return resource;
  return 'pods';
}

type LimitItem = NonNullable<LimitRange['spec']>['limits'][number];

/** A `min`/`max`/ratio check of `resources` (requests and limits) against a LimitRange item. */
function bound(item: LimitItem, what: string, resources: { requests?: unknown; limits?: unknown }): string[] {
  const out: string[] = [];
  const requests = asObj(resources.requests);
  const limits = asObj(resources.limits);
  for (const [r, min] of Object.entries(item.min ?? {})) {
    const request = requests[r];
    if (request === undefined) out.push(`minimum ${r} usage per ${what} is ${min}.  No request is specified`);
    else if (amount(r, request) < amount(r, min)) out.push(`minimum ${r} usage per ${what} is ${min}, but request is ${request}`);
  }
  for (const [r, max] of Object.entries(item.max ?? {})) {
    const limit = what === 'PersistentVolumeClaim' ? requests[r] : limits[r];
    if (limit === undefined) out.push(`maximum ${r} usage per ${what} is ${max}.  No limit is specified`);
    else if (amount(r, limit) > amount(r, max))
      out.push(`maximum ${r} usage per ${what} is ${max}, but ${what === 'PersistentVolumeClaim' ? 'request' : 'limit'} is ${limit}`);
  }
  for (const [r, ratio] of Object.entries(item.maxLimitRequestRatio ?? {})) {
    if (limits[r] === undefined || requests[r] === undefined) continue;
    const actual = amount(r, limits[r]) / amount(r, requests[r]);
    if (actual > Number(ratio)) out.push(`${r} max limit to request ratio per ${what} is ${ratio}, but provided ratio is ${actual.toFixed(6)}`);
  }
  return out;
}

/** The LimitRanger on a pod: containers' defaults filled in (in place), then the Container and Pod bounds. */
function limitPod(pod: Pod, item: LimitItem): string[] {
  if (item.type === 'Container') {
    const out: string[] = [];
    for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
      const resources = (c.resources ??= {});
      for (const [r, v] of Object.entries(item.default ?? {})) (resources.limits ??= {})[r] ??= v;
      for (const [r, v] of Object.entries(item.defaultRequest ?? {})) (resources.requests ??= {})[r] ??= v;
      out.push(...bound(item, 'Container', resources));
    }
    return out;
  }
  if (item.type !== 'Pod') return [];
  const sums = (kind: 'requests' | 'limits') =>
    Object.fromEntries(
      COMPUTE.filter((r) => pod.spec.containers.some((c) => c.resources?.[kind]?.[r] !== undefined)).map((r) => [r, format(r, podAmount(pod, kind, r))]),
    );
  return bound(item, 'Pod', { requests: sums('requests'), limits: sums('limits') });
}

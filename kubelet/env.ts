/**
 * A container's environment as Kubernetes builds it: `envFrom` (ConfigMaps and Secrets, with a
 * prefix), then `env` in order, with `value` (expanding `$(VAR)` references to earlier
 * variables) or `valueFrom` (configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef); and
 * `$(VAR)` expansion in command and args. A missing ConfigMap, Secret or key that is not
 * optional is a `CreateContainerConfigError`, as the kubelet reports it. Beneath them, the
 * variables of the Services (`serviceEnv`), which `env` may refer to and override.
 */
import type { Container, Pod } from '../shared/api/schemas/index.js';
import { parseQuantity } from '../shared/api/quantity.js';
import { ApiRequestError, type ApiClient } from './api-client.js';

export class ContainerConfigError extends Error {}

/** A ConfigMap's or Secret's data as the API answers it (a Secret's base64). */
export interface SourceObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** The ConfigMaps and Secrets a pod reads, each asked of the API once per use (a container start, a volume fill). */
export class Sources {
  private readonly cache = new Map<string, Promise<SourceObject | undefined>>();

  constructor(
    private readonly api: ApiClient,
    private readonly namespace: string,
  ) {}

  /** The object, or undefined when it does not exist; other errors are thrown. */
  object(kind: 'configmaps' | 'secrets', name: string): Promise<SourceObject | undefined> {
    const key = `${kind}/${name}`;
    let found = this.cache.get(key);
    if (!found) {
      found = this.api.get<SourceObject>(`/api/v1/namespaces/${encodeURIComponent(this.namespace)}/${kind}/${encodeURIComponent(name)}`).catch((err) => {
        if (err instanceof ApiRequestError && err.code === 404) return undefined;
        throw err;
      });
      this.cache.set(key, found);
    }
    return found;
  }

  /** Its `data` as text, for the environment (a Secret's decoded). */
  async data(kind: 'configmaps' | 'secrets', name: string): Promise<Record<string, string> | undefined> {
    const o = await this.object(kind, name);
    if (!o) return undefined;
    const data = o.data ?? {};
    if (kind === 'configmaps') return data;
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }
}

const singular = { configmaps: 'configmap', secrets: 'secret' } as const;

/** What the service variables need of a Service. */
export interface ServiceInfo {
  metadata: { name: string; namespace?: string };
  spec?: { clusterIP?: string; ports?: { name?: string; port: number; protocol?: string }[] };
}

/**
 * The variables Kubernetes gives a container for each Service it may see (`enableServiceLinks`):
 * `WEB_SERVICE_HOST` and `WEB_SERVICE_PORT` (and `WEB_SERVICE_PORT_<NAME>` per named port), and
 * the Docker-link ones (`WEB_PORT=tcp://ip:port`, `WEB_PORT_80_TCP`, `_PROTO`, `_PORT`, `_ADDR`).
 * A Service without a ClusterIP (headless, ExternalName) has none.
 */
export function serviceEnv(services: ServiceInfo[]): Record<string, string> {
  const env: Record<string, string> = {};
  const upper = (s: string) => s.toUpperCase().replace(/-/g, '_');
  for (const svc of services) {
    const ip = svc.spec?.clusterIP;
    const ports = svc.spec?.ports ?? [];
    if (!ip || ip === 'None' || ports.length === 0) continue;
    const name = upper(svc.metadata.name);
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(ports[0].port);
    for (const p of ports) if (p.name) env[`${name}_SERVICE_PORT_${upper(p.name)}`] = String(p.port);
    const proto = (p: { protocol?: string }) => (p.protocol ?? 'TCP').toLowerCase();
    env[`${name}_PORT`] = `${proto(ports[0])}://${ip}:${ports[0].port}`;
    for (const p of ports) {
      const prefix = `${name}_PORT_${p.port}_${proto(p).toUpperCase()}`;
      env[prefix] = `${proto(p)}://${ip}:${p.port}`;
      env[`${prefix}_PROTO`] = proto(p);
      env[`${prefix}_PORT`] = String(p.port);
      env[`${prefix}_ADDR`] = ip;
    }
  }
  return env;
}

/** `$(NAME)` becomes the variable's value when it is defined; `$$` escapes a `$`. */
export function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && name in vars ? vars[name] : match;
  });
}

export function fieldRef(pod: Pod, path: string, ips: { hostIP: string; podIP: string }): string {
  const labels = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (labels) return pod.metadata?.labels?.[labels[1]] ?? '';
  const annotations = /^metadata\.annotations\['(.+)'\]$/.exec(path);
  if (annotations) return pod.metadata?.annotations?.[annotations[1]] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.hostIP':
      return ips.hostIP;
    case 'status.podIP':
      return ips.podIP;
    default:
      throw new ContainerConfigError(`unsupported fieldRef ${path}`);
  }
}

export function resourceFieldRef(container: Container, ref: { resource: string; divisor?: string | number }): string {
  const resource = ref.resource;
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const value = container.resources?.[kind]?.[name];
  const divisor = ref.divisor !== undefined ? parseQuantity(String(ref.divisor)) : 1;
  if (value === undefined) return '0';
  const amount = parseQuantity(String(value));
  return String(Math.ceil(amount / (divisor || 1)));
}

/** The environment of `container` in `pod`. */
export async function containerEnv(
  api: ApiClient,
  pod: Pod,
  container: Container,
  ips: { hostIP: string; podIP: string },
  services: ServiceInfo[] = [],
): Promise<Record<string, string>> {
  const sources = new Sources(api, pod.metadata?.namespace ?? 'default');
  // As container runtimes do: the pod's name is the container's hostname.
  const env: Record<string, string> = { ...serviceEnv(services), HOSTNAME: pod.metadata?.name ?? '' };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const kind = from.configMapRef ? 'configmaps' : 'secrets';
    const data = await sources.data(kind, ref.name ?? '');
    if (!data) {
      if (ref.optional) continue;
      throw new ContainerConfigError(`${singular[kind]} "${ref.name}" not found`);
    }
    for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = expand(variable.value ?? '', env);
      continue;
    }
    const keyRef = from.configMapKeyRef ?? from.secretKeyRef;
    if (keyRef) {
      const kind = from.configMapKeyRef ? 'configmaps' : 'secrets';
      const data = await sources.data(kind, keyRef.name ?? '');
      if (!data) {
        if (keyRef.optional) continue;
        throw new ContainerConfigError(`${singular[kind]} "${keyRef.name}" not found`);
      }
      if (!(keyRef.key in data)) {
        if (keyRef.optional) continue;
        throw new ContainerConfigError(`couldn't find key ${keyRef.key} in ${singular[kind]} ${pod.metadata?.namespace}/${keyRef.name}`);
      }
      env[variable.name] = data[keyRef.key];
    } else if (from.fieldRef) {
      env[variable.name] = fieldRef(pod, from.fieldRef.fieldPath, ips);
    } else if (from.resourceFieldRef) {
      env[variable.name] = resourceFieldRef(container, from.resourceFieldRef);
    }
  }
  return env;
}

/**
 * Reading a Service's EndpointSlices, as kube-proxy, CoreDNS and an Ingress controller read them:
 * an endpoint whose `ready` condition is absent counts as ready (the API's documented meaning);
 * with none ready, a Service's traffic may go to endpoints that still serve while terminating.
 */

export interface SliceEndpoint {
  addresses: string[];
  /** The pod's hostname, when its subdomain is the Service (a StatefulSet's pods): its DNS name there. */
  hostname?: string;
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
}

export interface Slice {
  ports?: { name?: string; port?: number; protocol?: string }[] | null;
  endpoints?: SliceEndpoint[] | null;
}

export interface Backend {
  ip: string;
  port: number;
}

/** The endpoints of the Service port named `portName` ('' for an unnamed one): ready, and serving while terminating. */
export function portEndpoints(slices: Iterable<Slice>, portName = ''): { ready: Backend[]; terminating: Backend[] } {
  const ready: Backend[] = [];
  const terminating: Backend[] = [];
  for (const slice of slices) {
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === portName)?.port;
    if (!port) continue;
    for (const e of slice.endpoints ?? []) {
      const backend = { ip: e.addresses[0], port };
      if (e.conditions?.ready !== false) ready.push(backend);
      else if (e.conditions?.serving && e.conditions?.terminating) terminating.push(backend);
    }
  }
  return { ready, terminating };
}

/** The ready endpoints, whatever their ports, each once (a headless Service's DNS records): address and hostname. */
export function readyEndpoints(slices: Iterable<Slice>): { ip: string; hostname?: string }[] {
  const seen = new Map<string, { ip: string; hostname?: string }>();
  for (const s of slices)
    for (const e of s.endpoints ?? [])
      if (e.conditions?.ready !== false && !seen.has(e.addresses[0])) seen.set(e.addresses[0], { ip: e.addresses[0], hostname: e.hostname });
  return [...seen.values()];
}

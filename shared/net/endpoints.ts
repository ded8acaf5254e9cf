/**
 * Reading a Service's EndpointSlices, as kube-proxy, CoreDNS and an Ingress controller read them:
 * an endpoint whose `ready` condition is absent counts as ready (the API's documented meaning);
 * with none ready, a Service's traffic may go to endpoints that still serve while terminating.
 */

export interface SliceEndpoint {
  addresses: string[];
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

/** The addresses of the ready endpoints, whatever their ports (a headless Service's DNS records). */
export function readyAddresses(slices: Iterable<Slice>): string[] {
  return [...slices].flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.addresses[0]));
}

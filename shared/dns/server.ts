/**
 * Cluster DNS, as CoreDNS's kubernetes plugin answers it, served by the control plane over UDP
 * and TCP (`dns-packet` for the wire format):
 *
 * - `<svc>.<ns>.svc.cluster.local` A: the ClusterIP; for a headless Service, the addresses of its
 *   ready endpoints; an ExternalName Service is a CNAME;
 * - `_<port>._<proto>.<svc>.<ns>.svc.cluster.local` SRV: the named port, at the Service's name
 *   (or, headless, at each endpoint's `<pod-ip-dashed>.<svc>.<ns>.svc.cluster.local`);
 * - `<hostname>.<svc>.<ns>.svc.cluster.local` A (a headless Service's endpoint whose pod has that
 *   hostname and the Service as subdomain: a StatefulSet's `web-0.nginx`),
 * - `<a-b-c-d>.<svc>.<ns>.svc.cluster.local` A (a headless Service's endpoint) and
 *   `<a-b-c-d>.<ns>.pod.cluster.local` A;
 * - any other name in the cluster domain is NXDOMAIN; names outside it are passed to the
 *   upstream resolver (this machine's), so a pod resolves the world too.
 *
 * Answers come from a `ServiceDirectory`, with a 5 s TTL, as CoreDNS's default: the store as it
 * is now (an object read per query) where the control plane serves DNS (`skiff up`), or a
 * kubelet's own copy of the Services and slices its proxy follows, where each node answers its
 * pods itself (the AWS shape, whose control plane is functions: NodeLocal DNSCache's place).
 */
import { createSocket, type Socket as DgramSocket, type RemoteInfo } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, Packet, Question } from 'dns-packet';
import { readyEndpoints, type Slice } from '../net/endpoints.js';
import type { Store } from '../store/types.js';

export const CLUSTER_DOMAIN = 'cluster.local';
const TTL = 5;

export interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  externalName?: string;
  ports?: { name?: string; port: number; protocol?: string }[];
}

/** Where the answers come from: a Service by name, and its EndpointSlices. */
export interface ServiceDirectory {
  service(namespace: string, name: string): Promise<{ spec?: ServiceSpec } | undefined>;
  slices(namespace: string, service: string): Promise<Slice[]>;
}

/** The store as the directory: what it holds now. */
export function storeDirectory(store: Store): ServiceDirectory {
  return {
    service: (namespace, name) =>
      store.get('services', namespace, name).then(
        (s) => s as { spec?: ServiceSpec },
        () => undefined,
      ),
    slices: async (namespace, service) =>
      (await store.list('endpointslices.discovery.k8s.io', { namespace, labelSelector: `kubernetes.io/service-name=${service}` })).items as Slice[],
  };
}

export interface DnsServerOptions {
  directory: ServiceDirectory;
  /** Where to listen (address and port); port 0 picks one. */
  host: string;
  port: number;
  /** Where names outside the cluster go (default: the first nameserver of /etc/resolv.conf). */
  upstream?: { host: string; port: number };
}

export interface DnsServer {
  port: number;
  close(): Promise<void>;
}

/** The first nameserver this machine uses. */
function systemResolver(): { host: string; port: number } {
  try {
    const line = readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .find((l) => /^\s*nameserver\s+\d/.test(l));
    if (line) return { host: line.trim().split(/\s+/)[1], port: 53 };
  } catch {
    /* none */
  }
  return { host: '8.8.8.8', port: 53 };
}

const dashed = (ip: string) => ip.replace(/\./g, '-');

export class ClusterDns {
  constructor(private readonly directory: ServiceDirectory) {}

  /** The answers to one question, or undefined when the name is not the cluster's (ask upstream); [] with NXDOMAIN. */
  async answer(q: Question): Promise<{ answers: Answer[]; nxdomain: boolean } | undefined> {
    const name = q.name.toLowerCase().replace(/\.$/, '');
    if (!name.endsWith(`.${CLUSTER_DOMAIN}`)) return undefined;
    const labels = name.slice(0, -CLUSTER_DOMAIN.length - 1).split('.');
    const none = { answers: [], nxdomain: true };
    // <a-b-c-d>.<ns>.pod
    if (labels.length === 3 && labels[2] === 'pod') {
      const ip = labels[0].replace(/-/g, '.');
      return /^\d+\.\d+\.\d+\.\d+$/.test(ip) && q.type === 'A' ? { answers: [{ type: 'A', name: q.name, ttl: TTL, data: ip }], nxdomain: false } : none;
    }
    const svcAt = labels.lastIndexOf('svc');
    if (svcAt < 2 || svcAt !== labels.length - 1) return none;
    const [namespace, service] = [labels[svcAt - 1], labels[svcAt - 2]];
    const prefix = labels.slice(0, svcAt - 2);
    const svc = await this.directory.service(namespace, service);
    if (!svc) return none;
    const spec = svc.spec ?? {};
    const fqdn = `${service}.${namespace}.svc.${CLUSTER_DOMAIN}`;
    const headless = spec.clusterIP === 'None';
    const endpoints = headless ? readyEndpoints(await this.directory.slices(namespace, service)) : [];
    if (prefix.length === 0) {
      if (spec.type === 'ExternalName' && spec.externalName)
        return { answers: [{ type: 'CNAME', name: q.name, ttl: TTL, data: spec.externalName }], nxdomain: false };
      if (q.type !== 'A') return { answers: [], nxdomain: false };
      const ips = headless ? endpoints.map((e) => e.ip) : spec.clusterIP ? [spec.clusterIP] : [];
      return { answers: ips.map((ip) => ({ type: 'A' as const, name: q.name, ttl: TTL, data: ip })), nxdomain: false };
    }
    // A headless Service's endpoint by its hostname (a StatefulSet's `web-0`), or its dashed address.
    if (prefix.length === 1 && headless) {
      const hit = endpoints.find((e) => e.hostname === prefix[0]) ?? endpoints.find((e) => dashed(e.ip) === prefix[0]);
      if (!hit) return none;
      return { answers: q.type === 'A' ? [{ type: 'A', name: q.name, ttl: TTL, data: hit.ip }] : [], nxdomain: false };
    }
    // _<port>._<proto>: SRV
    if (prefix.length === 2 && prefix[0].startsWith('_') && prefix[1].startsWith('_')) {
      const port = (spec.ports ?? []).find((p) => p.name === prefix[0].slice(1) && (p.protocol ?? 'TCP').toLowerCase() === prefix[1].slice(1));
      if (!port) return none;
      if (q.type !== 'SRV') return { answers: [], nxdomain: false };
      const targets = headless ? endpoints.map((e) => `${e.hostname ?? dashed(e.ip)}.${fqdn}`) : [fqdn];
      return {
        answers: targets.map((target) => ({ type: 'SRV' as const, name: q.name, ttl: TTL, data: { priority: 0, weight: 100, port: port.port, target } })),
        nxdomain: false,
      };
    }
    return none;
  }
}

/** Asks the upstream resolver the same question over UDP; undefined if it does not answer in 2 s. */
function forward(query: Buffer, upstream: { host: string; port: number }): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, 2000);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.on('error', () => {
      clearTimeout(timer);
      socket.close();
      resolve(undefined);
    });
    socket.send(query, upstream.port, upstream.host);
  });
}

/** The reply to one query (wire format in, wire format out). */
async function reply(dns: ClusterDns, raw: Buffer, upstream: { host: string; port: number }): Promise<Buffer | undefined> {
  let query: Packet;
  try {
    query = packet.decode(raw);
  } catch {
    return undefined;
  }
  const q = query.questions?.[0];
  if (!q) return undefined;
  const found = await dns.answer(q).catch(() => ({ answers: [], nxdomain: false, failed: true }));
  if (!found) {
    const passed = await forward(raw, upstream);
    if (passed) return passed;
  }
  const failed = !found || 'failed' in found;
  // The response code is the flags' low four bits (RFC 1035 4.1.1): NOERROR 0, SERVFAIL 2, NXDOMAIN 3.
  const rcode = failed ? 2 : found.nxdomain ? 3 : 0;
  const flags = (failed ? 0 : packet.AUTHORITATIVE_ANSWER) | packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | rcode;
  return packet.encode({ id: query.id, type: 'response', flags, questions: query.questions, answers: found?.answers ?? [] });
}

/** A UDP socket and a TCP server on one port: a free one when `port` is 0 (drawn again while TCP finds it taken). */
async function bindBoth(host: string, port: number, serveTcp: (socket: Socket) => void): Promise<{ udp: DgramSocket; tcp: Server }> {
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: host, port }, () => resolve());
    });
    const tcp = createServer(serveTcp);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host, port: udp.address().port }, () => resolve());
      });
      tcp.on('error', () => undefined);
      return { udp, tcp };
    } catch (err) {
      udp.close();
      if (port !== 0 || attempt >= 20) throw err;
    }
  }
}

/** Serves cluster DNS on `host:port`, UDP and TCP. */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const dns = new ClusterDns(options.directory);
  const upstream = options.upstream ?? systemResolver();
  // TCP: each message prefixed with its length (RFC 1035 4.2.2).
  const serveTcp = (socket: Socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        void reply(dns, Buffer.from(message), upstream).then((out) => {
          if (!out || socket.destroyed) return;
          const length = Buffer.alloc(2);
          length.writeUInt16BE(out.length);
          socket.write(Buffer.concat([length, out]));
        });
      }
    });
    socket.on('error', () => socket.destroy());
  };
  const { udp, tcp } = await bindBoth(options.host, options.port, serveTcp);
  udp.on('error', () => undefined);
  udp.on('message', (raw: Buffer, from: RemoteInfo) => {
    void reply(dns, raw, upstream).then((out) => out && udp.send(out, from.port, from.address));
  });
  return {
    port: udp.address().port,
    close: () =>
      new Promise<void>((resolve) => {
        udp.close();
        tcp.close(() => resolve());
      }),
  };
}

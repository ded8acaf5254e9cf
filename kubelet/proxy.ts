/**
 * The node proxy (kube-proxy's job), in the kubelet: it follows the Services and EndpointSlices
 * and answers each Service's ClusterIP and port (and NodePort, and a LoadBalancer's port, on the
 * node's address) with a TCP
 * proxy to the Service's ready endpoints. Connections are spread round-robin (or kept to one
 * endpoint per client with `sessionAffinity: ClientIP`); an endpoint that refuses is skipped for
 * the next one, so a connection made while a pod stops still lands. An endpoint that stops being
 * ready or starts terminating gets no new connection; those it has keep going (as conntrack keeps
 * them). When no endpoint is ready, serving terminating ones are used, as kube-proxy does.
 *
 * A user-space proxy rather than nftables rules: it needs no root and no kernel state, runs the
 * same beside the process, docker and ecs runtimes, and the service range is on loopback
 * (`docs/networking.md`), where any process may listen. Several kubelets on one machine share
 * the ClusterIPs: the first to bind an address serves it, the others try again every few seconds
 * (all see the same endpoints). UDP is proxied too, a session per client.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Backend, portEndpoints, type Slice as SliceOfService } from '../shared/net/endpoints.js';
import type { ApiClient, WatchEvent } from './api-client.js';

interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  nodePort?: number;
}
interface Service {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    type?: string;
    clusterIP?: string;
    ports?: ServicePort[];
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  };
}
interface Slice extends SliceOfService {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; resourceVersion?: string };
}
interface Frontend {
  close(): void;
  backends: Backend[];
  next: number;
  /** ClientIP affinity: each client's endpoint, until when. */
  affinity?: { timeoutMs: number; clients: Map<string, { backend: Backend; until: number }> };
}

export interface ServiceProxyOptions {
  api: ApiClient;
  /** The node's address: NodePorts listen there. */
  nodeAddress: string;
  /** List every interval instead of watching (the AWS shape's kubelets, which hold no watch open). */
  pollIntervalMs?: number;
  log(line: string): void;
}

const key = (o: { metadata: { namespace: string; name: string } }) => `${o.metadata.namespace}/${o.metadata.name}`;
const RETRY_MS = 5000;
const UDP_IDLE_MS = 60_000;

export class ServiceProxy {
  private readonly serviceMap = new Map<string, Service>();
  private readonly slices = new Map<string, Slice>();
  private readonly frontends = new Map<string, Frontend>();
  private readonly local = new Map<string, Backend>();
  /** Addresses that could not be bound (another kubelet on this machine has them), said once each. */
  private readonly unbound = new Set<string>();
  private readonly abort = new AbortController();
  private readonly sockets = new Set<Socket>();
  private syncQueued = false;
  private retryTimer?: NodeJS.Timeout;
  private following: Promise<void>[] = [];

  constructor(private readonly options: ServiceProxyOptions) {}

  /**
   * Lists the Services and slices, opens the frontends, and follows their changes. A list that
   * fails (an API starting, or too loaded to answer in time) is tried again in the background
   * until it is done: the node's Services and its DNS must not stay dark for a failed first call.
   */
  async start(): Promise<void> {
    const paths = ['/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices'] as const;
    const into = [this.serviceMap, this.slices] as const;
    const first = await Promise.allSettled(paths.map((path, i) => this.relist(path, into[i])));
    this.sync();
    this.following = paths.map((path, i) => {
      const listed = first[i];
      if (listed.status === 'fulfilled') return this.follow(path, into[i], listed.value);
      this.options.log(`proxy: listing ${path}: ${listed.reason instanceof Error ? listed.reason.message : String(listed.reason)}; again in 1 s`);
      return this.follow(path, into[i], undefined);
    });
    this.retryTimer = setInterval(() => this.sync(), RETRY_MS);
  }

  /** The Services it follows, of every namespace. */
  services(): Service[] {
    return [...this.serviceMap.values()];
  }

  /** One Service it follows (a `ServiceDirectory`, for the node's own DNS). */
  async service(namespace: string, name: string): Promise<Service | undefined> {
    return this.serviceMap.get(`${namespace}/${name}`);
  }

  /** A Service's slices, as it follows them. */
  async slicesOf(namespace: string, service: string): Promise<Slice[]> {
    return [...this.slices.values()].filter((s) => s.metadata.namespace === namespace && s.metadata.labels?.['kubernetes.io/service-name'] === service);
  }

  /**
   * Sends a Service's traffic to a server of this node instead of its endpoints (the node's own
   * cluster DNS, for `kube-system/kube-dns`).
   */
  serveLocally(namespace: string, name: string, backend: Backend): void {
    this.local.set(`${namespace}/${name}`, backend);
    this.sync();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.retryTimer);
    for (const f of this.frontends.values()) f.close();
    this.frontends.clear();
    for (const s of this.sockets) s.destroy();
    // The follows end with the abort; a request still on its way is not waited for past a moment.
    await Promise.race([Promise.all(this.following.map((p) => p.catch(() => undefined))), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  private async relist<T extends Service | Slice>(path: string, into: Map<string, T>): Promise<string> {
    const list = await this.options.api.get<{ metadata: { resourceVersion: string }; items: T[] }>(path);
    into.clear();
    for (const item of list.items) into.set(key(item), item);
    return list.metadata.resourceVersion;
  }

  /**
   * Keeps `into` current: a watch from `version` (or a list every poll interval), relisting after
   * an error; with no version yet (the first list failed), a list first.
   */
  private async follow<T extends Service | Slice>(path: string, into: Map<string, T>, version: string | undefined): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (version === undefined) {
          version = await this.relist(path, into);
          this.sync();
        }
        if (this.options.pollIntervalMs) {
          await sleep(this.options.pollIntervalMs, undefined, { signal });
          await this.relist(path, into);
          this.sync();
          continue;
        }
        let expired = false;
        await this.options.api.watch<T>(
          `${path}?watch=true&allowWatchBookmarks=true&resourceVersion=${version}`,
          (event: WatchEvent<T>) => {
            if (event.type === 'ERROR') {
              expired = true;
              return;
            }
            version = event.object.metadata?.resourceVersion ?? version;
            if (event.type === 'BOOKMARK') return;
            if (event.type === 'DELETED') into.delete(key(event.object));
            else into.set(key(event.object), event.object);
            this.sync();
          },
          signal,
        );
        if (expired) {
          version = await this.relist(path, into);
          this.sync();
        }
      } catch (err) {
        if (signal.aborted) return;
        this.options.log(`proxy: following ${path}: ${err instanceof Error ? err.message : String(err)}; again in 1 s`);
        await sleep(1000, undefined, { signal }).catch(() => undefined);
        version = await this.relist(path, into).catch(() => version);
        this.sync();
      }
    }
  }

  /** Makes the frontends match the Services (once per turn of the event loop, however many changes came). */
  private sync(): void {
    if (this.syncQueued || this.abort.signal.aborted) return;
    this.syncQueued = true;
    setImmediate(() => {
      this.syncQueued = false;
      this.apply();
    });
  }

  private apply(): void {
    const wanted = new Map<string, { backends: Backend[]; service: Service }>();
    for (const service of this.serviceMap.values()) {
      const spec = service.spec ?? {};
      if (spec.type === 'ExternalName' || !spec.clusterIP || spec.clusterIP === 'None') continue;
      for (const port of spec.ports ?? []) {
        const protocol = port.protocol ?? 'TCP';
        if (protocol !== 'TCP' && protocol !== 'UDP') continue;
        // TCP frontends are `ip:port`, UDP ones `udp/ip:port`.
        const at = (ip: string, n: number) => `${protocol === 'UDP' ? 'udp/' : ''}${ip}:${n}`;
        const backends = this.backendsOf(service, port);
        wanted.set(at(spec.clusterIP, port.port), { backends, service });
        if (port.nodePort) wanted.set(at(this.options.nodeAddress, port.nodePort), { backends, service });
        // A LoadBalancer's address is each node's own (the ingress the endpoints controller writes).
        if (spec.type === 'LoadBalancer') wanted.set(at(this.options.nodeAddress, port.port), { backends, service });
      }
    }
    for (const [address, f] of this.frontends) {
      if (wanted.has(address)) continue;
      f.close();
      this.frontends.delete(address);
    }
    for (const [address, { backends, service }] of wanted) {
      const frontend = this.frontends.get(address) ?? (address.startsWith('udp/') ? this.openUdp(address.slice(4)) : this.open(address));
      if (!frontend) continue;
      frontend.backends = backends;
      const affinity = service.spec?.sessionAffinity === 'ClientIP';
      if (affinity && !frontend.affinity)
        frontend.affinity = { timeoutMs: (service.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10_800) * 1000, clients: new Map() };
      if (!affinity) frontend.affinity = undefined;
    }
  }

  /** The ready endpoints of a Service's port (or, with none ready, the serving terminating ones). */
  private backendsOf(service: Service, port: ServicePort): Backend[] {
    const local = this.local.get(key(service));
    if (local) return [local];
    const mine = [...this.slices.values()].filter(
      (s) => s.metadata.namespace === service.metadata.namespace && s.metadata.labels?.['kubernetes.io/service-name'] === service.metadata.name,
    );
    const { ready, terminating } = portEndpoints(mine, port.name ?? '');
    return ready.length ? ready : terminating;
  }

  /** Listens at `address` (ip:port); an address this machine cannot give now is tried again later. */
  private open(address: string): Frontend {
    const cut = address.lastIndexOf(':');
    const server: Server = createServer((client) => this.forward(frontend, client));
    const frontend: Frontend = { close: () => server.close(), backends: [], next: 0 };
    server.on('error', (err: NodeJS.ErrnoException) => this.unbindable(address, err));
    server.listen({ host: address.slice(0, cut), port: Number(address.slice(cut + 1)) }, () => this.bound(address));
    this.frontends.set(address, frontend);
    return frontend;
  }

  /**
   * A UDP frontend at `address` (ip:port): each client (address and port) is a session with an
   * endpoint of its own, chosen as a TCP connection's is; replies go back to the client through
   * the frontend's socket; a session quiet for a minute ends (kube-proxy's conntrack keeps UDP
   * entries about as long).
   */
  private openUdp(address: string): Frontend {
    const cut = address.lastIndexOf(':');
    const socket = createSocket('udp4');
    const sessions = new Map<string, { upstream: DgramSocket; backend: Backend; timer: NodeJS.Timeout }>();
    const end = (client: string) => {
      const s = sessions.get(client);
      if (!s) return;
      sessions.delete(client);
      clearTimeout(s.timer);
      s.upstream.close();
    };
    const frontend: Frontend = {
      close: () => {
        for (const client of [...sessions.keys()]) end(client);
        socket.close();
      },
      backends: [],
      next: 0,
    };
    socket.on('message', (message, from) => {
      const client = `${from.address}:${from.port}`;
      let session = sessions.get(client);
      if (!session) {
        const backend = this.choose(frontend, from.address);
        if (!backend) return;
        const upstream = createSocket('udp4');
        upstream.on('message', (reply) => socket.send(reply, from.port, from.address));
        upstream.on('error', () => end(client));
        session = { upstream, backend, timer: setTimeout(() => end(client), UDP_IDLE_MS).unref() };
        sessions.set(client, session);
      }
      session.timer.refresh();
      session.upstream.send(message, session.backend.port, session.backend.ip);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.unbindable(`udp/${address}`, err));
    socket.bind({ address: address.slice(0, cut), port: Number(address.slice(cut + 1)) }, () => this.bound(`udp/${address}`));
    this.frontends.set(`udp/${address}`, frontend);
    return frontend;
  }

  private unbindable(address: string, err: NodeJS.ErrnoException): void {
    this.frontends.delete(address);
    if (!this.unbound.has(address))
      this.options.log(`proxy: cannot listen on ${address} (${err.code ?? err.message}); trying again every ${RETRY_MS / 1000} s`);
    this.unbound.add(address);
  }

  private bound(address: string): void {
    if (this.unbound.delete(address)) this.options.log(`proxy: now listening on ${address}`);
  }

  /** The endpoint for a new connection or session from `client`: its own (affinity), else the next in turn. */
  private choose(f: Frontend, client: string): Backend | undefined {
    if (f.backends.length === 0) return undefined;
    const sticky = f.affinity?.clients.get(client);
    const backend =
      sticky && sticky.until > Date.now() && f.backends.some((b) => b.ip === sticky.backend.ip && b.port === sticky.backend.port)
        ? sticky.backend
        : f.backends[f.next++ % f.backends.length];
    if (f.affinity) f.affinity.clients.set(client, { backend, until: Date.now() + f.affinity.timeoutMs });
    return backend;
  }

  /** Connects a client to an endpoint: its own (affinity), or the next in turn, skipping those that refuse. */
  private forward(f: Frontend, client: Socket): void {
    this.track(client);
    const candidates = [...f.backends];
    if (candidates.length === 0) {
      client.destroy();
      return;
    }
    const who = client.remoteAddress ?? '';
    const first = this.choose(f, who) as Backend;
    const start = Math.max(
      0,
      candidates.findIndex((b) => b.ip === first.ip && b.port === first.port),
    );
    client.pause();
    const attempt = (tried: number) => {
      if (tried >= candidates.length || client.destroyed) {
        client.destroy();
        return;
      }
      const backend = candidates[(start + tried) % candidates.length];
      const upstream = connect({ host: backend.ip, port: backend.port });
      this.track(upstream);
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        if (f.affinity) f.affinity.clients.set(who, { backend, until: Date.now() + f.affinity.timeoutMs });
        upstream.setNoDelay(true);
        client.setNoDelay(true);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
      });
      upstream.once('error', () => attempt(tried + 1));
    };
    attempt(0);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}

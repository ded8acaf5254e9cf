/**
 * The kubelet: a node agent that talks to the API only, as any client. It registers its Node
 * (capacity, addresses, labels, the port it serves logs on), renews its Lease, watches the pods
 * bound to it and runs each through a `PodWorker` on the `Runtime`, and serves container logs.
 * After a restart it finds the containers it started (`runtime.list`): those of pods still
 * bound here are adopted, the rest are stopped and removed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { arch, cpus, hostname, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Condition, Pod } from '../shared/api/schemas/index.js';
import { sweepLocalPaths } from './local-storage.js';
import { type RunningPod, UsageSampler } from './usage.js';
import { kubeletRunningContainers, kubeletRunningPods, registry } from '../shared/metrics.js';
import { LOCAL_PATH_ROOT } from '../shared/api/kinds/storage.js';
import { ApiRequestError, type ApiClient } from './api-client.js';
import type { ServiceInfo } from './env.js';
import { ServiceProxy } from './proxy.js';
import { type Cidr, ipOf, isHostOf, parseCidr } from '../shared/net/cidr.js';
import { type DnsServer, startDnsServer } from '../shared/dns/server.js';
import { HostPorts } from './host-ports.js';
import { serveStreams, type StreamHost } from './streams/server.js';
import { DEFAULT_BACKOFF, PodWorker, within, type BackoffPolicy } from './pod-worker.js';
import type { ContainerStatus, Runtime } from './runtime/types.js';

export interface KubeletOptions {
  nodeName: string;
  api: ApiClient;
  runtime: Runtime;
  /** The address pods and logs are reached on (containers share the node's network). */
  address?: string;
  /**
   * Where pod IPs come from: a range of loopback addresses (say `127.16.1.0/24`), one per pod,
   * so pods on one machine each have their own address and can all listen on the same port. Its
   * first host address is left to the node.
   * Absent: every pod has the node's address.
   */
  podCidr?: string;
  /** Port of the log server (0 picks one). */
  port?: number;
  /** Where pod volumes (service-account tokens) are written; absent: pods get none. */
  volumesDir?: string;
  /** The API server's CA (PEM), given to pods as ca.crt beside their token. */
  ca?: string;
  /** When a pod's token of this lifetime is refreshed (default: at 80% of it). */
  tokenRefreshAfterMs?: (lifetimeMs: number) => number;
  /** Where local-path volumes go on this node (published on the Node; swept of volumes that are gone). */
  localPathRoot?: string;
  /** How often running pods' configMap, secret, downwardAPI and projected volumes are brought up to date (default 60 s). */
  volumeSyncMs?: number;
  /** The log server's certificate and key (PEM): it serves HTTPS. Absent: plain HTTP. */
  tls?: { cert: string; key: string };
  /** Bearer token the log server requires (the API server's). Absent: no check. */
  servingToken?: string;
  /** Millicores; defaults to the machine's. */
  cpu?: number;
  /** Bytes; defaults to the machine's. */
  memory?: number;
  pods?: number;
  labels?: Record<string, string>;
  /** Taints the Node is made with (not set again on later starts: others may have changed them since). */
  taints?: { key: string; value?: string; effect: string }[];
  providerID?: string;
  leaseIntervalMs?: number;
  /** How often the node's CPU and memory are kept for `/stats/history` (default 30 s). */
  historyIntervalMs?: number;
  /** How often the Node's conditions are posted again with a fresh heartbeat (default 60 s). */
  nodeStatusIntervalMs?: number;
  /** How often every pod is looked at again (probes, restarts). */
  syncIntervalMs?: number;
  /**
   * List this node's pods this often instead of watching them. A watch served by a function
   * keeps an invocation running, and billed, for as long as it is held; a list every few seconds
   * costs a short invocation each (docs/aws.md, Cost). Absent: watch, as a kubelet does.
   */
  podPollIntervalMs?: number;
  /** The cluster DNS server's address, the pods' nameserver (absent: the host's resolver). */
  clusterDns?: string;
  /** The cluster's DNS domain (default cluster.local). */
  clusterDomain?: string;
  /** Run the node proxy (`proxy.ts`): Services' ClusterIPs and NodePorts answered here (default true). */
  proxy?: boolean;
  /**
   * Answer cluster DNS on this node (`kube-system/kube-dns`'s address sent to a DNS server of the
   * kubelet's own, from the Services its proxy follows), where the control plane serves none.
   */
  serveDns?: boolean;
  backoff?: BackoffPolicy;
  log?: (line: string) => void;
}

/** The shortest a pod watch asks to last; each asks for a random length up to twice this. */
const WATCH_TIMEOUT_SECONDS = 300;
/** The most a stop waits past the pods' grace periods, and for the watch and the log server. */
const STOP_MARGIN_MS = 10_000;
const microTime = () => new Date().toISOString().replace('Z', '000Z');

export class Kubelet {
  private readonly workers = new Map<string, PodWorker>();
  /** Pod uid -> its IP, and the IPs in use. */
  private readonly podIPs = new Map<string, string>();
  private readonly usedIPs = new Set<string>();
  private readonly podRange?: Cidr;
  private readonly hostPorts: HostPorts;
  private readonly abort = new AbortController();
  private server?: Server;
  private leaseTimer?: NodeJS.Timeout;
  private syncTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  /** What the node and its pods use, for metrics.k8s.io (`kubectl top`). */
  private readonly usage: UsageSampler;
  private statusTimer?: NodeJS.Timeout;
  /** When the node's conditions last changed (registration): kept by every heartbeat. */
  private since = '';
  private watching?: Promise<void>;
  private proxy?: ServiceProxy;
  private dns?: DnsServer;
  private readonly log: (line: string) => void;
  private readonly address: string;
  port = 0;

  constructor(private readonly options: KubeletOptions) {
    this.log = options.log ?? (() => undefined);
    this.address = options.address ?? '127.0.0.1';
    this.podRange = options.podCidr ? parseCidr(options.podCidr, '--pod-cidr', 16) : undefined;
    this.hostPorts = new HostPorts(this.log);
    this.usage = new UsageSampler(options.runtime, () => this.runningPods());
  }

  get nodeName(): string {
    return this.options.nodeName;
  }

  async start(): Promise<void> {
    this.server = await this.serveLogs();
    await this.registerUntilDone();
    await this.renewLease();
    this.usage.startHistory(this.options.historyIntervalMs);
    this.leaseTimer = setInterval(() => void this.renewLease().catch((err) => this.log(`lease: ${err.message}`)), this.options.leaseIntervalMs ?? 10_000);
    this.statusTimer = setInterval(
      () => void this.postConditions().catch((err) => this.log(`node status: ${err.message}`)),
      this.options.nodeStatusIntervalMs ?? 60_000,
    );
    const pods = await this.listPods();
    await this.adopt(pods.items);
    this.watching = this.options.podPollIntervalMs ? this.pollPods(this.options.podPollIntervalMs) : this.watchPods(pods.resourceVersion);
    this.syncTimer = setInterval(() => {
      for (const w of this.workers.values()) this.syncWorker(w);
    }, this.options.syncIntervalMs ?? 1000);
    const root = this.options.localPathRoot;
    if (root) {
      this.sweepTimer = setInterval(() => void sweepLocalPaths(this.options.api, root, this.log), this.options.volumeSyncMs ?? 60_000);
      this.sweepTimer.unref();
    }
    if (this.options.proxy !== false) {
      this.proxy = new ServiceProxy({ api: this.options.api, nodeAddress: this.address, pollIntervalMs: this.options.podPollIntervalMs, log: this.log });
      await this.proxy.start().catch((err) => this.log(`proxy: ${err instanceof Error ? err.message : String(err)}`));
      if (this.options.serveDns) await this.serveDns(this.proxy);
    }
    this.log(`node ${this.nodeName} registered, serving logs on ${this.address}:${this.port}, ${this.workers.size} pods`);
  }

  /** This node's own cluster DNS, behind the kube-dns Service's address on its proxy. */
  private async serveDns(proxy: ServiceProxy): Promise<void> {
    const directory = { service: proxy.service.bind(proxy), slices: proxy.slicesOf.bind(proxy) };
    this.dns = await startDnsServer({ directory, host: this.address, port: 0 });
    proxy.serveLocally('kube-system', 'kube-dns', { ip: this.address, port: this.dns.port });
    this.log(`cluster DNS on ${this.address}:${this.dns.port}, behind kube-system/kube-dns`);
  }

  /**
   * Registers the Node, trying again (0.5 s, doubling to 30 s) while the API refuses or cannot be
   * reached, as a kubelet does: an API that is starting, a credential another API instance has
   * not seen yet, a network not up. Ends when registered, or when the kubelet is stopped.
   */
  private async registerUntilDone(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.register();
      } catch (err) {
        if (this.abort.signal.aborted) throw err;
        const waitMs = Math.min(30_000, 500 * 2 ** attempt);
        this.log(`registering node ${this.nodeName}: ${(err as Error).message}; trying again in ${waitMs} ms`);
        // A stop ends the wait at once.
        await sleep(waitMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
        if (this.abort.signal.aborted) throw err;
      }
    }
  }

  /**
   * Stops the agent. With `stopPods`, every container is stopped (with its pod's grace period)
   * and removed first, as when the whole of `skiff up` shuts down; without, containers keep
   * running for the next kubelet to adopt.
   */
  async stop(options: { stopPods?: boolean } = {}): Promise<void> {
    this.abort.abort();
    clearInterval(this.leaseTimer);
    clearInterval(this.syncTimer);
    clearInterval(this.sweepTimer);
    clearInterval(this.statusTimer);
    this.usage.stopHistory();
    this.hostPorts.closeAll();
    await this.proxy?.stop();
    await this.dns?.close();
    // Open log follows would hold close() until they end: cut them first.
    const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
    if (options.stopPods) {
      // Each pod gets its grace period; past the longest of them (and a margin for a slow
      // engine), whatever still runs is killed, so a stop always ends.
      const workers = [...this.workers.values()];
      const longestGraceMs = Math.max(0, ...workers.map((w) => (w.current.spec.terminationGracePeriodSeconds ?? 30) * 1000));
      await within(Promise.all(workers.map((w) => w.terminate(false).catch(() => undefined))), longestGraceMs + STOP_MARGIN_MS);
      for (const c of await this.options.runtime.list().catch(() => [])) {
        await this.options.runtime.stop(c.id, 0).catch(() => undefined);
        await this.options.runtime.remove(c.id).catch(() => undefined);
      }
    }
    await within(this.watching ?? Promise.resolve(), STOP_MARGIN_MS);
    await within(closed, STOP_MARGIN_MS);
    this.options.api.close();
  }

  // ---- node and lease ------------------------------------------------------------------------

  private async register(): Promise<void> {
    const o = this.options;
    const cpu = o.cpu ?? cpus().length * 1000;
    const memory = o.memory ?? totalmem();
    const labels = {
      'kubernetes.io/hostname': this.nodeName,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': arch() === 'x64' ? 'amd64' : arch(),
      ...o.labels,
    };
    const resources = { cpu: `${cpu}m`, memory: `${Math.floor(memory / 1024)}Ki`, pods: String(o.pods ?? 110), 'ephemeral-storage': '10Gi' };
    const spec = { ...(o.providerID ? { providerID: o.providerID } : {}), ...(o.podCidr ? { podCIDR: o.podCidr, podCIDRs: [o.podCidr] } : {}) };
    const annotations = o.localPathRoot ? { [LOCAL_PATH_ROOT]: o.localPathRoot } : {};
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: this.nodeName, labels, annotations }, spec };
    try {
      await o.api.request('POST', '/api/v1/nodes', o.taints?.length ? { ...node, spec: { ...spec, taints: o.taints } } : node);
    } catch (err) {
      if (!(err instanceof ApiRequestError) || err.code !== 409) throw err;
      await o.api.request('PATCH', `/api/v1/nodes/${this.nodeName}`, { metadata: { labels, annotations }, spec: node.spec }, 'application/merge-patch+json');
    }
    this.since = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const status = {
      capacity: resources,
      allocatable: resources,
      addresses: [
        { type: 'InternalIP', address: this.address },
        { type: 'Hostname', address: this.nodeName },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: this.port } },
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: '',
        osImage: `skiff ${hostname()}`,
        containerRuntimeVersion: `${o.runtime.name}://skiff`,
        kubeletVersion: 'v1.32.0-skiff',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: labels['kubernetes.io/arch'],
      },
      conditions: this.conditions(),
    };
    await o.api.request('PATCH', `/api/v1/nodes/${this.nodeName}/status`, { status }, 'application/merge-patch+json');
  }

  /** The node's conditions: healthy since registration, with a fresh heartbeat. */
  private conditions(): Condition[] {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const condition = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: this.since,
    });
    return [
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
    ];
  }

  /** Posts the conditions again (the Lease says the node is alive; this keeps `describe node` current). */
  private async postConditions(): Promise<void> {
    await this.options.api.request(
      'PATCH',
      `/api/v1/nodes/${this.nodeName}/status`,
      { status: { conditions: this.conditions() } },
      'application/merge-patch+json',
    );
  }

  private async renewLease(): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.nodeName}`;
    try {
      await this.options.api.request('PATCH', path, { spec: { holderIdentity: this.nodeName, renewTime: microTime() } }, 'application/merge-patch+json');
    } catch (err) {
      if (!(err instanceof ApiRequestError) || err.code !== 404) throw err;
      await this.options.api.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.nodeName, namespace: 'kube-node-lease' },
        spec: { holderIdentity: this.nodeName, leaseDurationSeconds: 40, renewTime: microTime() },
      });
    }
  }

  // ---- pods ----------------------------------------------------------------------------------

  private listPods(): Promise<{ items: Pod[]; resourceVersion: string }> {
    return this.options.api
      .get<{ items: Pod[]; metadata: { resourceVersion: string } }>(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.nodeName}`)}`)
      .then((l) => ({ items: l.items, resourceVersion: l.metadata.resourceVersion }));
  }

  /** Containers of pods still here are adopted; the others are stopped and removed. */
  private async adopt(pods: Pod[]): Promise<void> {
    const found = await this.options.runtime.list();
    const byPod = new Map<string, ContainerStatus[]>();
    for (const c of found) byPod.set(c.spec.podUid, [...(byPod.get(c.spec.podUid) ?? []), c]);
    for (const pod of pods) {
      const uid = pod.metadata?.uid ?? '';
      this.ensureWorker(pod, byPod.get(uid) ?? []);
      byPod.delete(uid);
    }
    for (const [uid, containers] of byPod) {
      this.log(`removing ${containers.length} containers of pod ${uid}, no longer bound here`);
      for (const c of containers) {
        await this.options.runtime.stop(c.id, 0).catch(() => undefined);
        await this.options.runtime.remove(c.id).catch(() => undefined);
      }
    }
  }

  private ensureWorker(pod: Pod, adopted: ContainerStatus[] = []): PodWorker {
    const uid = pod.metadata?.uid ?? '';
    let worker = this.workers.get(uid);
    if (worker) worker.update(pod);
    else {
      worker = new PodWorker(
        pod,
        {
          runtime: this.options.runtime,
          api: this.options.api,
          nodeName: this.nodeName,
          hostIP: this.address,
          podIP: (p) => this.podIP(p),
          services: (p) => this.servicesFor(p),
          backoff: this.options.backoff ?? DEFAULT_BACKOFF,
          event: (p, type, reason, message) => void this.event(p, type, reason, message),
          log: this.log,
          volumes: this.options.volumesDir
            ? {
                api: this.options.api,
                root: this.options.volumesDir,
                ca: this.options.ca,
                refreshAfterMs: this.options.tokenRefreshAfterMs,
                syncMs: this.options.volumeSyncMs,
                dns: this.options.clusterDns ? { nameserver: this.options.clusterDns, domain: this.options.clusterDomain ?? 'cluster.local' } : undefined,
              }
            : undefined,
        },
        adopted,
      );
      this.workers.set(uid, worker);
    }
    this.syncWorker(worker);
    return worker;
  }

  /**
   * The Services a pod's containers get variables for: those of its namespace (unless
   * `enableServiceLinks: false`) and `kubernetes` in default, from the proxy's, else asked.
   */
  private async servicesFor(pod: Pod): Promise<ServiceInfo[]> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const links = pod.spec?.enableServiceLinks !== false;
    if (this.proxy)
      return this.proxy
        .services()
        .filter((s) => (links && s.metadata.namespace === namespace) || (s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'));
    const api = this.options.api;
    const mine = links ? (await api.get<{ items: ServiceInfo[] }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/services`)).items : [];
    const master = await api.get<ServiceInfo>('/api/v1/namespaces/default/services/kubernetes').catch(() => undefined);
    return [...mine.filter((s) => !(namespace === 'default' && s.metadata.name === 'kubernetes')), ...(master ? [master] : [])];
  }

  /** The pod's address: the one it had (after a restart), else the next free one in the range. */
  private podIP(pod: Pod): string {
    if (this.options.runtime.assignsAddresses) return '';
    const uid = pod.metadata?.uid ?? '';
    const known = this.podIPs.get(uid);
    if (known) return known;
    const range = this.podRange;
    if (!range) return this.address;
    const free = (candidate: string | undefined) => candidate !== undefined && isHostOf(range, candidate) && !this.usedIPs.has(candidate);
    let ip = free(pod.status?.podIP) ? pod.status!.podIP! : undefined;
    // The range's first host address is the node's (its gateway, on a real network).
    for (let n = range.base + 2; !ip && n < range.base + range.size - 1; n++) if (free(ipOf(n))) ip = ipOf(n);
    if (!ip) return this.address;
    this.podIPs.set(uid, ip);
    this.usedIPs.add(ip);
    return ip;
  }

  private forget(uid: string): void {
    this.hostPorts.close(uid);
    this.workers.delete(uid);
    const ip = this.podIPs.get(uid);
    if (ip) this.usedIPs.delete(ip);
    this.podIPs.delete(uid);
  }

  private syncWorker(worker: PodWorker): void {
    worker
      .sync()
      .then(() => {
        if (worker.done) return this.forget(worker.uid);
        const pod = worker.current;
        // Host ports forward to the pod's address on this machine: none where the runtime places pods elsewhere.
        const mappings =
          worker.active && !this.options.runtime.assignsAddresses
            ? pod.spec.containers.flatMap((c) =>
                (c.ports ?? [])
                  .filter((p) => p.hostPort && (p.protocol ?? 'TCP') === 'TCP')
                  .map((p) => ({ hostIP: p.hostIP || this.address, hostPort: p.hostPort!, podIP: this.podIP(pod), containerPort: p.containerPort })),
              )
            : [];
        this.hostPorts.update(worker.uid, mappings);
      })
      .catch((err) => this.log(`pod ${worker.uid}: ${err instanceof Error ? err.message : String(err)}`));
  }

  private async watchPods(fromVersion: string): Promise<void> {
    let version = fromVersion;
    while (!this.abort.signal.aborted) {
      try {
        // Bounded, as client-go's reflector bounds its watches (5 to 10 minutes): an API served
        // by functions ends each response before its timeout, and the watch resumes from here.
        const timeout = WATCH_TIMEOUT_SECONDS + Math.floor(Math.random() * WATCH_TIMEOUT_SECONDS);
        const path = `/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=${timeout}&resourceVersion=${version}&fieldSelector=${encodeURIComponent(`spec.nodeName=${this.nodeName}`)}`;
        let expired = false;
        await this.options.api.watch<Pod>(
          path,
          (event) => {
            if (event.type === 'ERROR') {
              expired = true;
              return;
            }
            // An ERROR's object is a Status, handled above; the rest carry the pod (or a bookmark's metadata).
            version = event.object.metadata?.resourceVersion ?? version;
            if (event.type === 'BOOKMARK') return;
            const pod = event.object;
            if (event.type === 'DELETED') this.podGone(pod);
            else this.ensureWorker(pod);
          },
          this.abort.signal,
        );
        if (expired) version = await this.resync();
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.log(`watch: ${err instanceof Error ? err.message : String(err)}; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Lists this node's pods and makes the workers match: new pods start, pods gone stop. Returns the list's revision. */
  private async resync(): Promise<string> {
    const pods = await this.listPods();
    const present = new Set(pods.items.map((p) => p.metadata?.uid));
    for (const [uid, w] of this.workers) if (!present.has(uid)) void w.terminate(false).finally(() => this.forget(uid));
    for (const p of pods.items) this.ensureWorker(p);
    return pods.resourceVersion;
  }

  /** `podPollIntervalMs`: a list every interval in place of the watch, until stopped. */
  private async pollPods(intervalMs: number): Promise<void> {
    while (!this.abort.signal.aborted) {
      await sleep(intervalMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
      if (this.abort.signal.aborted) return;
      await this.resync().catch((err) => this.log(`pod list: ${err instanceof Error ? err.message : String(err)}; retrying`));
    }
  }

  /** A pod removed without us (force deletion): stop what it ran, at once. */
  private podGone(pod: Pod): void {
    const worker = this.workers.get(pod.metadata?.uid ?? '');
    if (!worker) return;
    worker.update(pod);
    void worker.terminate(false, 0).finally(() => this.forget(worker.uid));
  }

  private async event(pod: Pod, type: string, reason: string, message: string): Promise<void> {
    const meta = pod.metadata ?? {};
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await this.options.api
      .request('POST', `/api/v1/namespaces/${meta.namespace}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${meta.name}.`, namespace: meta.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', name: meta.name, namespace: meta.namespace, uid: meta.uid },
        reason,
        message,
        type,
        source: { component: 'kubelet', host: this.nodeName },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        reportingComponent: 'kubelet',
        reportingInstance: this.nodeName,
      })
      .catch(() => undefined);
  }

  // ---- logs and streams ----------------------------------------------------------------------

  /** Prometheus' scrape of this kubelet: its pods and containers as the kubelet counts them, and its process. */
  private async metrics(): Promise<string> {
    const running = this.runningPods();
    kubeletRunningPods.set(running.filter((p) => p.containers.length > 0).length);
    kubeletRunningContainers.set(
      { container_state: 'running' },
      running.reduce((n, p) => n + p.containers.length, 0),
    );
    return registry.metrics();
  }

  /** The pods with running containers, and those containers' ids. */
  private runningPods(): RunningPod[] {
    return [...this.workers.values()]
      .filter((w) => w.active)
      .map((w) => ({
        pod: w.current,
        containers: w.current.spec.containers.flatMap((c) => {
          const current = w.containerIds(c.name)?.current;
          return current?.state === 'running' ? [{ name: c.name, id: current.id }] : [];
        }),
      }));
  }

  /** What exec, attach and port-forward need of this kubelet: its running containers and pod addresses. */
  private streamHost(): StreamHost {
    const find = (namespace: string, pod: string) => [...this.workers.values()].find((w) => w.matches(namespace, pod) && !w.done);
    return {
      servingToken: this.options.servingToken,
      runtime: this.options.runtime,
      log: this.log,
      container: (namespace, pod, container) => {
        const current = find(namespace, pod)?.containerIds(container)?.current;
        if (!current) return { error: `container "${container}" in pod "${pod}" not found on node ${this.nodeName}` };
        if (current.state !== 'running') return { error: `container "${container}" in pod "${pod}" is not running` };
        return { id: current.id };
      },
      pod: (namespace, pod) => {
        const worker = find(namespace, pod);
        if (!worker) return undefined;
        return { address: this.podIPs.get(worker.uid) ?? worker.current.status?.podIP ?? this.address, uid: worker.uid };
      },
    };
  }

  /**
   * `GET /containerLogs/{namespace}/{pod}/{container}` with follow, tailLines, sinceSeconds,
   * previous and timestamps: what the API's pods/log proxies to.
   */
  private serveLogs(): Promise<Server> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const fail = (code: number, message: string) => {
        res.writeHead(code, { 'content-type': 'text/plain' });
        res.end(message);
      };
      if (this.options.servingToken && req.headers.authorization !== `Bearer ${this.options.servingToken}`) return fail(401, 'Unauthorized');
      const url = new URL(req.url ?? '/', 'http://kubelet');
      if (url.pathname === '/healthz') return fail(200, 'ok');
      if (url.pathname === '/metrics') {
        this.metrics()
          .then((text) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(text);
          })
          .catch((err: Error) => fail(500, err.message));
        return;
      }
      if (url.pathname === '/stats/history') {
        const since = url.searchParams.get('since');
        if (since !== null && !/^\d{1,15}$/.test(since)) return fail(400, `since must be a time in ms, not ${JSON.stringify(since)}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.usage.history(since === null ? undefined : Number(since))));
        return;
      }
      if (url.pathname === '/stats/usage') {
        this.usage
          .snapshot()
          .then((snapshot) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(snapshot));
          })
          .catch((err: Error) => fail(500, err.message));
        return;
      }
      const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (!m) return fail(404, 'not found');
      const [namespace, podName, containerName] = m.slice(1).map(decodeURIComponent);
      const worker = [...this.workers.values()].find((w) => w.matches(namespace, podName));
      const ids = worker?.containerIds(containerName);
      if (!worker || !ids) return fail(404, `container "${containerName}" in pod "${podName}" not found on node ${this.nodeName}`);
      const previous = url.searchParams.get('previous') === 'true';
      // `previous` is the last run that ended: while a container waits to run again (back-off)
      // that is its current one, as the status's lastState says; otherwise the run before.
      const lastEnded = ids.waiting && ids.current?.state === 'exited' ? ids.current : ids.previous;
      const target = previous ? lastEnded : ids.current;
      if (!target) {
        if (previous) return fail(400, `previous terminated container "${containerName}" in pod "${podName}" not found`);
        return fail(400, `container "${containerName}" in pod "${podName}" is waiting to start: ${ids.waiting?.reason ?? 'ContainerCreating'}`);
      }
      const num = (name: string) => (url.searchParams.has(name) ? Number(url.searchParams.get(name)) : undefined);
      const options = { tailLines: num('tailLines'), sinceSeconds: num('sinceSeconds'), timestamps: url.searchParams.get('timestamps') === 'true' };
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'transfer-encoding': 'chunked' });
      if (url.searchParams.get('follow') === 'true' && !previous) {
        const abort = new AbortController();
        res.on('close', () => abort.abort());
        this.options.runtime
          .followLogs(target.id, options, (text) => res.write(text), abort.signal)
          .catch(() => undefined)
          .finally(() => res.end());
        return;
      }
      this.options.runtime
        .logs(target.id, options)
        .then((text) => res.end(text))
        .catch((err) => res.end(String(err)));
    };
    const tls = this.options.tls;
    const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
    // As the API server: idle connections outlive a Node client's free-socket timer (5 s).
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    serveStreams(server, this.streamHost());
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.address, () => {
        this.port = (server.address() as AddressInfo).port;
        resolve(server);
      });
    });
  }
}

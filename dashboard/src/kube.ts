/** What the views show of objects, worked out as kubectl works it out. */
import type { KubeObject } from './api.js';

/** `5s`, `3m`, `2h`, `4d`, as kubectl's AGE column. */
export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '';
  const s = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A pod's STATUS as `kubectl get pods` shows it: a waiting or terminated reason where there is one, else its phase. */
export function podStatus(pod: KubeObject): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  const status = pod.status ?? {};
  const inits = (status.initContainerStatuses ?? []) as { state?: { waiting?: { reason?: string }; terminated?: { exitCode: number; reason?: string } } }[];
  for (const [i, c] of inits.entries()) {
    if (c.state?.terminated?.exitCode === 0) continue;
    if (c.state?.terminated) return `Init:${c.state.terminated.reason ?? 'Error'}`;
    if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') return `Init:${c.state.waiting.reason}`;
    return `Init:${i}/${inits.length}`;
  }
  let reason = status.reason ?? status.phase ?? 'Unknown';
  for (const c of (status.containerStatuses ?? []) as { state?: { waiting?: { reason?: string }; terminated?: { reason?: string } } }[]) {
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state?.terminated?.reason && reason === 'Running') reason = c.state.terminated.reason;
  }
  return reason;
}

export function podReady(pod: KubeObject): { ready: number; total: number } {
  const statuses = (pod.status?.containerStatuses ?? []) as { ready?: boolean }[];
  return { ready: statuses.filter((c) => c.ready).length, total: (pod.spec?.containers ?? []).length };
}

export function restarts(pod: KubeObject): number {
  return ((pod.status?.containerStatuses ?? []) as { restartCount?: number }[]).reduce((n, c) => n + (c.restartCount ?? 0), 0);
}

/** Millicores from a CPU quantity (`500m`, `2`). */
export function cpuMillis(q: string | undefined): number {
  if (!q) return 0;
  const scale = { m: 1, u: 1e-3, n: 1e-6 }[q.slice(-1)];
  return scale ? Number(q.slice(0, -1)) * scale : Number(q) * 1000;
}

const UNITS: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** Bytes from a memory quantity (`128Mi`, `1G`). */
export function bytes(q: string | undefined): number {
  if (!q) return 0;
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  return m ? Number(m[1]) * (UNITS[m[2]] ?? 1) : 0;
}

/** What a pod asks of its node: its containers' requests (init containers' if larger). */
export function podRequests(pod: KubeObject): { cpu: number; memory: number } {
  type C = { resources?: { requests?: Record<string, string> } };
  const sum = (cs: C[], f: (c: C) => number) => cs.reduce((n, c) => n + f(c), 0);
  const most = (cs: C[], f: (c: C) => number) => Math.max(0, ...cs.map(f));
  const cpu = (c: C) => cpuMillis(c.resources?.requests?.cpu);
  const mem = (c: C) => bytes(c.resources?.requests?.memory);
  const containers = (pod.spec?.containers ?? []) as C[];
  const inits = (pod.spec?.initContainers ?? []) as C[];
  return { cpu: Math.max(sum(containers, cpu), most(inits, cpu)), memory: Math.max(sum(containers, mem), most(inits, mem)) };
}

export function nodeReady(node: KubeObject): boolean {
  return ((node.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * A filter over a kind's objects: `fields` names what a filter looks in besides the name and the
 * namespace. Each object's text is lower-cased and joined once and kept while the object is the
 * same (a changed object comes as a new one), so a key typed in the filter scans 5,000 pods
 * without building 20,000 strings, and without the garbage collections those would bring.
 */
export function filterBy<T extends KubeObject>(fields: (o: T) => string[] = () => []): (filter: string) => (o: T) => boolean {
  const texts = new WeakMap<T, string>();
  const text = (o: T) => {
    let t = texts.get(o);
    if (t === undefined) {
      // A line apart, so that no filter matches across two fields (a search field holds no line break).
      t = [o.metadata.name, o.metadata.namespace ?? '', ...fields(o)].join('\n').toLowerCase();
      texts.set(o, t);
    }
    return t;
  };
  return (filter) => {
    const f = filter.toLowerCase();
    return f ? (o) => text(o).includes(f) : () => true;
  };
}

/** By namespace, then name: plain comparisons (names are lower-case ASCII), many times faster than localeCompare over thousands of rows. */
export function byName(a: KubeObject, b: KubeObject): number {
  return compare(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || compare(a.metadata.name, b.metadata.name);
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function gib(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

/** The label the cloud adapters put on a node they made: what it costs an hour, in dollars. */
export const PRICE_LABEL = 'skiff.dev/price-per-hour';

export interface NamespaceUsage {
  pods: number;
  running: number;
  /** Requested by its pods that hold a node (not ended): millicores, bytes. */
  cpu: number;
  memory: number;
  /** Its share of the priced nodes' cost, dollars an hour. */
  cost: number;
}

export interface Costs {
  byNamespace: Map<string, NamespaceUsage>;
  /** What the priced nodes cost an hour in all, and the part no pod's requests hold. */
  total: number;
  idle: number;
  /** Whether any node carries a price (a cluster of local or simulated nodes has none). */
  priced: boolean;
}

/**
 * What each namespace's pods use and cost. A pod that holds a node pays for the larger of its CPU
 * and memory shares of the node's allocatable (what it keeps other pods from using, as cost tools
 * such as Kubecost and OpenCost share a node out); what the pods of a node leave unasked for is
 * the cluster's idle cost.
 */
export function costsOf(nodes: Iterable<KubeObject>, pods: Iterable<KubeObject>): Costs {
  const capacity = new Map<string, { cpu: number; memory: number; price: number; used: number }>();
  let total = 0;
  for (const n of nodes) {
    const price = Number(n.metadata.labels?.[PRICE_LABEL] ?? Number.NaN);
    if (!Number.isFinite(price) || price < 0) continue;
    capacity.set(n.metadata.name, { cpu: cpuMillis(n.status?.allocatable?.cpu), memory: bytes(n.status?.allocatable?.memory), price, used: 0 });
    total += price;
  }
  const byNamespace = new Map<string, NamespaceUsage>();
  for (const p of pods) {
    const ns = p.metadata.namespace ?? '';
    const u = byNamespace.get(ns) ?? { pods: 0, running: 0, cpu: 0, memory: 0, cost: 0 };
    byNamespace.set(ns, u);
    u.pods++;
    if (p.status?.phase === 'Running') u.running++;
    if (!p.spec?.nodeName || ['Succeeded', 'Failed'].includes(p.status?.phase)) continue;
    const r = podRequests(p);
    u.cpu += r.cpu;
    u.memory += r.memory;
    const node = capacity.get(p.spec.nodeName);
    if (!node) continue;
    const share = Math.min(1, Math.max(node.cpu > 0 ? r.cpu / node.cpu : 0, node.memory > 0 ? r.memory / node.memory : 0));
    // A node is shared out once: pods asking for more than it has split what is left.
    const cost = Math.min(share, 1 - node.used) * node.price;
    node.used = Math.min(1, node.used + share);
    u.cost += cost;
  }
  let idle = 0;
  for (const n of capacity.values()) idle += (1 - n.used) * n.price;
  return { byNamespace, total, idle, priced: capacity.size > 0 };
}

/** Dollars an hour, to the cent or to three significant figures below it. */
export function dollars(n: number): string {
  return n >= 1 ? `$${n.toFixed(2)}` : `$${n.toPrecision(3).replace(/\.?0+$/, '')}`;
}

/** metrics.skiff.dev NodeHistory: a node's CPU and memory over the last hour, oldest first. */
export interface NodeHistory extends KubeObject {
  intervalSeconds?: number;
  samples?: { timestamp: string; cpu: string; memory: string }[];
}

/** Figures over time: seconds since the epoch, and CPU (millicores) and memory (bytes) at each. */
export interface UsageOverTime {
  times: number[];
  cpu: number[];
  memory: number[];
}

/**
 * The nodes' histories added up over time, a point per sampling interval (the longest of the
 * nodes'), ending at the newest sample: at each point, each node counts with its latest sample
 * at or before it, if that is no older than two intervals (nodes sample each on their own clock,
 * so a point falls between two samples of each). A node with no such sample is left out there.
 */
export function usageOverTime(histories: NodeHistory[]): UsageOverTime {
  const step = Math.max(1, ...histories.map((h) => h.intervalSeconds ?? 0));
  const series = histories
    .map((h) =>
      (h.samples ?? [])
        .map((s) => ({ t: Date.parse(s.timestamp) / 1000, cpu: cpuMillis(s.cpu), memory: bytes(s.memory) }))
        .filter((p) => Number.isFinite(p.t))
        .sort((a, b) => a.t - b.t),
    )
    .filter((s) => s.length > 0);
  if (series.length === 0) return { times: [], cpu: [], memory: [] };
  const first = Math.min(...series.map((s) => s[0].t));
  const last = Math.max(...series.map((s) => s[s.length - 1].t));
  const times: number[] = [];
  for (let t = last; t >= first; t -= step) times.push(t);
  times.reverse();
  const cpu = times.map(() => 0);
  const memory = times.map(() => 0);
  for (const s of series) {
    let i = -1;
    times.forEach((t, k) => {
      while (i + 1 < s.length && s[i + 1].t <= t) i++;
      if (i < 0 || s[i].t <= t - 2 * step) return;
      cpu[k] += s[i].cpu;
      memory[k] += s[i].memory;
    });
  }
  return { times, cpu, memory };
}

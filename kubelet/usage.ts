/**
 * What the node and its pods use, for `kubectl top` (the API's metrics.k8s.io asks each kubelet,
 * as metrics-server does): CPU as a rate over a window (the difference of two samples of CPU
 * time), memory as the working set now. The node's figures are the machine's (`/proc/stat`,
 * `/proc/meminfo`); a container's come from its runtime. A first ask samples twice, a second
 * apart; later asks use the sample before, and a snapshot is kept 5 s.
 *
 * The node's own figures are also sampled on a clock (every 30 s) and the last hour of them
 * kept (`/stats/history`), for the dashboard's charts (metrics.skiff.dev NodeHistory): what
 * metrics-server cannot answer, as it knows only the present. A restarted kubelet starts anew.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryPoint, UsageHistory, UsageSnapshot } from '../shared/api/kubelet-stats.js';
import type { Pod } from '../shared/api/schemas/index.js';
import { nowTimestamp } from '../shared/store/object.js';
import type { Runtime, Usage } from './runtime/types.js';

/** A running pod's containers, by name and runtime id. */
export interface RunningPod {
  pod: Pod;
  containers: { name: string; id: string }[];
}

interface Sample {
  at: number;
  hostCpuNanos: number;
  hostMemoryBytes: number;
  containers: Map<string, Usage>;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICK_NS = 1e9 / 100;

function hostSample(): { cpuNanos: number; memoryBytes: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3] - (cpu[4] ?? 0);
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
  return { cpuNanos: busy * TICK_NS, memoryBytes: kb('MemTotal') - kb('MemAvailable') };
}

/** Nanocores: CPU time used (ns) between two samples `windowNs` apart, as a rate. */
const nanoCores = (used: number, was: number, windowNs: number) => Math.max(0, Math.round(((used - was) / windowNs) * 1e9));

export const HISTORY_INTERVAL_MS = 30_000;
const HISTORY_SPAN_MS = 3_600_000;

export class UsageSampler {
  private last?: Sample;
  private kept?: { at: number; snapshot: UsageSnapshot };
  private readonly points: HistoryPoint[] = [];
  private previousHost?: { at: number; cpuNanos: number };
  private clock?: NodeJS.Timeout;
  private intervalMs = HISTORY_INTERVAL_MS;

  constructor(
    private readonly runtime: Runtime,
    private readonly running: () => RunningPod[],
  ) {}

  /** Samples the node every `intervalMs` from now on, keeping an hour of points. */
  startHistory(intervalMs = HISTORY_INTERVAL_MS): void {
    this.stopHistory();
    this.sampleHost();
    this.clock = setInterval(() => this.sampleHost(), intervalMs);
    this.clock.unref();
    this.intervalMs = intervalMs;
  }

  stopHistory(): void {
    clearInterval(this.clock);
    this.clock = undefined;
  }

  /**
   * The last hour of the node's figures, oldest first; with `since` (ms), only the points after
   * it, so a reader that holds the rest (a NodeHistory watch) asks for what is new alone.
   */
  history(since?: number): UsageHistory {
    const oldest = this.points[0]?.at;
    if (since === undefined) return { intervalSeconds: this.intervalMs / 1000, oldest, points: [...this.points] };
    return { intervalSeconds: this.intervalMs / 1000, oldest, since, points: this.points.filter((p) => p.at > since) };
  }

  private sampleHost(): void {
    let host: { cpuNanos: number; memoryBytes: number };
    try {
      host = hostSample();
    } catch {
      return;
    }
    const at = Date.now();
    const before = this.previousHost;
    this.previousHost = { at, cpuNanos: host.cpuNanos };
    if (!before || at <= before.at) return;
    this.points.push({ at, cpuNanoCores: nanoCores(host.cpuNanos, before.cpuNanos, (at - before.at) * 1e6), memoryBytes: host.memoryBytes });
    while (this.points.length > 0 && this.points[0].at < at - HISTORY_SPAN_MS) this.points.shift();
  }

  private async sample(): Promise<Sample> {
    const host = hostSample();
    const containers = new Map<string, Usage>();
    for (const { containers: list } of this.running()) {
      for (const c of list) {
        const used = await this.runtime.usage?.(c.id).catch(() => undefined);
        if (used) containers.set(c.id, used);
      }
    }
    return { at: Date.now(), hostCpuNanos: host.cpuNanos, hostMemoryBytes: host.memoryBytes, containers };
  }

  async snapshot(): Promise<UsageSnapshot> {
    if (this.kept && Date.now() - this.kept.at < 5000) return this.kept.snapshot;
    let before = this.last;
    if (!before || Date.now() - before.at > 60_000) {
      before = await this.sample();
      await sleep(1000);
    }
    const now = await this.sample();
    this.last = now;
    const windowNs = (now.at - before.at) * 1e6;
    const rate = (used: number, was: number) => nanoCores(used, was, windowNs);
    const pods = this.running().flatMap(({ pod, containers }) => {
      const measured = containers.filter((c) => now.containers.has(c.id) && before.containers.has(c.id));
      if (measured.length === 0) return [];
      return [
        {
          namespace: pod.metadata?.namespace ?? '',
          name: pod.metadata?.name ?? '',
          containers: measured.map((c) => ({
            name: c.name,
            cpuNanoCores: rate(now.containers.get(c.id)!.cpuNanos, before.containers.get(c.id)!.cpuNanos),
            memoryBytes: now.containers.get(c.id)!.memoryBytes,
          })),
        },
      ];
    });
    const snapshot: UsageSnapshot = {
      timestamp: nowTimestamp(new Date(now.at)),
      windowSeconds: Math.max(1, Math.round(windowNs / 1e9)),
      node: { cpuNanoCores: rate(now.hostCpuNanos, before.hostCpuNanos), memoryBytes: now.hostMemoryBytes },
      pods,
    };
    this.kept = { at: Date.now(), snapshot };
    return snapshot;
  }
}

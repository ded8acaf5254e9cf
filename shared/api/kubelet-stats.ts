/**
 * What a kubelet's stats endpoints answer, as the kubelet (kubelet/usage.ts) writes it and the
 * API (functions/api/kubelet-metrics.ts) reads it: one definition for both ends of the wire.
 */

export interface ContainerUsage {
  name: string;
  cpuNanoCores: number;
  memoryBytes: number;
}

export interface PodUsage {
  namespace: string;
  name: string;
  containers: ContainerUsage[];
}

/** `GET /stats/usage`: CPU as a rate over the window, memory as the working set. */
export interface UsageSnapshot {
  timestamp: string;
  windowSeconds: number;
  node: { cpuNanoCores: number; memoryBytes: number };
  pods: PodUsage[];
}

/** One point of the node's history: when (ms since the epoch), CPU as a rate since the point before, memory then. */
export interface HistoryPoint {
  at: number;
  cpuNanoCores: number;
  memoryBytes: number;
}

/** `GET /stats/history[?since=<ms>]`: the node's last hour. */
export interface UsageHistory {
  intervalSeconds: number;
  /** The time of the oldest point kept (absent: none kept, or a kubelet from before it said so). */
  oldest?: number;
  /** Echoed when asked: the points are those after it only. */
  since?: number;
  points: HistoryPoint[];
}

/**
 * metrics.k8s.io/v1beta1, as metrics-server serves it, from the kubelets themselves: a read of
 * NodeMetrics or PodMetrics asks each kubelet concerned for what its node and pods use
 * (`/stats/usage`: CPU as a rate over a window, memory as the working set) with the node's own
 * credential over TLS pinned to the cluster CA, and answers in metrics-server's shapes (CPU in
 * nanocores, memory in KiB). A kubelet that does not answer within 5 s leaves its node and pods
 * out, as metrics-server leaves out what it has no figures for. Nothing is stored.
 */
import { NODE_HISTORY } from '../../shared/api/kinds/metrics.js';
import type { UsageHistory, UsageSnapshot } from '../../shared/api/kubelet-stats.js';
import { typedList } from '../../shared/api/objects.js';
import { groupVersion } from '../../shared/api/resources.js';
import { parseBytes, parseCpu } from '../../shared/api/quantity.js';
import type { PodUsage } from '../../shared/controllers/hpa.js';
import { ApiError } from '../../shared/api/status.js';
import { type KubeObject, nowTimestamp } from '../../shared/store/object.js';
import type { Store } from '../../shared/store/types.js';
import { get, type KubeletCredentials, type KubeletLogsOptions, nodeReach } from './kubelet-logs.js';

const API_VERSION = 'metrics.k8s.io/v1beta1';

export type ComputedKind = 'NodeMetrics' | 'PodMetrics' | 'NodeHistory';

export interface MetricsProvider {
  /** NodeMetrics or NodeHistory (name given: that one) or PodMetrics (in `namespace`, or all), as a list body or the object. */
  read(kind: ComputedKind, at: { namespace?: string; name?: string; labelSelector?: string; fieldSelector?: string }): Promise<unknown>;
  /**
   * For a watch of NodeHistories, which reads them again and again: a reader that holds each
   * node's hour and asks its kubelet only for the points after the newest it holds. Absent: the
   * watch reads them whole each time.
   */
  historyReader?(at: { name?: string; labelSelector?: string }): () => Promise<KubeObject[]>;
}

export const HISTORY_API_VERSION = groupVersion(NODE_HISTORY);

const usage = (cpuNanoCores: number, memoryBytes: number) => ({ cpu: `${cpuNanoCores}n`, memory: `${Math.round(memoryBytes / 1024)}Ki` });

/** metrics-server's 404 for a node or pod it has no figures of. */
export function metricsNotFound(kind: string, name: string): ApiError {
  const [what, group] = kind === 'NodeHistory' ? [NODE_HISTORY.resource, NODE_HISTORY.group] : [kind.toLowerCase(), 'metrics.k8s.io'];
  return new ApiError(404, 'NotFound', `${what}.${group} "${name}" not found`, { name, group, kind: what });
}

/** Pods' use of a resource (CPU in millicores, memory in bytes), by name, from the metrics: the horizontal pod autoscaler's source. */
export function podUsage(metrics: MetricsProvider): PodUsage {
  return async (namespace, labelSelector, resource) => {
    const list = (await metrics.read('PodMetrics', { namespace, labelSelector })) as {
      items: { metadata: { name: string }; containers: { usage: { cpu: string; memory: string } }[] }[];
    };
    const parse = resource === 'cpu' ? parseCpu : parseBytes;
    return new Map(list.items.map((p) => [p.metadata.name, p.containers.reduce((n, c) => n + parse(c.usage[resource]), 0)]));
  };
}

export function kubeletMetrics(store: Store, credentialFor: KubeletCredentials | undefined, options: KubeletLogsOptions = {}): MetricsProvider {
  const reach = nodeReach(store, credentialFor, options);
  const ask = async <T>(nodeName: string, path: string): Promise<T | undefined> => {
    try {
      const kubelet = await reach(nodeName);
      const res = await get(`${kubelet.base}${path}`, kubelet.token, kubelet.ca, 5000);
      let text = '';
      for await (const chunk of res) text += String(chunk);
      return res.statusCode === 200 ? (JSON.parse(text) as T) : undefined;
    } catch {
      return undefined;
    }
  };
  const snapshotOf = (nodeName: string) => ask<UsageSnapshot>(nodeName, '/stats/usage');

  /** The Nodes a read of node figures is about: one by name, or those the selector picks. */
  const nodesOf = async (at: { name?: string; labelSelector?: string }) =>
    typedList('nodes', (await store.list('nodes', { labelSelector: at.labelSelector })).items).filter((n) => !at.name || n.metadata.name === at.name);

  const nodes = async (at: { name?: string; labelSelector?: string }) => {
    const listed = await nodesOf(at);
    const items = await Promise.all(
      listed.map(async (node) => {
        const snapshot = await snapshotOf(node.metadata.name ?? '');
        if (!snapshot) return undefined;
        return {
          metadata: { name: node.metadata.name, creationTimestamp: snapshot.timestamp, labels: node.metadata.labels },
          timestamp: snapshot.timestamp,
          window: `${snapshot.windowSeconds}s`,
          usage: usage(snapshot.node.cpuNanoCores, snapshot.node.memoryBytes),
        };
      }),
    );
    return items.filter(Boolean) as KubeObject[];
  };

  /** A node's NodeHistory from the hour its kubelet keeps; none for a kubelet from before histories (404) or one just started, as with NodeMetrics. */
  const historyOf = (node: KubeObject, history: UsageHistory | undefined): KubeObject | undefined => {
    if (!history || !Array.isArray(history.points) || history.points.length === 0) return undefined;
    return {
      kind: 'NodeHistory',
      apiVersion: HISTORY_API_VERSION,
      metadata: {
        name: node.metadata.name,
        creationTimestamp: nowTimestamp(new Date(history.points[0].at)),
        resourceVersion: String(history.points[history.points.length - 1].at),
        labels: node.metadata.labels,
      },
      intervalSeconds: history.intervalSeconds,
      samples: history.points.map((p) => ({ timestamp: nowTimestamp(new Date(p.at)), ...usage(p.cpuNanoCores, p.memoryBytes) })),
    };
  };

  const historyReader = (at: { name?: string; labelSelector?: string }) => {
    /** Node -> the hour held, as its kubelet last told it. */
    const held = new Map<string, UsageHistory>();
    return async () => {
      const listed = await nodesOf(at);
      const items = await Promise.all(
        listed.map(async (node) => {
          const name = node.metadata.name ?? '';
          const had = held.get(name);
          const newest = had?.points.at(-1)?.at;
          const answer = await ask<UsageHistory>(name, newest === undefined ? '/stats/history' : `/stats/history?since=${newest}`);
          if (!answer || !Array.isArray(answer.points)) {
            held.delete(name);
            return undefined;
          }
          // Only the new points (a kubelet that says so): added to those held, less those older
          // than the kubelet keeps now (after a restart, all of them). Else the whole hour.
          const points =
            had && answer.since === newest
              ? [...had.points.filter((p) => answer.oldest !== undefined && p.at >= answer.oldest), ...answer.points]
              : answer.points;
          const history = { intervalSeconds: answer.intervalSeconds, points };
          held.set(name, history);
          return historyOf(node, history);
        }),
      );
      const names = new Set(listed.map((n) => n.metadata.name));
      for (const name of held.keys()) if (!names.has(name)) held.delete(name);
      return items.filter(Boolean) as KubeObject[];
    };
  };

  /** A read of NodeHistories: a reader's first, which holds nothing yet and so asks each kubelet for its whole hour. */
  const histories = (at: { name?: string; labelSelector?: string }) => historyReader(at)();

  const pods = async (at: { namespace?: string; name?: string; labelSelector?: string; fieldSelector?: string }) => {
    const listed = typedList(
      'pods',
      (await store.list('pods', { namespace: at.namespace, labelSelector: at.labelSelector, fieldSelector: at.fieldSelector })).items,
    ).filter((p) => p.spec.nodeName && p.status?.phase === 'Running' && (!at.name || p.metadata.name === at.name));
    const snapshots = new Map<string, Promise<UsageSnapshot | undefined>>();
    for (const p of listed) if (!snapshots.has(p.spec.nodeName!)) snapshots.set(p.spec.nodeName!, snapshotOf(p.spec.nodeName!));
    const items: KubeObject[] = [];
    for (const pod of listed) {
      const snapshot = await snapshots.get(pod.spec.nodeName!);
      const found = snapshot?.pods.find((p) => p.namespace === pod.metadata.namespace && p.name === pod.metadata.name);
      if (!snapshot || !found) continue;
      items.push({
        metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, creationTimestamp: snapshot.timestamp, labels: pod.metadata.labels },
        timestamp: snapshot.timestamp,
        window: `${snapshot.windowSeconds}s`,
        containers: found.containers.map((c) => ({ name: c.name, usage: usage(c.cpuNanoCores, c.memoryBytes) })),
      });
    }
    return items;
  };

  return {
    historyReader,
    async read(kind, at) {
      const apiVersion = kind === 'NodeHistory' ? HISTORY_API_VERSION : API_VERSION;
      const found = kind === 'NodeMetrics' ? await nodes(at) : kind === 'NodeHistory' ? await histories(at) : await pods(at);
      const items = found.map((o) => ({ kind, apiVersion, ...o }));
      if (at.name !== undefined) {
        if (items.length === 0) throw metricsNotFound(kind, at.name);
        return items[0];
      }
      // A history's version is its newest sample's time: the list's is the newest of them all.
      const metadata = kind === 'NodeHistory' ? { resourceVersion: String(Math.max(0, ...items.map((i) => Number(i.metadata.resourceVersion)))) } : {};
      return { kind: `${kind}List`, apiVersion, metadata, items };
    },
  };
}

/**
 * `meta.k8s.io/v1` Tables for `kubectl get`: the columns kubectl users know, per kind
 * (priority 1 columns show only with `-o wide`), as kube-apiserver's printers build them.
 */
import type { KubeObject } from '../store/object.js';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export type IncludeObject = 'None' | 'Metadata' | 'Object';

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  priority?: number;
  description?: string;
  cell: (o: KubeObject, now: Date) => unknown;
}

/** kubectl's `duration.HumanDuration`. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

function age(timestamp: unknown, now: Date): string {
  if (typeof timestamp !== 'string') return '<unknown>';
  return humanDuration(now.getTime() - Date.parse(timestamp));
}

const nameColumn: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name };
const ageColumn: Column = { name: 'Age', type: 'string', description: 'CreationTimestamp', cell: (o, now) => age(o.metadata.creationTimestamp, now) };

function podStatus(pod: KubeObject): { ready: string; status: string; restarts: string } {
  const spec = asObj(pod.spec);
  const status = asObj(pod.status);
  const containers = asArray(spec.containers);
  const statuses = asArray(status.containerStatuses).map(asObj);
  let reason = (status.reason as string) || (status.phase as string) || 'Pending';
  let restarts = 0;
  let lastRestart: string | undefined;
  let ready = 0;
  const init = asArray(status.initContainerStatuses).map(asObj);
  let initializing = false;
  init.forEach((c, i) => {
    const state = asObj(c.state);
    const terminated = asObj(state.terminated);
    restarts += Number(c.restartCount ?? 0);
    if (state.terminated && terminated.exitCode === 0) return;
    if (initializing) return;
    initializing = true;
    if (state.terminated) reason = `Init:${(terminated.reason as string) || `ExitCode:${terminated.exitCode}`}`;
    else if (asObj(state.waiting).reason && asObj(state.waiting).reason !== 'PodInitializing') reason = `Init:${asObj(state.waiting).reason}`;
    else reason = `Init:${i}/${asArray(spec.initContainers).length}`;
  });
  if (!initializing) {
    let hasRunning = false;
    for (const c of [...statuses].reverse()) {
      restarts += Number(c.restartCount ?? 0);
      const state = asObj(c.state);
      const last = asObj(asObj(c.lastState).terminated);
      if (typeof last.finishedAt === 'string' && (!lastRestart || last.finishedAt > lastRestart)) lastRestart = last.finishedAt;
      if (asObj(state.waiting).reason) reason = asObj(state.waiting).reason as string;
      else if (state.terminated) {
        const t = asObj(state.terminated);
        reason = (t.reason as string) || (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`);
      } else if (state.running && c.ready) {
        hasRunning = true;
        ready++;
      } else if (state.running) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (pod.metadata.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  let restartText = String(restarts);
  if (restarts > 0 && lastRestart) restartText += ` (${humanDuration(Date.now() - Date.parse(lastRestart))} ago)`;
  return { ready: `${ready}/${containers.length}`, status: reason, restarts: restartText };
}

function containerNames(template: unknown): { names: string; images: string } {
  const containers = asArray(asObj(asObj(template).spec).containers).map(asObj);
  return { names: containers.map((c) => c.name).join(','), images: containers.map((c) => c.image).join(',') };
}

function selectorText(selector: unknown): string {
  const s = asObj(selector);
  const parts = Object.entries(asObj(s.matchLabels)).map(([k, v]) => `${k}=${v}`);
  for (const e of asArray(s.matchExpressions).map(asObj)) {
    const values = asArray(e.values).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(String(e.key));
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.length ? parts.join(',') : '<none>';
}

function mapSelector(selector: unknown): string {
  const entries = Object.entries(asObj(selector));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}

/** What `-o wide` adds for Deployments and ReplicaSets. */
const workloadWideColumns: Column[] = [
  { name: 'Containers', type: 'string', priority: 1, cell: (o) => containerNames(asObj(o.spec).template).names },
  { name: 'Images', type: 'string', priority: 1, cell: (o) => containerNames(asObj(o.spec).template).images },
  { name: 'Selector', type: 'string', priority: 1, cell: (o) => selectorText(asObj(o.spec).selector) },
];

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    nameColumn,
    { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.', cell: (o) => podStatus(o).ready },
    { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.', cell: (o) => podStatus(o).status },
    { name: 'Restarts', type: 'string', description: 'The number of times the containers in this pod have been restarted.', cell: (o) => podStatus(o).restarts },
    ageColumn,
    { name: 'IP', type: 'string', priority: 1, description: 'IP address allocated to the pod.', cell: (o) => asObj(o.status).podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, description: 'Name of the Node this pod is assigned to.', cell: (o) => asObj(o.spec).nodeName ?? '<none>' },
    { name: 'Nominated Node', type: 'string', priority: 1, cell: (o) => asObj(o.status).nominatedNodeName ?? '<none>' },
    { name: 'Readiness Gates', type: 'string', priority: 1, cell: (o) => (asArray(asObj(o.spec).readinessGates).length ? `${asArray(asObj(o.spec).readinessGates).length}` : '<none>') },
  ],
  Deployment: [
    nameColumn,
    { name: 'Ready', type: 'string', description: 'Number of the pod with ready state', cell: (o) => `${asObj(o.status).readyReplicas ?? 0}/${asObj(o.spec).replicas ?? 0}` },
    { name: 'Up-to-date', type: 'integer', description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', cell: (o) => asObj(o.status).updatedReplicas ?? 0 },
    { name: 'Available', type: 'integer', description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', cell: (o) => asObj(o.status).availableReplicas ?? 0 },
    ageColumn,
    ...workloadWideColumns,
  ],
  ReplicaSet: [
    nameColumn,
    { name: 'Desired', type: 'integer', cell: (o) => asObj(o.spec).replicas ?? 0 },
    { name: 'Current', type: 'integer', cell: (o) => asObj(o.status).replicas ?? 0 },
    { name: 'Ready', type: 'integer', cell: (o) => asObj(o.status).readyReplicas ?? 0 },
    ageColumn,
    ...workloadWideColumns,
  ],
  Node: [
    nameColumn,
    {
      name: 'Status',
      type: 'string',
      cell: (o) => {
        const ready = asArray(asObj(o.status).conditions).map(asObj).find((c) => c.type === 'Ready');
        const parts = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown'];
        if (asObj(o.spec).unschedulable) parts.push('SchedulingDisabled');
        return parts.join(',');
      },
    },
    {
      name: 'Roles',
      type: 'string',
      cell: (o) => {
        const roles = Object.keys(o.metadata.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
        return roles.length ? roles.sort().join(',') : '<none>';
      },
    },
    ageColumn,
    { name: 'Version', type: 'string', cell: (o) => asObj(asObj(o.status).nodeInfo).kubeletVersion ?? '' },
    { name: 'Internal-IP', type: 'string', priority: 1, cell: (o) => asArray(asObj(o.status).addresses).map(asObj).find((a) => a.type === 'InternalIP')?.address ?? '<none>' },
    { name: 'External-IP', type: 'string', priority: 1, cell: (o) => asArray(asObj(o.status).addresses).map(asObj).find((a) => a.type === 'ExternalIP')?.address ?? '<none>' },
    { name: 'OS-Image', type: 'string', priority: 1, cell: (o) => asObj(asObj(o.status).nodeInfo).osImage ?? '<unknown>' },
    { name: 'Kernel-Version', type: 'string', priority: 1, cell: (o) => asObj(asObj(o.status).nodeInfo).kernelVersion ?? '<unknown>' },
    { name: 'Container-Runtime', type: 'string', priority: 1, cell: (o) => asObj(asObj(o.status).nodeInfo).containerRuntimeVersion ?? '<unknown>' },
  ],
  Service: [
    nameColumn,
    { name: 'Type', type: 'string', cell: (o) => asObj(o.spec).type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', cell: (o) => asObj(o.spec).clusterIP ?? '<none>' },
    {
      name: 'External-IP',
      type: 'string',
      cell: (o) => {
        const ips = asArray(asObj(o.spec).externalIPs);
        const lb = asArray(asObj(asObj(o.status).loadBalancer).ingress).map((i) => asObj(i).ip ?? asObj(i).hostname);
        const all = [...ips, ...lb];
        if (all.length) return all.join(',');
        return asObj(o.spec).type === 'LoadBalancer' ? '<pending>' : '<none>';
      },
    },
    {
      name: 'Port(s)',
      type: 'string',
      cell: (o) => {
        const ports = asArray(asObj(o.spec).ports).map(asObj).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`);
        return ports.length ? ports.join(',') : '<none>';
      },
    },
    ageColumn,
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => mapSelector(asObj(o.spec).selector) },
  ],
  Namespace: [nameColumn, { name: 'Status', type: 'string', cell: (o) => asObj(o.status).phase ?? 'Active' }, ageColumn],
  ConfigMap: [nameColumn, { name: 'Data', type: 'integer', cell: (o) => Object.keys(asObj(o.data)).length + Object.keys(asObj(o.binaryData)).length }, ageColumn],
  Secret: [
    nameColumn,
    { name: 'Type', type: 'string', cell: (o) => o.type ?? 'Opaque' },
    { name: 'Data', type: 'integer', cell: (o) => Object.keys(asObj(o.data)).length },
    ageColumn,
  ],
  Endpoints: [
    nameColumn,
    {
      name: 'Endpoints',
      type: 'string',
      cell: (o) => {
        const list: string[] = [];
        for (const s of asArray(o.subsets).map(asObj)) {
          for (const a of asArray(s.addresses).map(asObj)) {
            const ports = asArray(s.ports).map(asObj);
            if (ports.length === 0) list.push(String(a.ip));
            for (const p of ports) list.push(`${a.ip}:${p.port}`);
          }
        }
        if (list.length === 0) return '<none>';
        return list.length > 3 ? `${list.slice(0, 3).join(',')} + ${list.length - 3} more...` : list.join(',');
      },
    },
    ageColumn,
  ],
  Event: [
    {
      name: 'Last Seen',
      type: 'string',
      cell: (o, now) => {
        const t = (o.lastTimestamp as string) || (o.eventTime as string) || o.metadata.creationTimestamp;
        return age(t, now);
      },
    },
    { name: 'Type', type: 'string', cell: (o) => o.type ?? '' },
    { name: 'Reason', type: 'string', cell: (o) => o.reason ?? '' },
    {
      name: 'Object',
      type: 'string',
      cell: (o) => {
        const io = asObj(o.involvedObject);
        return `${String(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`;
      },
    },
    { name: 'Message', type: 'string', cell: (o) => String(o.message ?? '').trim() },
  ],
  Lease: [nameColumn, { name: 'Holder', type: 'string', cell: (o) => asObj(o.spec).holderIdentity ?? '' }, ageColumn],
};

function partialMetadata(o: KubeObject): Obj {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/** The Table for a list (or one object) of `kind`. */
export function toTable(kind: string, objects: KubeObject[], options: { includeObject?: IncludeObject; now?: Date; resourceVersion?: string; continue?: string; remainingItemCount?: number } = {}) {
  const columns = COLUMNS[kind] ?? [nameColumn, ageColumn];
  const now = options.now ?? new Date();
  const include = options.includeObject ?? 'Metadata';
  const metadata: Obj = {};
  if (options.resourceVersion !== undefined) metadata.resourceVersion = options.resourceVersion;
  if (options.continue) metadata.continue = options.continue;
  if (options.remainingItemCount !== undefined) metadata.remainingItemCount = options.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? c.name, priority: c.priority ?? 0 })),
    rows: objects.map((o) => {
      const row: Obj = { cells: columns.map((c) => c.cell(o, now) ?? '') };
      if (include === 'Metadata') row.object = partialMetadata(o);
      else if (include === 'Object') row.object = o;
      return row;
    }),
  };
}

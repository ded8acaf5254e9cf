/**
 * The list views: overview, workloads, pods, nodes, events. Each reads live collections (one
 * watch per kind) and offers only the actions the signed-in user may take; a refused action
 * shows the API's own message.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, type Client, type KubeObject, pathOf, RESOURCES } from './api.js';
import { type Collection, useCollection } from './informer.js';
import { TimeChart } from './chart.js';
import {
  age,
  byName,
  bytes,
  costsOf,
  cpuMillis,
  dollars,
  gib,
  filterBy,
  type NodeHistory,
  nodeReady,
  podReady,
  podRequests,
  podStatus,
  restarts,
  usageOverTime,
} from './kube.js';
import { hrefOf, navigate, type ViewProps } from './route.js';
import { type Column, VirtualTable } from './table.js';

/** Whether the user may take an action, as the API answers it (undefined until it has: nothing is offered yet). */
export function useCan(
  client: Client,
  verb: string,
  resource: string,
  options: { group?: string; namespace?: string; subresource?: string } = {},
): boolean | undefined {
  const [allowed, setAllowed] = useState<boolean>();
  const key = JSON.stringify([verb, resource, options]);
  useEffect(() => {
    let live = true;
    void client.can(verb, resource, options).then((a) => live && setAllowed(a));
    return () => {
      live = false;
    };
  }, [client, key]);
  return allowed;
}

/** An action's outcome, shown where it was taken: the API's message when it failed. */
export function useAction(): [string | undefined, (what: () => Promise<unknown>) => Promise<void>] {
  const [message, setMessage] = useState<string>();
  const run = async (what: () => Promise<unknown>) => {
    setMessage(undefined);
    try {
      await what();
    } catch (err) {
      setMessage(err instanceof ApiError ? `${err.message}` : String(err));
    }
  };
  return [message, run];
}

export function Failure({ message }: { message?: string }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}

function Loading({ error }: { error?: string }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : (
    <p aria-busy="true">Loading…</p>
  );
}

/** A list view's frame: its title, an action's failure, and its table once the collection is listed. */
function ListSection({ title, collection, message, children }: { title: string; collection: Collection; message?: string; children: ComponentChildren }) {
  const id = `${title.toLowerCase().replace(/\W+/g, '-')}-title`;
  return (
    <section aria-labelledby={id}>
      <div class="title-row">
        <h1 id={id}>{title}</h1>
        {/* Beside the title, not above the list: the list does not move when the rest comes. */}
        <span class="muted" role="status">
          {collection.listing ? 'Listing the rest…' : ''}
        </span>
      </div>
      <Failure message={message} />
      {collection.synced ? children : <Loading error={collection.error} />}
    </section>
  );
}

const inNamespace = (ns: string) => (o: KubeObject) => !ns || o.metadata.namespace === ns;

function Meter({ label, used, total, format }: { label: string; used: number; total: number; format: (n: number) => string }) {
  const share = total > 0 ? Math.min(1, used / total) : 0;
  return (
    <div class="meter">
      <span>
        {label} {format(used)} of {format(total)}
      </span>
      <progress max={1} value={share} aria-label={`${label} allocated`} />
    </div>
  );
}

export function OverviewView({ client, namespace }: ViewProps) {
  const nodes = useCollection(client, pathOf(RESOURCES.nodes));
  const pods = useCollection(client, pathOf(RESOURCES.pods));
  const events = useCollection(client, pathOf(RESOURCES.events));
  const canSeeMigrations = useCan(client, 'watch', 'migrations', { group: 'skiff.dev' });
  const canSeeHistory = useCan(client, 'watch', 'nodehistories', { group: 'metrics.skiff.dev' });
  const podList = [...pods.items.values()].filter(inNamespace(namespace));
  const phases = new Map<string, number>();
  for (const p of podList) phases.set(podStatus(p), (phases.get(podStatus(p)) ?? 0) + 1);
  const allocated = new Map<string, { cpu: number; memory: number }>();
  for (const p of pods.items.values()) {
    const node = p.spec?.nodeName as string | undefined;
    if (!node || ['Succeeded', 'Failed'].includes(p.status?.phase)) continue;
    const r = podRequests(p);
    const a = allocated.get(node) ?? { cpu: 0, memory: 0 };
    allocated.set(node, { cpu: a.cpu + r.cpu, memory: a.memory + r.memory });
  }
  const warnings = [...events.items.values()]
    .filter((e) => (e as KubeObject & { type?: string }).type === 'Warning')
    .filter(inNamespace(namespace))
    .sort((a, b) => eventTime(b).localeCompare(eventTime(a)))
    .slice(0, 10);
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <div class="cards">
        <section class="card" aria-labelledby="nodes-title">
          <h2 id="nodes-title">Nodes</h2>
          {!nodes.synced ? (
            <Loading error={nodes.error} />
          ) : (
            <ul class="plain-list">
              {[...nodes.items.values()].sort(byName).map((n) => {
                const a = allocated.get(n.metadata.name) ?? { cpu: 0, memory: 0 };
                return (
                  <li key={n.metadata.name} class="node-card">
                    <a href={hrefOf({ view: 'nodes', name: n.metadata.name })}>{n.metadata.name}</a>{' '}
                    <span class={nodeReady(n) ? 'ok' : 'bad'}>{nodeReady(n) ? 'Ready' : 'NotReady'}</span>
                    <Meter label="CPU" used={a.cpu} total={cpuMillis(n.status?.allocatable?.cpu)} format={(m) => `${(m / 1000).toFixed(1)}`} />
                    <Meter label="Memory" used={a.memory} total={bytes(n.status?.allocatable?.memory)} format={gib} />
                  </li>
                );
              })}
            </ul>
          )}
        </section>
        <section class="card" aria-labelledby="pods-title">
          <h2 id="pods-title">Pods</h2>
          {!pods.synced ? (
            <Loading error={pods.error} />
          ) : (
            <>
              <dl class="phases">
                {[...phases.entries()]
                  .sort((a, b) => b[1] - a[1])
                  .map(([phase, n]) => (
                    <div key={phase}>
                      <dt>{phase}</dt>
                      <dd>{n}</dd>
                    </div>
                  ))}
              </dl>
              {podList.length === 0 && <p>No pods.</p>}
            </>
          )}
        </section>
        {canSeeHistory && <UsageCard client={client} nodes={[...nodes.items.values()]} />}
        {canSeeMigrations && <MigrationsCard client={client} />}
        <section class="card wide" aria-labelledby="warnings-title">
          <h2 id="warnings-title">Recent warnings</h2>
          {warnings.length === 0 ? (
            <p>None.</p>
          ) : (
            <ul class="plain-list">
              {warnings.map((e) => (
                <li key={e.metadata.uid ?? e.metadata.name}>
                  <strong>{(e as KubeObject & { reason?: string }).reason}</strong> {involved(e)}: {(e as KubeObject & { message?: string }).message}
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </section>
  );
}

/**
 * The cluster's migrations between providers (`skiff migrate`), live: where each goes, its phase,
 * the nodes moved of those it started with, the pods moved, and the nodes still to go. Shown
 * while one exists.
 */
/**
 * What the nodes use over the last hour (metrics.skiff.dev NodeHistory, watched: new samples come
 * as the kubelets take them), against what they have: shown only where kubelets keep it.
 */
export function UsageCard({ client, nodes, node }: { client: Client; nodes: KubeObject[]; node?: string }) {
  const histories = useCollection(client, pathOf(RESOURCES.nodehistories));
  const mine = [...histories.items.values()].filter((h) => !node || h.metadata.name === node) as NodeHistory[];
  const usage = useMemo(() => usageOverTime(mine), [histories.version, node]);
  if (!histories.synced || usage.times.length === 0) return null;
  const measured = new Set(mine.map((h) => h.metadata.name));
  const counted = nodes.filter((n) => measured.has(n.metadata.name));
  const cpuTotal = counted.reduce((t, n) => t + cpuMillis(n.status?.allocatable?.cpu), 0);
  const memoryTotal = counted.reduce((t, n) => t + bytes(n.status?.allocatable?.memory), 0);
  const flat = (v: number) => usage.times.map(() => v);
  const who = node ? `node ${node}` : `${measured.size} ${measured.size === 1 ? 'node' : 'nodes'}`;
  const title = node ? 'usage-title-node' : 'usage-title';
  return (
    <section class="card wide" aria-labelledby={title}>
      <h2 id={title}>Use over the last hour</h2>
      <div class="charts">
        <TimeChart
          label={`CPU in use, ${who}`}
          times={usage.times}
          lines={[{ label: 'in use', values: usage.cpu }, ...(cpuTotal > 0 ? [{ label: 'allocatable', values: flat(cpuTotal), limit: true }] : [])]}
          format={cores}
        />
        <TimeChart
          label={`Memory in use, ${who}`}
          times={usage.times}
          lines={[{ label: 'in use', values: usage.memory }, ...(memoryTotal > 0 ? [{ label: 'allocatable', values: flat(memoryTotal), limit: true }] : [])]}
          format={gib}
        />
      </div>
    </section>
  );
}

const cores = (m: number) => `${(m / 1000).toFixed(m < 10_000 ? 2 : 1)} cores`;

function MigrationsCard({ client }: { client: Client }) {
  const migrations = useCollection(client, pathOf(RESOURCES.migrations));
  const list = [...migrations.items.values()].sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
  if (!migrations.synced || list.length === 0) return null;
  return (
    <section class="card wide" aria-labelledby="migrations-title">
      <h2 id="migrations-title">Migrations</h2>
      <ul class="plain-list">
        {list.map((m) => {
          const s = m.status ?? {};
          const total: number = s.nodesTotal ?? 0;
          const moved = total - (s.nodesLeft ?? total);
          return (
            <li key={m.metadata.name} class="migration">
              <strong>{m.metadata.name}</strong> to <code>{m.spec?.to}</code>:{' '}
              <span class={s.phase === 'Failed' ? 'bad' : s.phase === 'Complete' ? 'ok' : undefined}>{s.phase ?? 'Pending'}</span>
              <div class="meter">
                <span>
                  {moved} of {total} nodes moved, {s.podsMoved ?? 0} pods moved
                </span>
                <progress max={Math.max(1, total)} value={moved} aria-label={`${m.metadata.name}: nodes moved`} />
              </div>
              {s.nodes?.length > 0 && <p class="hint">Still to move: {s.nodes.join(', ')}</p>}
              {s.message && <p class="hint">{s.message}</p>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function eventTime(e: KubeObject): string {
  const x = e as KubeObject & { lastTimestamp?: string; eventTime?: string };
  return x.lastTimestamp ?? x.eventTime ?? e.metadata.creationTimestamp ?? '';
}

function involved(e: KubeObject): string {
  const o = (e as KubeObject & { involvedObject?: { kind?: string; name?: string } }).involvedObject;
  return o ? `${o.kind}/${o.name}` : '';
}

/** What the lists' filters look in: every list the name and namespace, pods their status and node too, events what they are about, why, and their message. */
const byNameOnly = filterBy();
const podFilter = filterBy((p) => [podStatus(p), p.spec?.nodeName ?? '']);
const eventFilter = filterBy((e) => {
  const x = e as KubeObject & { reason?: string; message?: string };
  return [involved(e), x.reason ?? '', x.message ?? ''];
});

function Replicas({ d }: { d: KubeObject }) {
  return (
    <span>
      {d.status?.readyReplicas ?? 0}/{d.spec?.replicas ?? 0}
    </span>
  );
}

/** The workload kinds, each a tab of Workloads: Deployments open their own page; the others a generic one. */
export const WORKLOAD_KINDS = ['deployments', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs'] as const;
type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
const KIND_TITLES: Record<WorkloadKind, string> = {
  deployments: 'Deployments',
  statefulsets: 'StatefulSets',
  daemonsets: 'DaemonSets',
  jobs: 'Jobs',
  cronjobs: 'CronJobs',
};

/** Where a workload's own page is. */
export const workloadRoute = (kind: WorkloadKind, o: KubeObject) => ({
  view: kind === 'deployments' ? 'workloads' : kind,
  namespace: o.metadata.namespace,
  name: o.metadata.name,
});

/** What each kind's list shows beyond name, namespace and age. */
const KIND_COLUMNS: Record<WorkloadKind, Column<KubeObject>[]> = {
  deployments: [
    { title: 'Ready', cell: (d) => <Replicas d={d} />, numeric: true },
    { title: 'Up-to-date', cell: (d) => d.status?.updatedReplicas ?? 0, numeric: true },
    { title: 'Available', cell: (d) => d.status?.availableReplicas ?? 0, numeric: true },
  ],
  statefulsets: [{ title: 'Ready', cell: (d) => <Replicas d={d} />, numeric: true }],
  daemonsets: [
    { title: 'Desired', cell: (d) => d.status?.desiredNumberScheduled ?? 0, numeric: true },
    { title: 'Ready', cell: (d) => d.status?.numberReady ?? 0, numeric: true },
    { title: 'Up-to-date', cell: (d) => d.status?.updatedNumberScheduled ?? 0, numeric: true },
    { title: 'Available', cell: (d) => d.status?.numberAvailable ?? 0, numeric: true },
  ],
  jobs: [
    { title: 'Status', cell: (j) => jobStatus(j) },
    { title: 'Completions', cell: (j) => `${j.status?.succeeded ?? 0}/${j.spec?.completions ?? 1}`, numeric: true },
    { title: 'Active', cell: (j) => j.status?.active ?? 0, numeric: true },
  ],
  cronjobs: [
    { title: 'Schedule', cell: (c) => <code>{c.spec?.schedule}</code> },
    { title: 'Suspend', cell: (c) => (c.spec?.suspend ? 'True' : 'False') },
    { title: 'Active', cell: (c) => (c.status?.active ?? []).length, numeric: true },
    { title: 'Last schedule', cell: (c) => age(c.status?.lastScheduleTime) },
  ],
};

/** A Job's state as `kubectl get jobs` words it. */
export function jobStatus(j: KubeObject): string {
  const conditions = (j.status?.conditions ?? []) as { type: string; status: string }[];
  const holds = (type: string) => conditions.some((c) => c.type === type && c.status === 'True');
  if (holds('Complete')) return 'Complete';
  if (holds('Failed')) return 'Failed';
  if (holds('Suspended')) return 'Suspended';
  return 'Running';
}

export function WorkloadsView(props: ViewProps) {
  const [kind, setKind] = useState<WorkloadKind>(() => (sessionStorage.getItem('skiff.workloads') as WorkloadKind | null) ?? 'deployments');
  const choose = (k: WorkloadKind) => {
    sessionStorage.setItem('skiff.workloads', k);
    setKind(k);
  };
  return (
    <>
      <fieldset class="tabs">
        <legend class="sr-only">Workload kind</legend>
        {WORKLOAD_KINDS.map((k) => (
          <button key={k} type="button" class="plain" aria-pressed={k === kind} onClick={() => choose(k)}>
            {KIND_TITLES[k]}
          </button>
        ))}
      </fieldset>
      <WorkloadList key={kind} kind={kind} {...props} />
    </>
  );
}

function WorkloadList({ client, namespace, filter, kind }: ViewProps & { kind: WorkloadKind }) {
  const resource = RESOURCES[kind];
  const collection = useCollection(client, pathOf(resource));
  const scalable = kind === 'deployments' || kind === 'statefulsets';
  // The one action a kind's list offers: scale (Deployments, StatefulSets) or suspend (CronJobs).
  const canAct = useCan(client, 'patch', kind, { group: resource.group, namespace: namespace || undefined, ...(scalable ? { subresource: 'scale' } : {}) });
  const [message, run] = useAction();
  const rows = useMemo(
    () => [...collection.items.values()].filter(inNamespace(namespace)).filter(byNameOnly(filter)).sort(byName),
    [collection.version, namespace, filter],
  );
  const scale = (d: KubeObject, by: number) =>
    run(() =>
      client.request(
        'PATCH',
        `${pathOf(resource, d.metadata.namespace, d.metadata.name)}/scale`,
        { spec: { replicas: Math.max(0, (d.spec?.replicas ?? 0) + by) } },
        'application/merge-patch+json',
      ),
    );
  const suspend = (c: KubeObject) =>
    run(() =>
      client.request('PATCH', pathOf(resource, c.metadata.namespace, c.metadata.name), { spec: { suspend: !c.spec?.suspend } }, 'application/merge-patch+json'),
    );
  const actions: Column<KubeObject>[] = scalable
    ? [
        {
          title: 'Scale',
          cell: (d) =>
            canAct === undefined ? null : canAct ? (
              <span class="actions">
                <button type="button" aria-label={`Scale ${d.metadata.name} down`} onClick={() => scale(d, -1)} disabled={(d.spec?.replicas ?? 0) === 0}>
                  −
                </button>
                <button type="button" aria-label={`Scale ${d.metadata.name} up`} onClick={() => scale(d, 1)}>
                  +
                </button>
              </span>
            ) : (
              <span class="muted">view only</span>
            ),
        },
      ]
    : kind === 'cronjobs'
      ? [
          {
            title: 'Schedule runs',
            cell: (c) =>
              canAct === undefined ? null : canAct ? (
                <button type="button" onClick={() => suspend(c)}>
                  {c.spec?.suspend ? 'Resume' : 'Suspend'}
                </button>
              ) : (
                <span class="muted">view only</span>
              ),
          },
        ]
      : [];
  const title = KIND_TITLES[kind];
  return (
    <ListSection title={title} collection={collection} message={message}>
      <VirtualTable
        label={title}
        rows={rows}
        onOpen={(d) => navigate(workloadRoute(kind, d))}
        columns={[
          { title: 'Name', cell: (d) => <a href={hrefOf(workloadRoute(kind, d))}>{d.metadata.name}</a> },
          { title: 'Namespace', cell: (d) => d.metadata.namespace },
          ...KIND_COLUMNS[kind],
          { title: 'Age', cell: (d) => age(d.metadata.creationTimestamp) },
          ...actions,
        ]}
        empty={`No ${title}.`}
      />
    </ListSection>
  );
}

export function PodsView({ client, namespace, filter }: ViewProps) {
  const pods = useCollection(client, pathOf(RESOURCES.pods));
  // Sorted again only when pods come or go: a change of status (20 a second in a big cluster)
  // keeps the order, and the rows are the order's pods as they are now.
  const order = useMemo(() => [...pods.items.values()].sort(byName).map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`), [pods.membership]);
  const rows = useMemo(
    () =>
      order
        .map((k) => pods.items.get(k))
        .filter((p): p is KubeObject => p !== undefined && (!namespace || p.metadata.namespace === namespace))
        .filter(podFilter(filter)),
    [pods.version, order, namespace, filter],
  );
  const open = (p: KubeObject) => navigate({ view: 'pods', namespace: p.metadata.namespace, name: p.metadata.name });
  return (
    <ListSection title="Pods" collection={pods}>
      <VirtualTable
        label="Pods"
        rows={rows}
        onOpen={open}
        keys={{ l: open }}
        columns={[
          { title: 'Name', cell: (p) => <a href={hrefOf({ view: 'pods', namespace: p.metadata.namespace, name: p.metadata.name })}>{p.metadata.name}</a> },
          { title: 'Namespace', cell: (p) => p.metadata.namespace },
          {
            title: 'Ready',
            cell: (p) => {
              const r = podReady(p);
              return `${r.ready}/${r.total}`;
            },
            numeric: true,
          },
          { title: 'Status', cell: (p) => <span class={`status ${podStatus(p).toLowerCase()}`}>{podStatus(p)}</span> },
          { title: 'Restarts', cell: (p) => restarts(p), numeric: true },
          { title: 'Node', cell: (p) => p.spec?.nodeName ?? '' },
          { title: 'IP', cell: (p) => p.status?.podIP ?? '' },
          { title: 'Age', cell: (p) => age(p.metadata.creationTimestamp) },
        ]}
        empty="No pods."
      />
    </ListSection>
  );
}

export function NodesView({ client, filter }: ViewProps) {
  const nodes = useCollection(client, pathOf(RESOURCES.nodes));
  const canCordon = useCan(client, 'patch', 'nodes');
  const [message, run] = useAction();
  const rows = useMemo(() => [...nodes.items.values()].filter(byNameOnly(filter)).sort(byName), [nodes.version, filter]);
  const cordon = (n: KubeObject, on: boolean) =>
    run(() =>
      client.request('PATCH', pathOf(RESOURCES.nodes, undefined, n.metadata.name), { spec: { unschedulable: on || null } }, 'application/merge-patch+json'),
    );
  return (
    <ListSection title="Nodes" collection={nodes} message={message}>
      <VirtualTable
        label="Nodes"
        rows={rows}
        onOpen={(n) => navigate({ view: 'nodes', name: n.metadata.name })}
        columns={[
          { title: 'Name', cell: (n) => <a href={hrefOf({ view: 'nodes', name: n.metadata.name })}>{n.metadata.name}</a> },
          { title: 'Status', cell: (n) => `${nodeReady(n) ? 'Ready' : 'NotReady'}${n.spec?.unschedulable ? ',SchedulingDisabled' : ''}` },
          { title: 'Instance type', cell: (n) => n.metadata.labels?.['node.kubernetes.io/instance-type'] ?? '' },
          { title: 'Zone', cell: (n) => n.metadata.labels?.['topology.kubernetes.io/zone'] ?? '' },
          { title: 'CPU', cell: (n) => n.status?.allocatable?.cpu ?? '', numeric: true },
          { title: 'Memory', cell: (n) => gib(bytes(n.status?.allocatable?.memory)), numeric: true },
          { title: 'Age', cell: (n) => age(n.metadata.creationTimestamp) },
          {
            title: 'Scheduling',
            cell: (n) =>
              canCordon === undefined ? null : canCordon ? (
                <button type="button" onClick={() => cordon(n, !n.spec?.unschedulable)}>
                  {n.spec?.unschedulable ? 'Uncordon' : 'Cordon'}
                </button>
              ) : (
                <span class="muted">view only</span>
              ),
          },
        ]}
        empty="No nodes."
      />
    </ListSection>
  );
}

export function EventsView({ client, namespace, filter }: ViewProps) {
  const events = useCollection(client, pathOf(RESOURCES.events));
  const rows = useMemo(
    () =>
      [...events.items.values()]
        .filter(inNamespace(namespace))
        .filter(eventFilter(filter))
        .sort((a, b) => eventTime(b).localeCompare(eventTime(a))),
    [events.version, namespace, filter],
  );
  type E = KubeObject & { type?: string; reason?: string; message?: string; count?: number };
  return (
    <ListSection title="Events" collection={events}>
      <VirtualTable
        label="Events, newest first"
        rows={rows as E[]}
        columns={[
          { title: 'Last seen', cell: (e) => age(eventTime(e)) },
          { title: 'Type', cell: (e) => <span class={e.type === 'Warning' ? 'bad' : undefined}>{e.type}</span> },
          { title: 'Reason', cell: (e) => e.reason },
          { title: 'Object', cell: (e) => involved(e) },
          { title: 'Message', cell: (e) => e.message },
          { title: 'Count', cell: (e) => e.count ?? 1, numeric: true },
        ]}
        empty="No events."
      />
    </ListSection>
  );
}

export function NamespacesView({ client, filter }: ViewProps) {
  const namespaces = useCollection(client, pathOf(RESOURCES.namespaces));
  const pods = useCollection(client, pathOf(RESOURCES.pods));
  const nodes = useCollection(client, pathOf(RESOURCES.nodes));
  const costs = useMemo(() => costsOf(nodes.items.values(), pods.items.values()), [nodes.version, pods.version]);
  const usage = (n: KubeObject) => costs.byNamespace.get(n.metadata.name);
  const rows = useMemo(() => [...namespaces.items.values()].filter(byNameOnly(filter)).sort(byName), [namespaces.version, filter]);
  const columns: Column<KubeObject>[] = [
    { title: 'Name', cell: (n) => <a href={hrefOf({ view: 'pods', namespace: n.metadata.name })}>{n.metadata.name}</a> },
    { title: 'Status', cell: (n) => n.status?.phase ?? 'Active' },
    { title: 'Pods', cell: (n) => usage(n)?.pods ?? 0, numeric: true },
    { title: 'Running', cell: (n) => usage(n)?.running ?? 0, numeric: true },
    { title: 'CPU requested', cell: (n) => `${((usage(n)?.cpu ?? 0) / 1000).toFixed(2)}`, numeric: true },
    { title: 'Memory requested', cell: (n) => gib(usage(n)?.memory ?? 0), numeric: true },
  ];
  if (costs.priced) columns.push({ title: 'Cost an hour', cell: (n) => dollars(usage(n)?.cost ?? 0), numeric: true });
  columns.push({ title: 'Age', cell: (n) => age(n.metadata.creationTimestamp) });
  return (
    <ListSection title="Namespaces" collection={namespaces}>
      {costs.priced && (
        <p class="summary">
          The nodes cost {dollars(costs.total)} an hour: {dollars(costs.total - costs.idle)} held by pods' requests, {dollars(costs.idle)} idle. A pod's share
          is the larger of its CPU and memory shares of its node.
        </p>
      )}
      <VirtualTable
        label="Namespaces"
        rows={rows}
        onOpen={(n) => navigate({ view: 'pods', namespace: n.metadata.name })}
        columns={columns}
        empty="No namespaces."
      />
    </ListSection>
  );
}

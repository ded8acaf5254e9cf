/**
 * The DaemonSet controller, as kube-controller-manager's: one pod per eligible node (its
 * nodeSelector and required node affinity match, its taints are tolerated), pinned to that node by
 * node affinity on `metadata.name` for the scheduler to bind, with the tolerations every daemon pod
 * gets (not-ready and unreachable, the pressure taints, unschedulable: a cordoned node keeps and
 * gets its daemon). A node added gets its pod; a node that stops being eligible loses it. A
 * changed template rolls out node by node: with `maxSurge` 0, an old pod is deleted while fewer
 * than `maxUnavailable` nodes lack an available pod; with `maxSurge`, the new pod starts beside the
 * old, which goes once the new one is available. `OnDelete` waits for pods to be deleted by hand.
 * The pods' template revision is the `controller-revision-hash` label; each template is kept as a
 * ControllerRevision `<name>-<hash>` (`revisions.ts`), what `kubectl rollout history|undo` read.
 */
import { typed, typedList } from '../api/objects.js';
import type { DaemonSet, Node, Pod } from '../api/schemas/index.js';
import { ignoreNotFound } from '../errors.js';
import { allowedOn, tolerates } from '../scheduler/static-filters.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { templateHash } from './deployment.js';
import { recordRevision } from './revisions.js';
import { PodOwnerController, availableInMs, controllerRef, createPodOf, deletePodOf, isActive, slowStart } from './replicaset.js';
import type { ReconcileResult } from './types.js';

const DS = 'daemonsets.apps';
export const REVISION = 'controller-revision-hash';
const BURST = 500;

/** What every daemon pod tolerates, as the DaemonSet controller adds it. */
export const DAEMON_TOLERATIONS = (
  [
    ['node.kubernetes.io/not-ready', 'NoExecute'],
    ['node.kubernetes.io/unreachable', 'NoExecute'],
    ['node.kubernetes.io/disk-pressure', 'NoSchedule'],
    ['node.kubernetes.io/memory-pressure', 'NoSchedule'],
    ['node.kubernetes.io/pid-pressure', 'NoSchedule'],
    ['node.kubernetes.io/unschedulable', 'NoSchedule'],
  ] as const
).map(([key, effect]) => ({ key, operator: 'Exists' as const, effect }));

/** The node a daemon pod is for: where it is bound, else its affinity's `metadata.name`. */
function nodeOf(pod: Pod): string | undefined {
  if (pod.spec.nodeName) return pod.spec.nodeName;
  const terms = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  return terms.flatMap((t) => t.matchFields ?? []).find((f) => f.key === 'metadata.name')?.values?.[0];
}

/** Whether the DaemonSet's pod should run on `node`: for a new pod, and (`running`) for one already there. */
function eligible(ds: DaemonSet, node: Node, running: boolean): boolean {
  const spec = ds.spec.template.spec;
  const labels = node.metadata.labels ?? {};
  if (!Object.entries(spec.nodeSelector ?? {}).every(([k, v]) => labels[k] === v)) return false;
  if (!allowedOn(spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, node)) return false;
  const tolerations = [...(spec.tolerations ?? []), ...DAEMON_TOLERATIONS] as Parameters<typeof tolerates>[0];
  // A pod already there stays unless a NoExecute taint says go; a new one needs NoSchedule tolerated too.
  return (node.spec?.taints ?? []).every((t) => (running && t.effect === 'NoSchedule') || t.effect === 'PreferNoSchedule' || tolerates(tolerations, t));
}

/** An int-or-percent of `total`, rounded up as Kubernetes rounds maxUnavailable and maxSurge. */
function scaled(value: number | string | undefined, total: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  return Math.ceil((Number.parseInt(value, 10) / 100) * total);
}

export class DaemonSetController extends PodOwnerController {
  readonly name = 'daemonset';

  constructor(store: Store) {
    super(store, { storeKey: DS, kind: 'DaemonSet', component: 'daemonset-controller' });
  }

  override keysFor(event: ChangeEvent): string[] {
    if (event.resource === 'nodes') {
      const [now, was] = [event.object as Node, event.prevObject as Node | undefined];
      const changed =
        event.type !== 'MODIFIED' || JSON.stringify([now.metadata.labels, now.spec?.taints]) !== JSON.stringify([was?.metadata.labels, was?.spec?.taints]);
      return changed ? ['nodes'] : [];
    }
    return super.keysFor(event);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    if (key === 'nodes') {
      for (const k of await this.allKeys()) await this.reconcile(k);
      return;
    }
    const [namespace, name] = key.split('/');
    const stored = await this.store.get(DS, namespace, name).catch(ignoreNotFound);
    if (!stored || stored.metadata.deletionTimestamp) return;
    const ds = typed(DS, stored);
    const nodes = typedList('nodes', (await this.store.list('nodes')).items);
    const pods = await this.ownedPods(ds, ds.spec.selector);
    const hash = templateHash(ds.spec.template);
    const inUse = new Set(pods.map((p) => `${ds.metadata.name}-${p.metadata.labels?.[REVISION]}`));
    await recordRevision(this.store, ds, 'DaemonSet', `${ds.metadata.name}-${hash}`, inUse);
    const byNode = new Map<string, Pod[]>();
    for (const p of pods.filter(isActive)) byNode.set(nodeOf(p) ?? '', [...(byNode.get(nodeOf(p) ?? '') ?? []), p]);
    const wanted = nodes.filter((n) => eligible(ds, n, (byNode.get(n.metadata.name ?? '') ?? []).length > 0));
    const wantedNames = new Set(wanted.map((n) => n.metadata.name ?? ''));
    // Pods that finished or sit where they should not, and a node's extra pods (the newest), go.
    const surplus = [
      ...pods.filter((p) => !p.metadata.deletionTimestamp && !isActive(p)),
      ...[...byNode.entries()].filter(([node]) => !wantedNames.has(node)).flatMap(([, list]) => list),
    ];
    const create: string[] = [];
    for (const node of wantedNames) {
      const here = byNode.get(node) ?? [];
      if (here.length === 0) create.push(node);
    }
    const rolled = ds.spec.updateStrategy?.type === 'OnDelete' ? { remove: [], add: [] } : this.rollingUpdate(ds, wanted, byNode, hash);
    await Promise.all([...surplus, ...rolled.remove].map((p) => deletePodOf(this.registry, this.events, ds, p)));
    await slowStart(Math.min(create.length + rolled.add.length, BURST), async () => {
      const node = create.length ? create.shift()! : rolled.add.shift()!;
      await this.createPod(ds, node, hash);
    });
    return this.updateStatus(ds, wanted, byNode, hash);
  }

  /** The rolling update's step: old pods to delete, and nodes to surge a new pod onto. */
  private rollingUpdate(ds: DaemonSet, wanted: Node[], byNode: Map<string, Pod[]>, hash: string): { remove: Pod[]; add: string[] } {
    const rolling = ds.spec.updateStrategy?.rollingUpdate;
    const maxSurge = scaled(rolling?.maxSurge, wanted.length, 0);
    const maxUnavailable = maxSurge > 0 ? 0 : Math.max(scaled(rolling?.maxUnavailable, wanted.length, 1), 1);
    const minReady = ds.spec.minReadySeconds ?? 0;
    const available = (p: Pod) => availableInMs(p, minReady) === 0;
    const remove: Pod[] = [];
    const add: string[] = [];
    let unavailable = wanted.filter((n) => !(byNode.get(n.metadata.name ?? '') ?? []).some(available)).length;
    let surging = 0;
    // Old pods that are not available go first: they cost no availability.
    const old = wanted
      .map((n) => ({ node: n.metadata.name ?? '', here: byNode.get(n.metadata.name ?? '') ?? [] }))
      .filter(({ here }) => here.some((p) => p.metadata.labels?.[REVISION] !== hash))
      .sort((a, b) => Number(a.here.some(available)) - Number(b.here.some(available)));
    for (const { node, here } of old) {
      const fresh = here.find((p) => p.metadata.labels?.[REVISION] === hash);
      const stale = here.filter((p) => p.metadata.labels?.[REVISION] !== hash);
      if (maxSurge > 0) {
        if (fresh && available(fresh)) remove.push(...stale);
        else if (!fresh && surging < maxSurge) {
          add.push(node);
          surging++;
        } else if (fresh) surging++;
        continue;
      }
      const costs = stale.some(available) ? 1 : 0;
      if (costs && unavailable >= maxUnavailable) continue;
      remove.push(...stale);
      unavailable += costs;
    }
    return { remove, add };
  }

  private async createPod(ds: DaemonSet, node: string, hash: string): Promise<void> {
    const template = structuredClone(ds.spec.template);
    const spec = template.spec;
    spec.affinity = {
      ...spec.affinity,
      nodeAffinity: {
        ...spec.affinity?.nodeAffinity,
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] },
      },
    };
    const have = new Set((spec.tolerations ?? []).map((t) => `${t.key}/${t.effect}`));
    spec.tolerations = [...(spec.tolerations ?? []), ...DAEMON_TOLERATIONS.filter((t) => !have.has(`${t.key}/${t.effect}`))];
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${ds.metadata.name}-`,
        namespace: ds.metadata.namespace,
        labels: { ...template.metadata?.labels, [REVISION]: hash },
        annotations: template.metadata?.annotations,
        ownerReferences: [controllerRef(ds, 'apps/v1', 'DaemonSet')],
      },
      spec,
    };
    await createPodOf(this.registry, this.events, ds, pod);
  }

  private async updateStatus(ds: DaemonSet, wanted: Node[], byNode: Map<string, Pod[]>, hash: string): Promise<ReconcileResult | void> {
    const minReady = ds.spec.minReadySeconds ?? 0;
    const wantedNames = new Set(wanted.map((n) => n.metadata.name ?? ''));
    const onWanted = [...byNode.entries()].filter(([node]) => wantedNames.has(node));
    const waits = onWanted.flatMap(([, list]) => list).map((p) => availableInMs(p, minReady));
    const ready = (p: Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const available = onWanted.filter(([, list]) => list.some((p) => availableInMs(p, minReady) === 0)).length;
    const status = {
      desiredNumberScheduled: wanted.length,
      currentNumberScheduled: onWanted.filter(([, list]) => list.length > 0).length,
      numberMisscheduled: [...byNode.keys()].filter((node) => !wantedNames.has(node)).length,
      numberReady: onWanted.filter(([, list]) => list.some(ready)).length,
      updatedNumberScheduled: onWanted.filter(([, list]) => list.some((p) => p.metadata.labels?.[REVISION] === hash)).length,
      numberAvailable: available,
      numberUnavailable: wanted.length - available,
      observedGeneration: ds.metadata.generation,
    };
    return this.writeStatus(ds, status, waits);
  }
}

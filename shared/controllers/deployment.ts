/**
 * The Deployment controller: one ReplicaSet per pod template (named `<deployment>-<hash>`,
 * labelled `pod-template-hash`), rolled out by the strategy: RollingUpdate within maxSurge
 * and maxUnavailable, or Recreate. Revisions are the `deployment.kubernetes.io/revision`
 * annotation, as `kubectl rollout history` and `undo` read them; old ReplicaSets beyond
 * `revisionHistoryLimit` are removed. Availability is counted from the pods themselves
 * (a consistent snapshot), never from ReplicaSet statuses that may lag, so the surge and
 * unavailability bounds hold at every step.
 */
import { typed, typedList } from '../api/objects.js';
import type { Deployment, Pod, ReplicaSet } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isAlreadyExists, isConflict, isNotFound } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import { fromLabelSelector, matchLabels, type Selector } from '../store/selectors.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { countPods, deploymentStatus, rolloutBounds } from './deployment-status.js';
import { EventRecorder } from './events.js';
import { availableInMs, controllerOf, controllerRef, isActive } from './replicaset.js';
import type { Controller, ReconcileResult } from './types.js';

const DEPLOYMENTS = 'deployments.apps';
const RS = 'replicasets.apps';
export const REVISION = 'deployment.kubernetes.io/revision';
export const TEMPLATE_HASH = 'pod-template-hash';

type Obj = Record<string, unknown>;
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * The pod template's hash, in Kubernetes' alphabet (no vowels, no look-alikes). Computed over
 * the template's canonical form (keys sorted; null, empty objects and empty lists left out) so
 * equal templates hash equal however they arrived: `kubectl rollout undo` sends the old
 * ReplicaSet's template back with `creationTimestamp: null` and its own key order, and must
 * find that ReplicaSet again rather than make a new one.
 */
export function templateHash(template: NonNullable<ReplicaSet['spec']['template']>): string {
  const t = structuredClone(template);
  if (t.metadata?.labels) delete t.metadata.labels[TEMPLATE_HASH];
  let h = 2166136261;
  const text = JSON.stringify(canonical(t)) ?? '';
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return String(h >>> 0)
    .split('')
    .map((d) => SAFE[(Number(d) * 7 + 3) % SAFE.length])
    .join('')
    .slice(0, 10);
}

/** `value` with object keys sorted and absent-equivalent members (null, {}, []) removed. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  const out: Obj = {};
  for (const key of Object.keys(value).sort()) {
    const v = canonical((value as Obj)[key]);
    if (v === null || v === undefined) continue;
    if (typeof v === 'object' && Object.keys(v as object).length === 0) continue;
    out[key] = v;
  }
  return out;
}

const revisionOf = (rs: ReplicaSet) => Number(rs.metadata.annotations?.[REVISION] ?? 0);
const specReplicas = (o: ReplicaSet | Deployment) => o.spec.replicas ?? 0;
const ownerRef = (d: Deployment) => controllerRef(d, 'apps/v1', 'Deployment');

/** One reconcile's view: the Deployment, its ReplicaSets and pods, and the ReplicaSet of its current template. */
interface Rollout {
  d: Deployment;
  replicas: number;
  newRS: ReplicaSet;
  oldRSs: ReplicaSet[];
  all: ReplicaSet[];
  podsOf(rs: ReplicaSet): Pod[];
  /** A ReplicaSet's pods that are available, never more than its spec asks for. */
  available(rs: ReplicaSet): number;
  active(rs: ReplicaSet): Pod[];
}

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  private readonly events: EventRecorder;

  constructor(
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.events = new EventRecorder(store, 'deployment-controller');
  }

  keysFor(event: ChangeEvent): string[] {
    if (event.resource === DEPLOYMENTS) return [`${event.object.metadata.namespace}/${event.object.metadata.name}`];
    if (event.resource === RS) {
      const owner = controllerOf(event.object);
      return owner?.kind === 'Deployment' ? [`${event.object.metadata.namespace}/${owner.name}`] : [];
    }
    return [];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list(DEPLOYMENTS)).items.map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/');
    const stored = await this.store.get(DEPLOYMENTS, namespace, name).catch(ignoreNotFound);
    if (!stored || stored.metadata.deletionTimestamp) return;
    const d = typed(DEPLOYMENTS, stored);
    const replicas = d.spec.replicas ?? 1;
    const selector = fromLabelSelector(d.spec.selector);
    const all = await this.replicaSetsOf(d, selector);
    const hash = templateHash(d.spec.template);
    let newRS = all.find((rs) => rs.metadata.labels?.[TEMPLATE_HASH] === hash);
    const oldRSs = all.filter((rs) => rs !== newRS).sort((a, b) => revisionOf(a) - revisionOf(b));
    const maxRevision = Math.max(0, ...all.map(revisionOf));

    if (d.spec.paused) {
      // Paused: no new template rolls out, but a change of replicas still applies, spread
      // over the ReplicaSets in proportion to their sizes.
      const scaled = await this.scaleProportionally(d, all, newRS, replicas);
      const current = scaled.find((rs) => rs.metadata.uid === newRS?.metadata.uid);
      return this.updateStatus(d, scaled, current, replicas);
    }
    if (!newRS) newRS = await this.createNewRS(d, hash, maxRevision + 1, oldRSs.length === 0 ? replicas : 0);
    else if (revisionOf(newRS) < maxRevision) newRS = await this.setRevision(newRS, maxRevision + 1);

    // Only this Deployment's pods (its selector), grouped by their ReplicaSet once.
    const pods = typedList('pods', (await this.store.list('pods', { namespace, labelSelector: selector })).items);
    const rollout = this.rollout(d, replicas, newRS, oldRSs, all, pods);
    if (d.spec.strategy?.type === 'Recreate') await this.recreate(rollout);
    else await this.rollingUpdate(rollout);
    await this.cleanup(d, oldRSs);
    const fresh = typedList(RS, (await this.store.list(RS, { namespace })).items).filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
    const current = fresh.find((rs) => rs.metadata.uid === rollout.newRS.metadata.uid);
    return this.updateStatus(d, fresh, current, replicas, pods);
  }

  private rollout(d: Deployment, replicas: number, newRS: ReplicaSet, oldRSs: ReplicaSet[], all: ReplicaSet[], pods: Pod[]): Rollout {
    const byOwner = new Map<string, Pod[]>();
    for (const p of pods) {
      const owner = controllerOf(p)?.uid;
      if (owner) byOwner.set(owner, [...(byOwner.get(owner) ?? []), p]);
    }
    const podsOf = (rs: ReplicaSet) => byOwner.get(rs.metadata.uid ?? '') ?? [];
    const active = (rs: ReplicaSet) => podsOf(rs).filter(isActive);
    // Pods above a ReplicaSet's spec are about to go: they count for surge, not for availability.
    // Available means Ready for minReadySeconds.
    const minReadySeconds = d.spec.minReadySeconds ?? 0;
    const now = this.now().getTime();
    const available = (rs: ReplicaSet) => Math.min(active(rs).filter((p) => availableInMs(p, minReadySeconds, now) === 0).length, specReplicas(rs));
    return { d, replicas, newRS, oldRSs, all, podsOf, active, available };
  }

  /** Recreate: every old pod gone before the new ReplicaSet scales up. */
  private async recreate(r: Rollout): Promise<void> {
    const oldRunning = r.oldRSs.some((rs) => specReplicas(rs) > 0 || r.podsOf(rs).length > 0);
    for (const rs of r.oldRSs) if (specReplicas(rs) > 0) await this.scale(r.d, rs, 0);
    if (!oldRunning && specReplicas(r.newRS) !== r.replicas) r.newRS = await this.scale(r.d, r.newRS, r.replicas);
  }

  /** RollingUpdate: the new ReplicaSet up within maxSurge, the old ones down within maxUnavailable. */
  private async rollingUpdate(r: Rollout): Promise<void> {
    const { d, replicas, oldRSs, all } = r;
    const { maxSurge, maxUnavailable } = rolloutBounds(d, replicas);
    // Scale the new ReplicaSet up as far as the surge allows.
    const total = all.concat(all.includes(r.newRS) ? [] : [r.newRS]).reduce((a, rs) => a + Math.max(specReplicas(rs), r.active(rs).length), 0);
    if (specReplicas(r.newRS) > replicas) r.newRS = await this.scale(d, r.newRS, replicas);
    else if (specReplicas(r.newRS) < replicas) {
      const up = Math.min(replicas + maxSurge - total, replicas - specReplicas(r.newRS));
      if (up > 0) r.newRS = await this.scale(d, r.newRS, specReplicas(r.newRS) + up);
    }
    // Scale old ones down as far as availability allows, unavailable pods first.
    const minAvailable = replicas - maxUnavailable;
    let canRemove = [r.newRS, ...oldRSs].reduce((a, rs) => a + r.available(rs), 0) - minAvailable;
    for (const rs of oldRSs) {
      const current = specReplicas(rs);
      if (current === 0) continue;
      const unavailable = Math.max(0, current - r.available(rs));
      let down = unavailable;
      if (canRemove > 0) down += Math.min(canRemove, current - unavailable);
      down = Math.min(down, current);
      if (down > 0) {
        canRemove -= Math.max(0, down - unavailable);
        await this.scale(d, rs, current - down);
      }
    }
  }

  /** The Deployment's ReplicaSets, with matching orphans adopted on the way. */
  private async replicaSetsOf(d: Deployment, selector: Selector): Promise<ReplicaSet[]> {
    const all: ReplicaSet[] = [];
    for (const rs of typedList(RS, (await this.store.list(RS, { namespace: d.metadata.namespace })).items)) {
      if (controllerOf(rs)?.uid === d.metadata.uid) all.push(rs);
      else if (!controllerOf(rs) && !rs.metadata.deletionTimestamp && selector.requirements.length && matchLabels(selector, rs.metadata.labels)) {
        // An orphan that matches (say, left by an earlier Deployment deleted with Orphan) is adopted.
        const adopted = await this.adopt(d, rs);
        if (adopted) all.push(adopted);
      }
    }
    return all;
  }

  /**
   * Kubernetes' proportional scaling: with one active ReplicaSet it takes `replicas`; with
   * several (a rollout paused half way) the new total, `replicas + maxSurge`, is shared in
   * proportion to their current sizes, the rounding remainder going to the largest (newest on
   * a tie). Returns the ReplicaSets as they now are.
   */
  private async scaleProportionally(d: Deployment, all: ReplicaSet[], newRS: ReplicaSet | undefined, replicas: number): Promise<ReplicaSet[]> {
    const active = all.filter((rs) => specReplicas(rs) > 0);
    const targets = new Map<ReplicaSet, number>();
    if (active.length === 0) {
      const newest = newRS ?? [...all].sort((a, b) => revisionOf(b) - revisionOf(a))[0];
      if (newest) targets.set(newest, replicas);
    } else if (active.length === 1) {
      targets.set(active[0], replicas);
    } else {
      const allowed = replicas + rolloutBounds(d, replicas).maxSurge;
      const current = active.reduce((a, rs) => a + specReplicas(rs), 0);
      if (current === allowed) return all;
      let left = allowed;
      for (const rs of active) {
        const share = Math.floor((specReplicas(rs) * allowed) / current);
        targets.set(rs, share);
        left -= share;
      }
      const largest = [...active].sort((a, b) => specReplicas(b) - specReplicas(a) || revisionOf(b) - revisionOf(a))[0];
      targets.set(largest, targets.get(largest)! + left);
    }
    const scaled = new Map<string | undefined, ReplicaSet>();
    for (const [rs, target] of targets) if (specReplicas(rs) !== target) scaled.set(rs.metadata.uid, await this.scale(d, rs, target));
    return all.map((rs) => scaled.get(rs.metadata.uid) ?? rs);
  }

  private async createNewRS(d: Deployment, hash: string, revision: number, replicas: number): Promise<ReplicaSet> {
    const template = structuredClone(d.spec.template);
    const labels = { ...template.metadata?.labels, [TEMPLATE_HASH]: hash };
    template.metadata = { ...template.metadata, labels };
    const selector = structuredClone(d.spec.selector);
    selector.matchLabels = { ...selector.matchLabels, [TEMPLATE_HASH]: hash };
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (k !== 'kubectl.kubernetes.io/last-applied-configuration' && k !== REVISION) annotations[k] = v;
    annotations[REVISION] = String(revision);
    annotations['deployment.kubernetes.io/desired-replicas'] = String(specReplicas(d));
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, labels, annotations, ownerReferences: [ownerRef(d)] },
      spec: { replicas, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
    };
    try {
      const created = typed(RS, await this.store.create(RS, rs));
      // A ReplicaSet born empty (a rolling update's first step) is reported when it scales up.
      if (replicas > 0) await this.events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${rs.metadata.name} from 0 to ${replicas}`);
      return created;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return typed(RS, await this.store.get(RS, d.metadata.namespace ?? '', rs.metadata.name!));
    }
  }

  private async adopt(d: Deployment, rs: ReplicaSet): Promise<ReplicaSet | undefined> {
    let adopted: ReplicaSet | undefined;
    await guaranteedUpdate<ReplicaSet>(this.store, RS, rs.metadata.namespace ?? '', rs.metadata.name ?? '', (r) => {
      if (controllerOf(r) || r.metadata.uid !== rs.metadata.uid) return undefined;
      return { ...r, metadata: { ...r.metadata, ownerReferences: [...(r.metadata.ownerReferences ?? []), ownerRef(d)] } };
    })
      .then((r) => {
        if (controllerOf(r)?.uid === d.metadata.uid) adopted = r;
      })
      .catch(ignoreNotFound);
    return adopted;
  }

  private setRevision(rs: ReplicaSet, revision: number): Promise<ReplicaSet> {
    return guaranteedUpdate<ReplicaSet>(this.store, RS, rs.metadata.namespace ?? '', rs.metadata.name ?? '', (r) => ({
      ...r,
      metadata: { ...r.metadata, annotations: { ...r.metadata.annotations, [REVISION]: String(revision) } },
    }));
  }

  private async scale(d: Deployment, rs: ReplicaSet, replicas: number): Promise<ReplicaSet> {
    const from = specReplicas(rs);
    const updated = await guaranteedUpdate<ReplicaSet>(this.store, RS, rs.metadata.namespace ?? '', rs.metadata.name ?? '', (r) =>
      specReplicas(r) === replicas ? undefined : { ...r, spec: { ...r.spec, replicas } },
    );
    if (from !== replicas) {
      const message = `Scaled ${replicas > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${replicas}`;
      await this.events.record(d, 'Normal', 'ScalingReplicaSet', message);
    }
    return updated;
  }

  /** Old ReplicaSets scaled to zero beyond revisionHistoryLimit go, oldest first. */
  private async cleanup(d: Deployment, oldRSs: ReplicaSet[]): Promise<void> {
    const limit = d.spec.revisionHistoryLimit ?? 10;
    const idle = oldRSs.filter((rs) => specReplicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0);
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
      await this.store
        .delete(RS, rs.metadata.namespace ?? '', rs.metadata.name ?? '', { preconditions: { uid: rs.metadata.uid } })
        .catch(ignore(isNotFound, isConflict));
    }
  }

  private async updateStatus(d: Deployment, all: ReplicaSet[], newRS: ReplicaSet | undefined, replicas: number, pods?: Pod[]): Promise<ReconcileResult | void> {
    const podList =
      pods ?? typedList('pods', (await this.store.list('pods', { namespace: d.metadata.namespace, labelSelector: fromLabelSelector(d.spec.selector) })).items);
    const counts = countPods(d, all, newRS, podList, replicas, this.now().getTime());
    let requeue: ReconcileResult | undefined;
    await guaranteedUpdate<Deployment>(this.store, DEPLOYMENTS, d.metadata.namespace ?? '', d.metadata.name ?? '', (current) => {
      if (current.metadata.uid !== d.metadata.uid) return undefined;
      const { status, requeueAfterMs } = deploymentStatus(current, counts, newRS, this.now());
      requeue = requeueAfterMs === undefined ? undefined : { requeueAfterMs };
      const annotations = newRS ? { ...current.metadata.annotations, [REVISION]: String(revisionOf(newRS)) } : current.metadata.annotations;
      return { ...current, metadata: { ...current.metadata, annotations }, status };
    }).catch(ignoreNotFound);
    return requeue;
  }
}

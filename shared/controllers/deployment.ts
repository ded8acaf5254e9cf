/**
 * The Deployment controller: one ReplicaSet per pod template (named `<deployment>-<hash>`,
 * labelled `pod-template-hash`), rolled out by the strategy: RollingUpdate within maxSurge
 * and maxUnavailable, or Recreate. Revisions are the `deployment.kubernetes.io/revision`
 * annotation, as `kubectl rollout history` and `undo` read them; old ReplicaSets beyond
 * `revisionHistoryLimit` are removed. Availability is counted from the pods themselves
 * (a consistent snapshot), never from ReplicaSet statuses that may lag, so the surge and
 * unavailability bounds hold at every step.
 */
import { ignore, ignoreNotFound, isAlreadyExists, isConflict, isNotFound } from '../errors.js';
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import { matchLabels, type Selector } from '../store/selectors.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import { availableInMs, controllerOf, isPodReady, toSelector } from './replicaset.js';
import type { Controller, ReconcileResult } from './types.js';

const DEPLOYMENTS = 'deployments.apps';
const RS = 'replicasets.apps';
export const REVISION = 'deployment.kubernetes.io/revision';
export const TEMPLATE_HASH = 'pod-template-hash';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * The pod template's hash, in Kubernetes' alphabet (no vowels, no look-alikes). Computed over
 * the template's canonical form (keys sorted; null, empty objects and empty lists left out) so
 * equal templates hash equal however they arrived: `kubectl rollout undo` sends the old
 * ReplicaSet's template back with `creationTimestamp: null` and its own key order, and must
 * find that ReplicaSet again rather than make a new one.
 */
export function templateHash(template: unknown): string {
  const t = structuredClone(asObj(template));
  const meta = asObj(t.metadata);
  if (meta.labels) delete (meta.labels as Obj)[TEMPLATE_HASH];
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

/** An int-or-percent of `total` (maxSurge rounds up, maxUnavailable down). */
export function resolveIntOrPercent(value: unknown, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.endsWith('%')) {
    const v = (Number(value.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(v) : Math.floor(v);
  }
  return Number(value ?? 0);
}

const revisionOf = (rs: KubeObject) => Number(rs.metadata.annotations?.[REVISION] ?? 0);
const specReplicas = (o: KubeObject) => Number(asObj(o.spec).replicas ?? 0);

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

  /** The Deployment's ReplicaSets, with matching orphans adopted on the way. */
  private async replicaSetsOf(d: KubeObject, selector: Selector): Promise<KubeObject[]> {
    const all: KubeObject[] = [];
    for (const rs of (await this.store.list(RS, { namespace: d.metadata.namespace })).items) {
      if (controllerOf(rs)?.uid === d.metadata.uid) all.push(rs);
      else if (!controllerOf(rs) && !rs.metadata.deletionTimestamp && selector.requirements.length && matchLabels(selector, rs.metadata.labels)) {
        // An orphan that matches (say, left by an earlier Deployment deleted with Orphan) is adopted.
        const adopted = await this.adopt(d, rs);
        if (adopted) all.push(adopted);
      }
    }
    return all;
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list(DEPLOYMENTS)).items.map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/');
    const d = await this.store.get(DEPLOYMENTS, namespace, name).catch(ignoreNotFound);
    if (!d || d.metadata.deletionTimestamp) return;
    const spec = asObj(d.spec);
    const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
    const selector = toSelector(spec.selector);
    const all = await this.replicaSetsOf(d, selector);
    const hash = templateHash(spec.template);
    let newRS = all.find((rs) => rs.metadata.labels?.[TEMPLATE_HASH] === hash);
    const oldRSs = all.filter((rs) => rs !== newRS).sort((a, b) => revisionOf(a) - revisionOf(b));
    const maxRevision = Math.max(0, ...all.map(revisionOf));

    if (spec.paused) {
      // Paused: no new template rolls out, but a change of replicas still applies, spread
      // over the ReplicaSets in proportion to their sizes.
      const scaled = await this.scaleProportionally(d, all, newRS, replicas);
      return this.updateStatus(
        d,
        scaled,
        scaled.find((rs) => rs.metadata.uid === newRS?.metadata.uid),
        replicas,
      );
    }
    if (!newRS) newRS = await this.createNewRS(d, hash, maxRevision + 1, oldRSs.length === 0 ? replicas : 0);
    else if (revisionOf(newRS) < maxRevision) newRS = await this.setRevision(newRS, maxRevision + 1);

    // Only this Deployment's pods (its selector), grouped by their ReplicaSet once.
    const pods = (await this.store.list('pods', { namespace, labelSelector: selector })).items;
    const byOwner = new Map<string, KubeObject[]>();
    for (const p of pods) {
      const owner = controllerOf(p)?.uid;
      if (owner) byOwner.set(owner, [...(byOwner.get(owner) ?? []), p]);
    }
    const podsOf = (rs: KubeObject) => byOwner.get(rs.metadata.uid ?? '') ?? [];
    const active = (rs: KubeObject) =>
      podsOf(rs).filter((p) => !p.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(String(asObj(p.status).phase)));
    // Pods above a ReplicaSet's spec are about to go: they count for surge, not for availability.
    // Available means Ready for minReadySeconds.
    const minReadySeconds = Number(spec.minReadySeconds ?? 0);
    const now = this.now().getTime();
    const available = (rs: KubeObject) => Math.min(active(rs).filter((p) => availableInMs(p, minReadySeconds, now) === 0).length, specReplicas(rs));

    const strategy = asObj(spec.strategy);
    if (strategy.type === 'Recreate') {
      const oldRunning = oldRSs.some((rs) => specReplicas(rs) > 0 || podsOf(rs).length > 0);
      for (const rs of oldRSs) if (specReplicas(rs) > 0) await this.scale(d, rs, 0);
      if (!oldRunning && specReplicas(newRS) !== replicas) newRS = await this.scale(d, newRS, replicas);
    } else {
      const rolling = asObj(strategy.rollingUpdate);
      const maxSurge = resolveIntOrPercent(rolling.maxSurge ?? '25%', replicas, true);
      let maxUnavailable = resolveIntOrPercent(rolling.maxUnavailable ?? '25%', replicas, false);
      if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
      // Scale the new ReplicaSet up as far as the surge allows.
      const total = all.concat(all.includes(newRS) ? [] : [newRS]).reduce((a, rs) => a + Math.max(specReplicas(rs), active(rs).length), 0);
      if (specReplicas(newRS) > replicas) newRS = await this.scale(d, newRS, replicas);
      else if (specReplicas(newRS) < replicas) {
        const up = Math.min(replicas + maxSurge - total, replicas - specReplicas(newRS));
        if (up > 0) newRS = await this.scale(d, newRS, specReplicas(newRS) + up);
      }
      // Scale old ones down as far as availability allows, unavailable pods first.
      const allRS = [newRS, ...oldRSs];
      const minAvailable = replicas - maxUnavailable;
      let canRemove = allRS.reduce((a, rs) => a + available(rs), 0) - minAvailable;
      for (const rs of oldRSs) {
        const current = specReplicas(rs);
        if (current === 0) continue;
        const unavailable = Math.max(0, current - available(rs));
        let down = unavailable;
        if (canRemove > 0) down += Math.min(canRemove, current - unavailable);
        down = Math.min(down, current);
        if (down > 0) {
          canRemove -= Math.max(0, down - unavailable);
          await this.scale(d, rs, current - down);
        }
      }
    }
    await this.cleanup(d, oldRSs);
    const fresh = (await this.store.list(RS, { namespace })).items.filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
    return this.updateStatus(
      d,
      fresh,
      fresh.find((rs) => rs.metadata.uid === newRS!.metadata.uid),
      replicas,
      pods,
    );
  }

  /**
   * Kubernetes' proportional scaling: with one active ReplicaSet it takes `replicas`; with
   * several (a rollout paused half way) the new total, `replicas + maxSurge`, is shared in
   * proportion to their current sizes, the rounding remainder going to the largest (newest on
   * a tie). Returns the ReplicaSets as they now are.
   */
  private async scaleProportionally(d: KubeObject, all: KubeObject[], newRS: KubeObject | undefined, replicas: number): Promise<KubeObject[]> {
    const active = all.filter((rs) => specReplicas(rs) > 0);
    const targets = new Map<KubeObject, number>();
    if (active.length === 0) {
      const newest = newRS ?? [...all].sort((a, b) => revisionOf(b) - revisionOf(a))[0];
      if (newest) targets.set(newest, replicas);
    } else if (active.length === 1) {
      targets.set(active[0], replicas);
    } else {
      const strategy = asObj(asObj(d.spec).strategy);
      const surge = strategy.type === 'Recreate' ? 0 : resolveIntOrPercent(asObj(strategy.rollingUpdate).maxSurge ?? '25%', replicas, true);
      const allowed = replicas + surge;
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
    const scaled = new Map<string | undefined, KubeObject>();
    for (const [rs, target] of targets) if (specReplicas(rs) !== target) scaled.set(rs.metadata.uid, await this.scale(d, rs, target));
    return all.map((rs) => scaled.get(rs.metadata.uid) ?? rs);
  }

  private async createNewRS(d: KubeObject, hash: string, revision: number, replicas: number): Promise<KubeObject> {
    const spec = asObj(d.spec);
    const template = structuredClone(asObj(spec.template));
    const meta = asObj(template.metadata);
    meta.labels = { ...asObj(meta.labels), [TEMPLATE_HASH]: hash };
    template.metadata = meta;
    const selector = structuredClone(asObj(spec.selector));
    selector.matchLabels = { ...asObj(selector.matchLabels), [TEMPLATE_HASH]: hash };
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (k !== 'kubectl.kubernetes.io/last-applied-configuration' && k !== REVISION) annotations[k] = v;
    annotations[REVISION] = String(revision);
    annotations['deployment.kubernetes.io/desired-replicas'] = String(specReplicas(d));
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        labels: meta.labels as Record<string, string>,
        annotations,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name!, uid: d.metadata.uid!, controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: { replicas, minReadySeconds: spec.minReadySeconds ?? 0, selector, template },
    };
    try {
      const created = await this.store.create(RS, rs);
      // A ReplicaSet born empty (a rolling update's first step) is reported when it scales up.
      if (replicas > 0) await this.events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${rs.metadata.name} from 0 to ${replicas}`);
      return created;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return this.store.get(RS, d.metadata.namespace ?? '', rs.metadata.name!);
    }
  }

  private async adopt(d: KubeObject, rs: KubeObject): Promise<KubeObject | undefined> {
    let adopted: KubeObject | undefined;
    await guaranteedUpdate(this.store, RS, rs.metadata.namespace ?? '', rs.metadata.name ?? '', (r) => {
      if (controllerOf(r) || r.metadata.uid !== rs.metadata.uid) return undefined;
      const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name!, uid: d.metadata.uid!, controller: true, blockOwnerDeletion: true };
      return { ...r, metadata: { ...r.metadata, ownerReferences: [...(r.metadata.ownerReferences ?? []), ref] } };
    })
      .then((r) => {
        if (controllerOf(r)?.uid === d.metadata.uid) adopted = r;
      })
      .catch(ignoreNotFound);
    return adopted;
  }

  private setRevision(rs: KubeObject, revision: number): Promise<KubeObject> {
    return guaranteedUpdate(this.store, RS, rs.metadata.namespace ?? '', rs.metadata.name ?? '', (r) => ({
      ...r,
      metadata: { ...r.metadata, annotations: { ...r.metadata.annotations, [REVISION]: String(revision) } },
    }));
  }

  private async scale(d: KubeObject, rs: KubeObject, replicas: number): Promise<KubeObject> {
    const from = specReplicas(rs);
    const updated = await guaranteedUpdate(this.store, RS, rs.metadata.namespace ?? '', rs.metadata.name ?? '', (r) =>
      specReplicas(r) === replicas ? undefined : { ...r, spec: { ...asObj(r.spec), replicas } },
    );
    if (from !== replicas)
      await this.events.record(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${replicas > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${replicas}`,
      );
    return updated;
  }

  /** Old ReplicaSets scaled to zero beyond revisionHistoryLimit go, oldest first. */
  private async cleanup(d: KubeObject, oldRSs: KubeObject[]): Promise<void> {
    const limit = Number(asObj(d.spec).revisionHistoryLimit ?? 10);
    const idle = oldRSs.filter((rs) => specReplicas(rs) === 0 && Number(asObj(rs.status).replicas ?? 0) === 0);
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
      await this.store
        .delete(RS, rs.metadata.namespace ?? '', rs.metadata.name ?? '', { preconditions: { uid: rs.metadata.uid } })
        .catch(ignore(isNotFound, isConflict));
    }
  }

  private async updateStatus(
    d: KubeObject,
    all: KubeObject[],
    newRS: KubeObject | undefined,
    replicas: number,
    pods?: KubeObject[],
  ): Promise<ReconcileResult | void> {
    const selector = toSelector(asObj(d.spec).selector);
    const podList = pods ?? (await this.store.list('pods', { namespace: d.metadata.namespace, labelSelector: selector })).items;
    const ownedUids = new Set(all.map((rs) => rs.metadata.uid));
    const active = podList.filter((p) => ownedUids.has(controllerOf(p)?.uid) && !p.metadata.deletionTimestamp && matchLabels(selector, p.metadata.labels));
    const updated = newRS ? active.filter((p) => controllerOf(p)?.uid === newRS.metadata.uid) : [];
    const ready = active.filter(isPodReady).length;
    const minReadySeconds = Number(asObj(d.spec).minReadySeconds ?? 0);
    const nowMs = this.now().getTime();
    const waits = active.map((p) => availableInMs(p, minReadySeconds, nowMs));
    const availableCount = waits.filter((w) => w === 0).length;
    const soonest = Math.min(...waits.filter((w) => w > 0 && w !== Infinity));
    const rolling = asObj(asObj(asObj(d.spec).strategy).rollingUpdate);
    const maxUnavailable = asObj(asObj(d.spec).strategy).type === 'Recreate' ? replicas : resolveIntOrPercent(rolling.maxUnavailable ?? '25%', replicas, false);
    const complete =
      updated.length === replicas && active.length === replicas && updated.filter((p) => availableInMs(p, minReadySeconds, nowMs) === 0).length === replicas;
    const now = nowTimestamp(this.now());
    const progressDeadline = Number(asObj(d.spec).progressDeadlineSeconds ?? 600);
    let requeue: ReconcileResult | undefined;
    await guaranteedUpdate(this.store, DEPLOYMENTS, d.metadata.namespace ?? '', d.metadata.name ?? '', (current) => {
      if (current.metadata.uid !== d.metadata.uid) return undefined;
      const old = asObj(current.status);
      const conditions = ((old.conditions ?? []) as Obj[]).map((c) => ({ ...c }));
      const setCondition = (type: string, status: string, reason: string, message: string) => {
        const existing = conditions.find((c) => c.type === type);
        if (existing && existing.status === status && existing.reason === reason) {
          if (existing.message !== message) existing.message = message;
          return;
        }
        const next = {
          type,
          status,
          reason,
          message,
          lastUpdateTime: now,
          lastTransitionTime: existing?.status === status ? existing.lastTransitionTime : now,
        };
        if (existing) Object.assign(existing, next);
        else conditions.push(next);
      };
      const minimum = availableCount >= replicas - maxUnavailable;
      setCondition(
        'Available',
        minimum ? 'True' : 'False',
        minimum ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        minimum ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
      );
      const rsName = newRS?.metadata.name ?? '';
      const progressing = conditions.find((c) => c.type === 'Progressing');
      const paused = Boolean(asObj(current.spec).paused);
      if (paused) setCondition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused');
      else if (progressing?.reason === 'DeploymentPaused') setCondition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed');
      else if (complete) setCondition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`);
      else if (
        progressing &&
        progressing.reason !== 'NewReplicaSetAvailable' &&
        Date.parse(String(progressing.lastUpdateTime)) + progressDeadline * 1000 < this.now().getTime()
      ) {
        setCondition('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${rsName}" has timed out progressing.`);
      } else if (
        !progressing ||
        progressing.reason === 'NewReplicaSetAvailable' ||
        progressing.reason === 'DeploymentResumed' ||
        progressing.status === 'False'
      ) {
        setCondition('Progressing', 'True', progressing ? 'ReplicaSetUpdated' : 'NewReplicaSetCreated', `ReplicaSet "${rsName}" is progressing.`);
      }
      if (!complete && !paused) requeue = { requeueAfterMs: Math.min(progressDeadline * 1000, 60_000, soonest + 10) };
      const status = {
        ...old,
        observedGeneration: current.metadata.generation,
        replicas: active.length,
        updatedReplicas: updated.length,
        readyReplicas: ready,
        availableReplicas: availableCount,
        unavailableReplicas: Math.max(0, replicas - availableCount),
        conditions,
      };
      const annotations = newRS ? { ...current.metadata.annotations, [REVISION]: String(revisionOf(newRS)) } : current.metadata.annotations;
      return { ...current, metadata: { ...current.metadata, annotations }, status };
    }).catch(ignoreNotFound);
    return requeue;
  }
}

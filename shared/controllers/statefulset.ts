/**
 * The StatefulSet controller, as kube-controller-manager's: pods with stable names
 * (`web-0`, `web-1`, ... from `spec.ordinals.start`), each with its hostname and the set's
 * `serviceName` as subdomain (its DNS name through the headless Service), and its own claims
 * from the `volumeClaimTemplates` (`data-web-0`), made before the pod and kept when the pod goes,
 * so a pod made again mounts the same volume.
 * - OrderedReady (the default) makes pods one at a time in ordinal order, each once the one
 *   before is Running and Ready, and removes them from the highest ordinal down, one at a time,
 *   while the others are healthy; Parallel makes and removes them all at once.
 * - A changed template rolls out (RollingUpdate) from the highest ordinal down to `partition`,
 *   one pod at a time, each made again once the others are Ready; OnDelete waits for pods to be
 *   deleted by hand. A pod's revision is its `controller-revision-hash` label (`web-<hash>`),
 *   the name of the ControllerRevision that keeps that template (`revisions.ts`).
 * - persistentVolumeClaimRetentionPolicy: `whenDeleted: Delete` makes the set its claims' owner
 *   (the garbage collector deletes them with it); `whenScaled: Delete` makes a removed pod its
 *   claims' owner, so they go with it.
 * - A pod that failed or finished is deleted and made again.
 */
import { PERSISTENT_VOLUME_CLAIMS } from '../api/kinds/storage.js';
import { isTerminal, typed } from '../api/objects.js';
import { findResource } from '../api/resources.js';
import type { OwnerReference, Pod, StatefulSet } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isAlreadyExists } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';
import { REVISION } from './daemonset.js';
import { recordRevision } from './revisions.js';
import { templateHash } from './deployment.js';
import { PodOwnerController, availableInMs, controllerRef, deletePodOf, isPodReady } from './replicaset.js';
import type { ReconcileResult } from './types.js';

const STS = 'statefulsets.apps';
const PVCS = PERSISTENT_VOLUME_CLAIMS.storeKey;
const PODS = findResource('', 'v1', 'pods')!;
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

/** The ordinal in a pod's name (`web-3` of `web`: 3), or -1. */
function ordinalOf(set: StatefulSet, pod: Pod): number {
  const name = pod.metadata.name ?? '';
  const prefix = `${set.metadata.name}-`;
  if (!name.startsWith(prefix) || !/^\d+$/.test(name.slice(prefix.length))) return -1;
  return Number(name.slice(prefix.length));
}

const runningAndReady = (pod: Pod) => pod.status?.phase === 'Running' && isPodReady(pod);
const claimName = (template: string, set: StatefulSet, ordinal: number) => `${template}-${set.metadata.name}-${ordinal}`;

interface Plan {
  set: StatefulSet;
  revision: string;
  /** The ordinals the set wants, lowest first. */
  ordinals: number[];
  /** Its pods by ordinal (those with an ordinal of its name). */
  pods: Map<number, Pod>;
}

export class StatefulSetController extends PodOwnerController {
  readonly name = 'statefulset';

  constructor(store: Store) {
    super(store, { storeKey: STS, kind: 'StatefulSet', component: 'statefulset-controller' });
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/');
    const stored = await this.store.get(STS, namespace, name).catch(ignoreNotFound);
    if (!stored || stored.metadata.deletionTimestamp) return;
    const set = typed(STS, stored);
    const owned = await this.ownedPods(set, set.spec.selector);
    const start = set.spec.ordinals?.start ?? 0;
    const plan: Plan = {
      set,
      revision: `${set.metadata.name}-${templateHash(set.spec.template)}`,
      ordinals: Array.from({ length: set.spec.replicas ?? 1 }, (_, i) => start + i),
      pods: new Map(owned.map((p) => [ordinalOf(set, p), p])),
    };
    plan.pods.delete(-1);
    const inUse = new Set([...owned.map((p) => p.metadata.labels?.[REVISION] ?? ''), set.status?.currentRevision ?? '']);
    await recordRevision(this.store, set, 'StatefulSet', plan.revision, inUse);
    // Each step waits for the one before: pods made and healthy, then removed, then updated.
    if (await this.scaleUp(plan)) {
      if (await this.scaleDown(plan)) await this.rollOut(plan);
    }
    return this.updateStatus(plan, owned);
  }

  /** Makes missing pods (and their claims), and makes failed ones again; false while it must wait. */
  private async scaleUp(plan: Plan): Promise<boolean> {
    const ordered = plan.set.spec.podManagementPolicy !== 'Parallel';
    let settled = true;
    for (const ordinal of plan.ordinals) {
      const pod = plan.pods.get(ordinal);
      if (pod && isTerminal(pod) && !pod.metadata.deletionTimestamp) {
        await deletePodOf(this.registry, this.events, plan.set, pod);
        settled = false;
      } else if (!pod) {
        await this.createClaims(plan.set, ordinal);
        await this.createPod(plan, ordinal);
        settled = false;
      } else if (!pod.metadata.deletionTimestamp && !runningAndReady(pod)) settled = false;
      else if (pod.metadata.deletionTimestamp) settled = false;
      if (ordered && !settled) return false;
    }
    return settled || !ordered;
  }

  /** Removes the pods past the wanted ordinals, highest first; false while it must wait. */
  private async scaleDown(plan: Plan): Promise<boolean> {
    const wanted = new Set(plan.ordinals);
    const condemned = [...plan.pods.entries()].filter(([ordinal]) => !wanted.has(ordinal)).sort(([a], [b]) => b - a);
    if (condemned.length === 0) return true;
    const ordered = plan.set.spec.podManagementPolicy !== 'Parallel';
    for (const [ordinal, pod] of condemned) {
      if (pod.metadata.deletionTimestamp) {
        if (ordered) return false;
        continue;
      }
      // OrderedReady removes a pod only while every other is healthy.
      if (ordered && [...plan.pods.values()].some((p) => p !== pod && !runningAndReady(p))) return false;
      if (plan.set.spec.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete') await this.giveClaimsTo(plan.set, ordinal, pod);
      await deletePodOf(this.registry, this.events, plan.set, pod);
      if (ordered) return false;
    }
    return false;
  }

  /** The rolling update's step: the highest pod at or past the partition that is not of the revision goes. */
  private async rollOut(plan: Plan): Promise<boolean> {
    const strategy = plan.set.spec.updateStrategy;
    if (strategy?.type === 'OnDelete') return true;
    const partition = strategy?.rollingUpdate?.partition ?? 0;
    const pods = plan.ordinals.map((o) => plan.pods.get(o)).filter((p): p is Pod => Boolean(p));
    if (pods.some((p) => !runningAndReady(p) || p.metadata.deletionTimestamp)) return false;
    const start = plan.set.spec.ordinals?.start ?? 0;
    const stale = [...plan.ordinals].reverse().find((o) => o - start >= partition && plan.pods.get(o)?.metadata.labels?.[REVISION] !== plan.revision);
    if (stale === undefined) return true;
    await deletePodOf(this.registry, this.events, plan.set, plan.pods.get(stale)!);
    return false;
  }

  private async createPod(plan: Plan, ordinal: number): Promise<void> {
    const { set } = plan;
    const template = structuredClone(set.spec.template);
    const name = `${set.metadata.name}-${ordinal}`;
    const claims = new Map((set.spec.volumeClaimTemplates ?? []).map((t) => [t.metadata?.name ?? '', claimName(t.metadata?.name ?? '', set, ordinal)]));
    const volumes = (template.spec.volumes ?? []).filter((v) => !claims.has(v.name));
    for (const [volume, claim] of claims) volumes.push({ name: volume, persistentVolumeClaim: { claimName: claim } });
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: set.metadata.namespace,
        labels: { ...template.metadata?.labels, [REVISION]: plan.revision, [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal) },
        annotations: template.metadata?.annotations,
        ownerReferences: [controllerRef(set, 'apps/v1', 'StatefulSet')],
      },
      spec: {
        ...template.spec,
        hostname: name,
        ...(set.spec.serviceName ? { subdomain: set.spec.serviceName } : {}),
        volumes: volumes.length ? volumes : undefined,
      },
    };
    const made = await this.registry.create(PODS, set.metadata.namespace ?? '', pod, { fieldValidation: 'Ignore' }).catch(ignore(isAlreadyExists));
    if (made) await this.events.record(set, 'Normal', 'SuccessfulCreate', `create Pod ${name} in StatefulSet ${set.metadata.name} successful`);
  }

  /** The pod's claims from the templates, made when missing (a claim kept from before is used again). */
  private async createClaims(set: StatefulSet, ordinal: number): Promise<void> {
    const owners: OwnerReference[] =
      set.spec.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete'
        ? [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata.name!, uid: set.metadata.uid!, blockOwnerDeletion: true }]
        : [];
    for (const template of set.spec.volumeClaimTemplates ?? []) {
      const name = claimName(template.metadata?.name ?? '', set, ordinal);
      const claim = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name,
          namespace: set.metadata.namespace,
          labels: { ...(template.metadata?.labels as Record<string, string> | undefined), ...set.spec.selector.matchLabels },
          ...(owners.length ? { ownerReferences: owners } : {}),
        },
        spec: structuredClone(template.spec),
      };
      const made = await this.registry
        .create(PERSISTENT_VOLUME_CLAIMS, set.metadata.namespace ?? '', claim, { fieldValidation: 'Ignore' })
        .catch(ignore(isAlreadyExists));
      if (made)
        await this.events.record(
          set,
          'Normal',
          'SuccessfulCreate',
          `create Claim ${name} Pod ${set.metadata.name}-${ordinal} in StatefulSet ${set.metadata.name} success`,
        );
    }
  }

  /** whenScaled: Delete: the pod that goes owns its claims (and the set no longer does), so they go with it. */
  private async giveClaimsTo(set: StatefulSet, ordinal: number, pod: Pod): Promise<void> {
    const ref: OwnerReference = { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name!, uid: pod.metadata.uid! };
    for (const template of set.spec.volumeClaimTemplates ?? []) {
      // The pod alone: a claim the set owns too would stay while the set does.
      await guaranteedUpdate(this.store, PVCS, set.metadata.namespace ?? '', claimName(template.metadata?.name ?? '', set, ordinal), (c) => {
        const kept = (c.metadata.ownerReferences ?? []).filter((o) => o.uid !== set.metadata.uid && o.uid !== ref.uid);
        return { ...c, metadata: { ...c.metadata, ownerReferences: [...kept, ref] } };
      }).catch(ignoreNotFound);
    }
  }

  private async updateStatus(plan: Plan, owned: Pod[]): Promise<ReconcileResult | void> {
    const { set, revision } = plan;
    const live = owned.filter((p) => !p.metadata.deletionTimestamp);
    const minReady = set.spec.minReadySeconds ?? 0;
    const waits = live.map((p) => availableInMs(p, minReady));
    const updated = live.filter((p) => p.metadata.labels?.[REVISION] === revision).length;
    const wanted = plan.ordinals.length;
    // The current revision becomes the update revision once every wanted pod is of it.
    const current = set.status?.currentRevision && !(updated === wanted && live.length === wanted) ? set.status.currentRevision : revision;
    const status = {
      observedGeneration: set.metadata.generation,
      replicas: live.length,
      readyReplicas: live.filter(isPodReady).length,
      availableReplicas: waits.filter((w) => w === 0).length,
      currentReplicas: live.filter((p) => p.metadata.labels?.[REVISION] === current).length,
      updatedReplicas: updated,
      currentRevision: current,
      updateRevision: revision,
      collisionCount: set.status?.collisionCount ?? 0,
    };
    return this.writeStatus(set, status, waits);
  }
}

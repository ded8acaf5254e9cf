/**
 * What the scheduler asks of a pod's PersistentVolumeClaims (kube-scheduler's VolumeBinding
 * plugin, in the small): every claim must exist and not be going; a bound claim's volume holds
 * the pod to the nodes its node affinity allows (added to the pod's own required affinity); an
 * unbound claim is waited for, unless its class binds WaitForFirstConsumer, whose claims learn
 * the node the pod went to (`volume.kubernetes.io/selected-node`) so the provisioner makes the
 * volume there. Pods without claims cost nothing here.
 */
import {
  PERSISTENT_VOLUMES,
  PERSISTENT_VOLUME_CLAIMS,
  SELECTED_NODE,
  STORAGE_CLASSES,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type StorageClass,
} from '../api/kinds/storage.js';
import type { NodeSelectorTerm, Pod } from '../api/schemas/index.js';
import { ignoreNotFound } from '../errors.js';
import type { KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';
import { claimsOf } from './persistentvolume.js';

export interface VolumeVerdict {
  /** The pods that may be placed, a bound volume's node affinity added to theirs. */
  placeable: Pod[];
  /** The pods that may not be placed yet, with kube-scheduler's reason. */
  refused: { pod: Pod; reason: string }[];
}

/** Every pair of a pod term and a volume term, joined: both must hold. */
function joinTerms(pod: NodeSelectorTerm[] | undefined, volume: NodeSelectorTerm[]): NodeSelectorTerm[] {
  if (!pod?.length) return volume;
  return pod.flatMap((p) =>
    volume.map((v) => ({
      matchExpressions: [...(p.matchExpressions ?? []), ...(v.matchExpressions ?? [])],
      matchFields: [...(p.matchFields ?? []), ...(v.matchFields ?? [])],
    })),
  );
}

function withVolumeAffinity(pod: Pod, terms: NodeSelectorTerm[]): Pod {
  const affinity = pod.spec.affinity ?? {};
  const nodeAffinity = affinity.nodeAffinity ?? {};
  const required = joinTerms(nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, terms);
  return {
    ...pod,
    spec: {
      ...pod.spec,
      affinity: { ...affinity, nodeAffinity: { ...nodeAffinity, requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: required } } },
    },
  };
}

export class VolumeBinding {
  constructor(private readonly store: Store) {}

  private get<T extends KubeObject>(
    resource: string,
    namespace: string,
    name: string,
    seen: Map<string, Promise<KubeObject | undefined>>,
  ): Promise<T | undefined> {
    const key = `${resource}/${namespace}/${name}`;
    if (!seen.has(key)) seen.set(key, this.store.get(resource, namespace, name).catch(ignoreNotFound));
    return seen.get(key) as Promise<T | undefined>;
  }

  /** Sorts pending pods into those that may be placed and those their claims hold back. */
  async check(pods: Pod[]): Promise<VolumeVerdict> {
    const verdict: VolumeVerdict = { placeable: [], refused: [] };
    const seen = new Map<string, Promise<KubeObject | undefined>>();
    for (const pod of pods) {
      const claims = claimsOf(pod);
      if (claims.length === 0) {
        verdict.placeable.push(pod);
        continue;
      }
      let placed = pod;
      let reason: string | undefined;
      for (const name of claims) {
        const pvc = await this.get<PersistentVolumeClaim>(PERSISTENT_VOLUME_CLAIMS.storeKey, pod.metadata.namespace ?? '', name, seen);
        if (!pvc) reason = `persistentvolumeclaim "${name}" not found`;
        else if (pvc.metadata.deletionTimestamp) reason = `persistentvolumeclaim "${name}" is being deleted`;
        else if (pvc.status?.phase === 'Bound') {
          const pv = await this.get<PersistentVolume>(PERSISTENT_VOLUMES.storeKey, '', pvc.spec?.volumeName ?? '', seen);
          const terms = pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms;
          if (terms?.length) placed = withVolumeAffinity(placed, terms);
        } else if (!(await this.delayed(pvc, seen))) reason = 'pod has unbound immediate PersistentVolumeClaims';
        if (reason) break;
      }
      if (reason) verdict.refused.push({ pod, reason });
      else verdict.placeable.push(placed);
    }
    return verdict;
  }

  /** A claim whose class binds WaitForFirstConsumer: it waits for its pod's node. */
  private async delayed(pvc: PersistentVolumeClaim, seen: Map<string, Promise<KubeObject | undefined>>): Promise<boolean> {
    const className = pvc.spec?.storageClassName;
    if (!className) return false;
    const storageClass = await this.get<StorageClass>(STORAGE_CLASSES.storeKey, '', className, seen);
    return storageClass?.volumeBindingMode === 'WaitForFirstConsumer';
  }

  /** Tells the pod's unbound claims the node it goes to, before the pod is bound there. */
  async selectNode(pod: Pod, nodeName: string): Promise<void> {
    const namespace = pod.metadata.namespace ?? '';
    for (const name of claimsOf(pod)) {
      await guaranteedUpdate<PersistentVolumeClaim>(this.store, PERSISTENT_VOLUME_CLAIMS.storeKey, namespace, name, (c) =>
        c.status?.phase === 'Bound' || c.spec?.volumeName || c.metadata.annotations?.[SELECTED_NODE]
          ? undefined
          : { ...c, metadata: { ...c.metadata, annotations: { ...c.metadata.annotations, [SELECTED_NODE]: nodeName } } },
      ).catch(ignoreNotFound);
    }
  }
}

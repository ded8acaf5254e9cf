/**
 * The persistent-volume controller, as kube-controller-manager's binder, the local-path
 * provisioner (k3s's, in spirit) and the two protection controllers do their parts:
 * - a claim is bound to the smallest Available volume of its class that has its access modes,
 *   size and selector (or to the volume it names), both sides written: the volume's claimRef and
 *   phase Bound, the claim's volumeName, status and the bind annotations;
 * - a claim of a class whose provisioner is `skiff.dev/local-path` gets a volume made for it: a
 *   `hostPath` folder (DirectoryOrCreate) under the data dir of the node the scheduler picked
 *   (`volume.kubernetes.io/selected-node`; the class binds WaitForFirstConsumer), held to that node
 *   by node affinity; the node's kubelet makes the folder when a pod mounts it, and removes it once
 *   its volume is gone;
 * - a volume whose claim is gone is Released, and deleted when its reclaim policy is Delete;
 * - `kubernetes.io/pvc-protection` holds a deleted claim while a running pod uses it, and
 *   `kubernetes.io/pv-protection` a deleted volume while it is Bound.
 * Keys: `pvc/<namespace>/<name>` and `pv/<name>`.
 */
import {
  type PersistentVolume,
  type PersistentVolumeClaim,
  type StorageClass,
  DEFAULT_CLASS_ANNOTATION,
  LOCAL_PATH_PROVISIONER,
  LOCAL_PATH_ROOT,
  PERSISTENT_VOLUMES,
  PERSISTENT_VOLUME_CLAIMS,
  PV_PROTECTION,
  PVC_PROTECTION,
  SELECTED_NODE,
  STORAGE_CLASSES,
} from '../api/kinds/storage.js';
import { isTerminal, typedList } from '../api/objects.js';
import { parseBytes } from '../api/quantity.js';
import type { Pod } from '../api/schemas/index.js';
import { ignore, ignoreNotFound, isAlreadyExists } from '../errors.js';
import { fromLabelSelector, matchLabels } from '../store/selectors.js';
import { type KubeObject, nowTimestamp, withoutFinalizer } from '../store/object.js';
import { allowedOn } from '../scheduler/static-filters.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import type { Controller } from './types.js';

const DEFAULT_LOCAL_PATH_ROOT = '/var/lib/skiff/storage';
const HOSTNAME = 'kubernetes.io/hostname';

const PVCS = PERSISTENT_VOLUME_CLAIMS.storeKey;
const PVS = PERSISTENT_VOLUMES.storeKey;

/** The claims a pod mounts. */
export const claimsOf = (pod: Pod): string[] => (pod.spec.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []));

/** The local-path StorageClass, the cluster's default, made at start when missing (k3s ships the same). */
export async function ensureLocalPathClass(store: Store): Promise<void> {
  await store
    .create(STORAGE_CLASSES.storeKey, {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'local-path', annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
      provisioner: LOCAL_PATH_PROVISIONER,
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'WaitForFirstConsumer',
    })
    .catch(ignore(isAlreadyExists));
}

export class PersistentVolumeController implements Controller {
  readonly name = 'persistentvolume';
  private readonly events: EventRecorder;

  constructor(private readonly store: Store) {
    this.events = new EventRecorder(store, 'persistentvolume-controller');
  }

  keysFor(event: ChangeEvent): string[] {
    const o = event.object;
    if (event.resource === PVCS) {
      // A claim that goes releases its volume.
      const volume = (o as PersistentVolumeClaim).spec?.volumeName;
      return [`pvc/${o.metadata.namespace}/${o.metadata.name}`, ...(event.type === 'DELETED' && volume ? [`pv/${volume}`] : [])];
    }
    if (event.resource === PVS) {
      const ref = (o as PersistentVolume).spec?.claimRef;
      return [`pv/${o.metadata.name}`, ...(ref?.name ? [`pvc/${ref.namespace}/${ref.name}`] : [])];
    }
    // A pod that stops using its claims may let a deleted claim go.
    if (event.resource === 'pods' && (event.type === 'DELETED' || isTerminal(o as Pod)))
      return claimsOf(o as Pod).map((c) => `pvc/${o.metadata.namespace}/${c}`);
    return [];
  }

  async allKeys(): Promise<string[]> {
    const [pvcs, pvs] = await Promise.all([this.store.list(PVCS), this.store.list(PVS)]);
    return [...pvcs.items.map((c) => `pvc/${c.metadata.namespace}/${c.metadata.name}`), ...pvs.items.map((v) => `pv/${v.metadata.name}`)];
  }

  async reconcile(key: string): Promise<void> {
    const [kind, ...rest] = key.split('/');
    if (kind === 'pv') return this.volume(rest[0]);
    return this.claim(rest[0], rest[1]);
  }

  private async claim(namespace: string, name: string): Promise<void> {
    const pvc = (await this.store.get(PVCS, namespace, name).catch(ignoreNotFound)) as PersistentVolumeClaim | undefined;
    if (!pvc) return;
    if (pvc.metadata.deletionTimestamp) return this.releaseClaim(pvc);
    if (pvc.status?.phase === 'Bound') return this.checkBound(pvc);
    const named = pvc.spec?.volumeName;
    if (named) {
      const pv = (await this.store.get(PVS, '', named).catch(ignoreNotFound)) as PersistentVolume | undefined;
      if (pv && (!pv.spec?.claimRef || pv.spec.claimRef.uid === pvc.metadata.uid || !pv.spec.claimRef.uid)) await this.bind(pv, pvc);
      return;
    }
    const className = pvc.spec?.storageClassName ?? '';
    const storageClass = className
      ? ((await this.store.get(STORAGE_CLASSES.storeKey, '', className).catch(ignoreNotFound)) as StorageClass | undefined)
      : undefined;
    const waits = storageClass?.volumeBindingMode === 'WaitForFirstConsumer';
    const nodeName = pvc.metadata.annotations?.[SELECTED_NODE];
    if (waits && !nodeName) {
      await this.events.record(pvc, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      return;
    }
    const node = nodeName ? await this.store.get('nodes', '', nodeName).catch(ignoreNotFound) : undefined;
    if (nodeName && !node) {
      await this.events.record(pvc, 'Warning', 'ProvisioningFailed', `node "${nodeName}" not found`);
      return;
    }
    const match = await this.findVolume(pvc, node);
    if (match) return this.bind(match, pvc);
    if (!className) return;
    if (!storageClass) {
      await this.events.record(pvc, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" not found`);
      return;
    }
    if (storageClass.provisioner !== LOCAL_PATH_PROVISIONER) {
      const message = `Waiting for a volume to be created either by the external provisioner '${storageClass.provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`;
      await this.events.record(pvc, 'Normal', 'ExternalProvisioning', message);
      return;
    }
    if (!node) {
      await this.events.record(
        pvc,
        'Warning',
        'ProvisioningFailed',
        'the local-path provisioner needs volumeBindingMode WaitForFirstConsumer: a claim it binds at once has no node',
      );
      return;
    }
    await this.bind(await this.provision(pvc, storageClass, node), pvc);
  }

  /** The smallest Available volume that fits the claim (and the selected node, if any). */
  private async findVolume(pvc: PersistentVolumeClaim, node: KubeObject | undefined): Promise<PersistentVolume | undefined> {
    const want = parseBytes(pvc.spec?.resources?.requests?.storage ?? 0);
    const modes = pvc.spec?.accessModes ?? [];
    const fits = ((await this.store.list(PVS)).items as PersistentVolume[]).filter((pv) => {
      const spec = pv.spec ?? {};
      if (pv.metadata.deletionTimestamp || pv.status?.phase !== 'Available' || spec.claimRef) return false;
      if ((spec.storageClassName ?? '') !== (pvc.spec?.storageClassName ?? '')) return false;
      if (!modes.every((m) => spec.accessModes?.includes(m))) return false;
      if (parseBytes(spec.capacity?.storage ?? 0) < want) return false;
      if (pvc.spec?.selector && !matchLabels(fromLabelSelector(pvc.spec.selector), pv.metadata.labels)) return false;
      return !node || allowedOn(spec.nodeAffinity?.required?.nodeSelectorTerms, node);
    });
    fits.sort((a, b) => parseBytes(a.spec?.capacity?.storage ?? 0) - parseBytes(b.spec?.capacity?.storage ?? 0));
    return fits[0];
  }

  private async provision(pvc: PersistentVolumeClaim, storageClass: StorageClass, nodeObject: KubeObject): Promise<PersistentVolume> {
    const { namespace, name, uid } = pvc.metadata;
    const node = nodeObject.metadata.name ?? '';
    const root = nodeObject.metadata.annotations?.[LOCAL_PATH_ROOT] ?? DEFAULT_LOCAL_PATH_ROOT;
    const pv: PersistentVolume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `pvc-${uid}`, annotations: { 'pv.kubernetes.io/provisioned-by': LOCAL_PATH_PROVISIONER }, finalizers: [PV_PROTECTION] },
      spec: {
        capacity: { storage: String(pvc.spec?.resources?.requests?.storage ?? '') },
        accessModes: pvc.spec?.accessModes,
        persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
        storageClassName: storageClass.metadata.name,
        volumeMode: 'Filesystem',
        hostPath: { path: `${root}/pvc-${uid}_${namespace}_${name}`, type: 'DirectoryOrCreate' },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME, operator: 'In', values: [node] }] }] } },
        claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace, name, uid },
      },
      status: { phase: 'Pending' },
    };
    const made = (await this.store.create(PVS, pv).catch((err) => {
      if (isAlreadyExists(err)) return this.store.get(PVS, '', pv.metadata.name!);
      throw err;
    })) as PersistentVolume;
    await this.events.record(pvc, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${made.metadata.name}`);
    return made;
  }

  /** Both sides of a binding, volume first (as the binder writes them). */
  private async bind(pv: PersistentVolume, pvc: PersistentVolumeClaim): Promise<void> {
    const { namespace = '', name = '', uid } = pvc.metadata;
    const volume = await guaranteedUpdate<PersistentVolume>(this.store, PVS, '', pv.metadata.name!, (v) => {
      const ref = v.spec?.claimRef;
      if (ref?.uid && ref.uid !== uid) return undefined;
      if (ref?.uid === uid && v.status?.phase === 'Bound') return undefined;
      return {
        ...v,
        spec: { ...v.spec, claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace, name, uid, resourceVersion: pvc.metadata.resourceVersion } },
        status: { phase: 'Bound', lastPhaseTransitionTime: nowTimestamp() },
      };
    }).catch(ignoreNotFound);
    if (!volume || volume.spec?.claimRef?.uid !== uid) return;
    await guaranteedUpdate<PersistentVolumeClaim>(this.store, PVCS, namespace, name, (c) => {
      if (c.metadata.uid !== uid || c.status?.phase === 'Bound') return undefined;
      const annotations = {
        ...c.metadata.annotations,
        'pv.kubernetes.io/bind-completed': 'yes',
        ...(c.spec?.volumeName ? {} : { 'pv.kubernetes.io/bound-by-controller': 'yes' }),
      };
      return {
        ...c,
        metadata: { ...c.metadata, annotations },
        spec: { ...c.spec, volumeName: volume.metadata.name },
        status: { phase: 'Bound', accessModes: volume.spec?.accessModes, capacity: volume.spec?.capacity },
      };
    }).catch(ignoreNotFound);
  }

  /** A bound claim whose volume went is Lost, as Kubernetes says. */
  private async checkBound(pvc: PersistentVolumeClaim): Promise<void> {
    const pv = (await this.store.get(PVS, '', pvc.spec?.volumeName ?? '').catch(ignoreNotFound)) as PersistentVolume | undefined;
    if (pv && pv.spec?.claimRef?.uid === pvc.metadata.uid) return;
    await guaranteedUpdate<PersistentVolumeClaim>(this.store, PVCS, pvc.metadata.namespace ?? '', pvc.metadata.name ?? '', (c) =>
      c.status?.phase === 'Bound' ? { ...c, status: { ...c.status, phase: 'Lost' } } : undefined,
    ).catch(ignoreNotFound);
    await this.events.record(pvc, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
  }

  /** A deleted claim goes once no pod that may still run uses it. */
  private async releaseClaim(pvc: PersistentVolumeClaim): Promise<void> {
    const { namespace = '', name = '' } = pvc.metadata;
    if (!(pvc.metadata.finalizers ?? []).includes(PVC_PROTECTION)) return;
    const pods = typedList('pods', (await this.store.list('pods', { namespace })).items);
    if (pods.some((p) => !isTerminal(p) && claimsOf(p).includes(name))) return;
    await guaranteedUpdate<PersistentVolumeClaim>(this.store, PVCS, namespace, name, (c) => withoutFinalizer(c, PVC_PROTECTION)).catch(ignoreNotFound);
  }

  private async volume(name: string): Promise<void> {
    const pv = (await this.store.get(PVS, '', name).catch(ignoreNotFound)) as PersistentVolume | undefined;
    if (!pv) return;
    const setPhase = (phase: string) =>
      guaranteedUpdate<PersistentVolume>(this.store, PVS, '', name, (v) =>
        v.status?.phase === phase ? undefined : { ...v, status: { ...v.status, phase } },
      ).catch(ignoreNotFound);
    const ref = pv.spec?.claimRef;
    if (pv.metadata.deletionTimestamp) {
      if (pv.status?.phase !== 'Bound' || !ref)
        await guaranteedUpdate<PersistentVolume>(this.store, PVS, '', name, (v) => withoutFinalizer(v, PV_PROTECTION)).catch(ignoreNotFound);
      else if (!(await this.claimExists(pv))) await setPhase('Released');
      return;
    }
    if (!ref) {
      await setPhase('Available');
      return;
    }
    if (await this.claimExists(pv)) return;
    // Its claim is gone: Released, and deleted when its policy says so.
    if (!ref.uid && pv.status?.phase !== 'Bound') return; // pre-bound to a claim not made yet
    await setPhase('Released');
    if (pv.spec?.persistentVolumeReclaimPolicy === 'Delete') await this.store.delete(PVS, '', name).catch(ignoreNotFound);
  }

  private async claimExists(pv: PersistentVolume): Promise<boolean> {
    const ref = pv.spec?.claimRef;
    const pvc = ref?.name ? await this.store.get(PVCS, ref.namespace ?? '', ref.name).catch(ignoreNotFound) : undefined;
    return Boolean(pvc && (!ref?.uid || pvc.metadata.uid === ref.uid));
  }
}

/**
 * Storage: storage.k8s.io/v1 StorageClass, v1 PersistentVolume and v1 PersistentVolumeClaim, as
 * kube-apiserver serves them: their defaults, checks and `kubectl get` columns; the protection
 * finalizers added at create (a claim in use, a volume bound, wait until they are not); a claim
 * without a class gets the default one (the DefaultStorageClass admission plugin). Binding and
 * provisioning are the persistent-volume controller's (shared/controllers/persistentvolume.ts).
 */
import { z } from 'zod';
import { ageColumn, nameColumn } from '../columns.js';
import { DRIVER_VOLUME_SOURCES, NodeSelectorTerm, ObjectReference, keptAsWritten } from '../schemas/index.js';
import { LabelSelector, loose, objectOf, quantity, stringMap } from '../schemas/common.js';
import { parseBytes } from '../quantity.js';
import type { KubeObject } from '../../store/object.js';
import type { StatusCause } from '../status.js';
import { asArray, asObj, forbiddenField, invalidValue, notSupported, required, sameJson } from '../validation.js';
import { oneSource } from '../volumes.js';
import { resource, type Kind } from './kind.js';

export const STORAGE_CLASSES = resource('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', { namespaced: false, shortNames: ['sc'] });
export const PERSISTENT_VOLUMES = resource('', 'v1', 'persistentvolumes', 'PersistentVolume', {
  namespaced: false,
  shortNames: ['pv'],
  subresources: ['status'],
});
export const PERSISTENT_VOLUME_CLAIMS = resource('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', {
  shortNames: ['pvc'],
  subresources: ['status'],
});

export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
export const PVC_PROTECTION = 'kubernetes.io/pvc-protection';
export const PV_PROTECTION = 'kubernetes.io/pv-protection';
export const LOCAL_PATH_PROVISIONER = 'skiff.dev/local-path';
/** Set by the scheduler on a WaitForFirstConsumer claim: the node its first pod goes to. */
export const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
/** Set by the kubelet on its Node: where local-path volumes go on it. */
export const LOCAL_PATH_ROOT = 'storage.skiff.dev/local-path-root';
const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];
const SHORT_MODES: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
const RECLAIM = ['Retain', 'Delete', 'Recycle'];
const BINDING_MODES = ['Immediate', 'WaitForFirstConsumer'];

export const StorageClass = objectOf('storage.k8s.io/v1', 'StorageClass', {
  provisioner: z.string(),
  parameters: stringMap.optional(),
  reclaimPolicy: z.string().optional(),
  mountOptions: z.array(z.string()).optional(),
  allowVolumeExpansion: z.boolean().optional(),
  volumeBindingMode: z.string().optional(),
  allowedTopologies: z.array(loose).optional(),
});
export type StorageClass = z.infer<typeof StorageClass>;

const VolumeSources = {
  hostPath: z.strictObject({ path: z.string(), type: z.string().optional() }).optional(),
  local: z.strictObject({ path: z.string(), fsType: z.string().optional() }).optional(),
  ...keptAsWritten(DRIVER_VOLUME_SOURCES),
};
const SOURCE_KEYS = ['hostPath', 'local', ...DRIVER_VOLUME_SOURCES];

export const PersistentVolume = objectOf('v1', 'PersistentVolume', {
  spec: z
    .strictObject({
      capacity: z.record(z.string(), quantity).optional(),
      accessModes: z.array(z.string()).optional(),
      claimRef: ObjectReference.optional(),
      persistentVolumeReclaimPolicy: z.string().optional(),
      storageClassName: z.string().optional(),
      mountOptions: z.array(z.string()).optional(),
      volumeMode: z.string().optional(),
      volumeAttributesClassName: z.string().optional(),
      nodeAffinity: z.strictObject({ required: z.strictObject({ nodeSelectorTerms: z.array(NodeSelectorTerm) }).optional() }).optional(),
      ...VolumeSources,
    })
    .optional(),
  status: z
    .strictObject({
      phase: z.string().optional(),
      message: z.string().optional(),
      reason: z.string().optional(),
      lastPhaseTransitionTime: z.string().optional(),
    })
    .optional(),
});
export type PersistentVolume = z.infer<typeof PersistentVolume>;

export const PersistentVolumeClaim = objectOf('v1', 'PersistentVolumeClaim', {
  spec: z
    .strictObject({
      accessModes: z.array(z.string()).optional(),
      selector: LabelSelector.optional(),
      resources: z.strictObject({ requests: z.record(z.string(), quantity).optional(), limits: z.record(z.string(), quantity).optional() }).optional(),
      volumeName: z.string().optional(),
      storageClassName: z.string().optional(),
      volumeMode: z.string().optional(),
      dataSource: loose.optional(),
      dataSourceRef: loose.optional(),
      volumeAttributesClassName: z.string().optional(),
    })
    .optional(),
  status: z
    .strictObject({
      phase: z.string().optional(),
      accessModes: z.array(z.string()).optional(),
      capacity: z.record(z.string(), quantity).optional(),
      conditions: z.array(loose).optional(),
      allocatedResources: z.record(z.string(), quantity).optional(),
    })
    .optional(),
});
export type PersistentVolumeClaim = z.infer<typeof PersistentVolumeClaim>;

const modesText = (modes: unknown) =>
  asArray(modes)
    .map((m) => SHORT_MODES[String(m)] ?? String(m))
    .join(',');
const isDefaultClass = (o: KubeObject) => o.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true';

function checkAccessModes(modes: unknown, field: string, causes: StatusCause[]): void {
  const list = asArray(modes);
  if (list.length === 0) causes.push(required(field));
  list.forEach((m, i) => {
    if (!ACCESS_MODES.includes(String(m))) causes.push(notSupported(`${field}[${i}]`, m, ACCESS_MODES));
  });
  if (list.includes('ReadWriteOncePod') && list.length > 1) causes.push(forbiddenField(field, 'may not use ReadWriteOncePod with other access modes'));
}

function checkStorage(value: unknown, field: string, causes: StatusCause[]): void {
  if (value === undefined) causes.push(required(field));
  else if (!(parseBytes(value as string) > 0)) causes.push(invalidValue(field, value, 'must be greater than zero'));
}

export const storageClass: Kind = {
  info: STORAGE_CLASSES,
  schema: StorageClass,
  columns: [
    { ...nameColumn, cell: (o) => `${o.metadata.name}${isDefaultClass(o) ? ' (default)' : ''}` },
    { name: 'Provisioner', type: 'string', cell: (o) => o.provisioner },
    { name: 'ReclaimPolicy', type: 'string', cell: (o) => o.reclaimPolicy },
    { name: 'VolumeBindingMode', type: 'string', cell: (o) => o.volumeBindingMode },
    { name: 'AllowVolumeExpansion', type: 'string', cell: (o) => String(o.allowVolumeExpansion === true) },
    ageColumn,
  ],
  defaults(o) {
    o.reclaimPolicy ??= 'Delete';
    o.volumeBindingMode ??= 'Immediate';
  },
  validate(o, causes) {
    if (typeof o.provisioner !== 'string' || !o.provisioner) causes.push(required('provisioner'));
    if (!['Retain', 'Delete'].includes(String(o.reclaimPolicy))) causes.push(notSupported('reclaimPolicy', o.reclaimPolicy, ['Delete', 'Retain']));
    if (!BINDING_MODES.includes(String(o.volumeBindingMode))) causes.push(notSupported('volumeBindingMode', o.volumeBindingMode, BINDING_MODES));
  },
  validateUpdate(o, old, causes) {
    for (const field of ['provisioner', 'parameters', 'reclaimPolicy', 'volumeBindingMode'])
      if (!sameJson(o[field], old[field])) causes.push(forbiddenField(field, `updates to ${field} are forbidden.`));
  },
};

export const persistentVolume: Kind = {
  info: PERSISTENT_VOLUMES,
  schema: PersistentVolume,
  columns: [
    nameColumn,
    { name: 'Capacity', type: 'string', cell: (o) => asObj(asObj(o.spec).capacity).storage ?? '' },
    { name: 'Access Modes', type: 'string', cell: (o) => modesText(asObj(o.spec).accessModes) },
    { name: 'Reclaim Policy', type: 'string', cell: (o) => asObj(o.spec).persistentVolumeReclaimPolicy },
    { name: 'Status', type: 'string', cell: (o) => asObj(o.status).phase ?? '' },
    {
      name: 'Claim',
      type: 'string',
      cell: (o) => {
        const ref = asObj(asObj(o.spec).claimRef);
        return ref.name ? `${ref.namespace}/${ref.name}` : '';
      },
    },
    { name: 'StorageClass', type: 'string', cell: (o) => asObj(o.spec).storageClassName ?? '' },
    { name: 'VolumeAttributesClass', type: 'string', cell: (o) => asObj(o.spec).volumeAttributesClassName ?? '<unset>' },
    { name: 'Reason', type: 'string', cell: (o) => asObj(o.status).reason ?? '' },
    ageColumn,
    { name: 'VolumeMode', type: 'string', priority: 1, cell: (o) => asObj(o.spec).volumeMode },
  ],
  initialStatus: () => ({ phase: 'Pending' }),
  defaults(o) {
    const spec = asObj(o.spec);
    spec.persistentVolumeReclaimPolicy ??= 'Retain';
    spec.volumeMode ??= 'Filesystem';
  },
  validate(o, causes) {
    const spec = asObj(o.spec);
    checkAccessModes(spec.accessModes, 'spec.accessModes', causes);
    checkStorage(asObj(spec.capacity).storage, 'spec.capacity', causes);
    if (!RECLAIM.includes(String(spec.persistentVolumeReclaimPolicy)))
      causes.push(notSupported('spec.persistentVolumeReclaimPolicy', spec.persistentVolumeReclaimPolicy, RECLAIM));
    oneSource(
      SOURCE_KEYS.filter((k) => spec[k] !== undefined),
      'spec',
      causes,
    );
    if (spec.local !== undefined && !asObj(spec.nodeAffinity).required)
      causes.push(required('spec.nodeAffinity', 'Required value: Local volume requires node affinity'));
  },
  validateUpdate(o, old, causes) {
    const now = asObj(o.spec);
    const was = asObj(old.spec);
    if (SOURCE_KEYS.some((k) => !sameJson(now[k], was[k])))
      causes.push(forbiddenField('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
  },
  admit(o) {
    o.metadata.finalizers = [...new Set([...(o.metadata.finalizers ?? []), PV_PROTECTION])];
  },
};

export const persistentVolumeClaim: Kind = {
  info: PERSISTENT_VOLUME_CLAIMS,
  schema: PersistentVolumeClaim,
  columns: [
    nameColumn,
    { name: 'Status', type: 'string', cell: (o) => asObj(o.status).phase ?? '' },
    { name: 'Volume', type: 'string', cell: (o) => asObj(o.spec).volumeName ?? '' },
    { name: 'Capacity', type: 'string', cell: (o) => asObj(asObj(o.status).capacity).storage ?? '' },
    { name: 'Access Modes', type: 'string', cell: (o) => modesText(asObj(o.status).accessModes) },
    { name: 'StorageClass', type: 'string', cell: (o) => asObj(o.spec).storageClassName ?? '' },
    { name: 'VolumeAttributesClass', type: 'string', cell: (o) => asObj(o.spec).volumeAttributesClassName ?? '<unset>' },
    ageColumn,
    { name: 'VolumeMode', type: 'string', priority: 1, cell: (o) => asObj(o.spec).volumeMode },
  ],
  initialStatus: () => ({ phase: 'Pending' }),
  defaults(o) {
    asObj(o.spec).volumeMode ??= 'Filesystem';
  },
  validate(o, causes) {
    const spec = asObj(o.spec);
    checkAccessModes(spec.accessModes, 'spec.accessModes', causes);
    checkStorage(asObj(asObj(spec.resources).requests).storage, 'spec.resources[storage]', causes);
  },
  validateUpdate(o, old, causes) {
    // What may change: the requested size (a resize), and a volume name not yet set.
    const strip = (s: unknown, keepName: boolean) => {
      const { resources: _r, volumeName, ...rest } = asObj(s);
      return keepName ? { ...rest, volumeName } : rest;
    };
    const was = asObj(old.spec);
    if (!sameJson(strip(o.spec, Boolean(was.volumeName)), strip(old.spec, Boolean(was.volumeName))))
      causes.push(forbiddenField('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  },
  async admit(o, { store }) {
    o.metadata.finalizers = [...new Set([...(o.metadata.finalizers ?? []), PVC_PROTECTION])];
    const spec = asObj(o.spec);
    if (spec.storageClassName !== undefined) return;
    const classes = (await store.list(STORAGE_CLASSES.storeKey)).items.filter(isDefaultClass);
    // The newest default, as the DefaultStorageClass plugin picks when there are several.
    classes.sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)));
    if (classes[0]) spec.storageClassName = classes[0].metadata.name;
  },
};

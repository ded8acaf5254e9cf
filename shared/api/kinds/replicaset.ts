/** apps/v1 ReplicaSet. */
import { ageColumn, type Column, nameColumn } from '../columns.js';
import { ReplicaSet } from '../schemas/index.js';
import { asObj, isObj } from '../validation.js';
import { resource, type Kind } from './kind.js';
import { defaultPodSpec, podTemplateSecurity, selectorImmutable, validateWorkloadSpec, workloadWideColumns } from './pod-spec.js';

/** Name, Desired, Current, Ready and Age: a ReplicaSet's columns, and a ReplicationController's. */
export const replicaColumns: Column[] = [
  nameColumn,
  { name: 'Desired', type: 'integer', cell: (o) => asObj(o.spec).replicas ?? 0 },
  { name: 'Current', type: 'integer', cell: (o) => asObj(o.status).replicas ?? 0 },
  { name: 'Ready', type: 'integer', cell: (o) => asObj(o.status).readyReplicas ?? 0 },
  ageColumn,
];

export const replicaSet: Kind = {
  info: resource('apps', 'v1', 'replicasets', 'ReplicaSet', { shortNames: ['rs'], categories: ['all'], subresources: ['status', 'scale'] }),
  schema: ReplicaSet,
  admit: podTemplateSecurity,
  columns: [...replicaColumns, ...workloadWideColumns],
  initialStatus: () => ({}),
  defaults(object) {
    if (!isObj(object.spec)) return;
    object.spec.replicas ??= 1;
    defaultPodSpec(asObj(object.spec.template).spec);
  },
  validate: (object, causes) => void validateWorkloadSpec(object, causes),
  validateUpdate: selectorImmutable,
};

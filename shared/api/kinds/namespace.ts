/** core/v1 Namespace. */
import { ageColumn, nameColumn } from '../columns.js';
import { Namespace } from '../schemas/index.js';
import { asObj } from '../validation.js';
import { resource, type Kind } from './kind.js';

/** Namespaces the cluster makes at start and never lets go. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
/** Finalizer that holds a terminating namespace until the namespace controller has emptied it. */
export const NAMESPACE_FINALIZER = 'kubernetes';

export const namespace: Kind = {
  info: resource('', 'v1', 'namespaces', 'Namespace', {
    namespaced: false,
    shortNames: ['ns'],
    subresources: ['status', 'finalize'],
    fieldSelectors: ['status.phase'],
  }),
  schema: Namespace,
  nameRule: 'dns1123-label',
  columns: [nameColumn, { name: 'Status', type: 'string', cell: (o) => asObj(o.status).phase ?? 'Active' }, ageColumn],
  initialStatus: () => ({ phase: 'Active' }),
  defaults(object) {
    object.spec = { finalizers: [NAMESPACE_FINALIZER], ...asObj(object.spec) };
  },
  deletion: {
    finalizers: [NAMESPACE_FINALIZER],
    refuse: (object) => (SYSTEM_NAMESPACES.includes(object.metadata.name ?? '') ? 'this namespace may not be deleted' : undefined),
    marked: (object) => ({ ...object, status: { ...asObj(object.status), phase: 'Terminating' } }),
  },
};

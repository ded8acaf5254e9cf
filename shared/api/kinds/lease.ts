/** coordination.k8s.io/v1 Lease: what kubelets renew to say their node is alive. */
import { ageColumn, nameColumn } from '../columns.js';
import { Lease } from '../schemas/index.js';
import { asObj } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const lease: Kind = {
  info: resource('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  schema: Lease,
  columns: [nameColumn, { name: 'Holder', type: 'string', cell: (o) => asObj(o.spec).holderIdentity ?? '' }, ageColumn],
};

/** core/v1 ServiceAccount: an identity for processes in pods, `system:serviceaccount:<namespace>:<name>`. */
import { z } from 'zod';
import { ageColumn, nameColumn } from '../columns.js';
import { ObjectReference } from '../schemas/cluster.js';
import { objectOf } from '../schemas/common.js';
import { resource, type Kind } from './kind.js';

export const ServiceAccount = objectOf('v1', 'ServiceAccount', {
  secrets: z.array(ObjectReference).optional(),
  imagePullSecrets: z.array(z.strictObject({ name: z.string().optional() })).optional(),
  automountServiceAccountToken: z.boolean().optional(),
});
export type ServiceAccount = z.infer<typeof ServiceAccount>;

export const serviceAccount: Kind = {
  info: resource('', 'v1', 'serviceaccounts', 'ServiceAccount', { shortNames: ['sa'], subresources: ['token'] }),
  schema: ServiceAccount,
  columns: [nameColumn, { name: 'Secrets', type: 'integer', cell: (o) => (o as ServiceAccount).secrets?.length ?? 0 }, ageColumn],
};

/**
 * skiff.dev/v1 Migration: moving the cluster's nodes to another cloud provider by swapping
 * adapters, as a declarative object. `spec.to` names the provider the workloads move to; the
 * migration controller (shared/controllers/migration.ts) cordons the other nodes, moves their
 * pods a few at a time without taking any workload below its replicas, removes the emptied
 * nodes, and keeps its progress in `status`. `skiff migrate --to <provider>` makes one and
 * `skiff migrate --status` shows it.
 */
import { z } from 'zod';
import { ageColumn, nameColumn } from '../columns.js';
import { int32, objectOf, timestamp } from '../schemas/common.js';
import { asObj, invalidValue, required, sameJson } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const MIGRATION_PHASES = ['Pending', 'Migrating', 'Complete', 'Failed'] as const;

export const Migration = objectOf('skiff.dev/v1', 'Migration', {
  spec: z.strictObject({
    /** The provider the nodes move to: `aws-ec2`, `aws-ecs`, `local`, `sim`. */
    to: z.string(),
  }),
  status: z
    .strictObject({
      phase: z.enum(MIGRATION_PHASES).optional(),
      /** Nodes of other providers when it started, and how many are left. */
      nodesTotal: int32.optional(),
      nodesLeft: int32.optional(),
      /** The nodes still to move. */
      nodes: z.array(z.string()).optional(),
      /** Pods moved so far. */
      podsMoved: int32.optional(),
      startedAt: timestamp.optional(),
      completedAt: timestamp.optional(),
      message: z.string().optional(),
    })
    .optional(),
});
export type Migration = z.infer<typeof Migration>;

export const migration: Kind = {
  info: resource('skiff.dev', 'v1', 'migrations', 'Migration', { namespaced: false, subresources: ['status'] }),
  schema: Migration,
  columns: [
    nameColumn,
    { name: 'To', type: 'string', cell: (o) => asObj(o.spec).to ?? '' },
    { name: 'Phase', type: 'string', cell: (o) => asObj(o.status).phase ?? 'Pending' },
    {
      name: 'Nodes-Moved',
      type: 'string',
      cell: (o) => {
        const { nodesTotal: total, nodesLeft: left } = asObj(o.status);
        return typeof total === 'number' ? `${total - (typeof left === 'number' ? left : 0)}/${total}` : '';
      },
    },
    ageColumn,
  ],
  initialStatus: () => ({ phase: 'Pending' }),
  validate(object, causes) {
    const to = asObj(object.spec).to;
    if (typeof to !== 'string' || !to) causes.push(required('spec.to'));
    else if (!/^[a-z0-9-]+$/.test(to)) causes.push(invalidValue('spec.to', to, 'must name a provider: lower-case letters, digits and dashes'));
  },
  validateUpdate(object, old, causes) {
    if (!sameJson(asObj(object.spec).to, asObj(old.spec).to)) causes.push(invalidValue('spec.to', asObj(object.spec).to, 'field is immutable'));
  },
};

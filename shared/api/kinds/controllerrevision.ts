/**
 * apps/v1 ControllerRevision: a StatefulSet's or DaemonSet's pod template at one revision, kept
 * by its controller (`shared/controllers/revisions.ts`) as Kubernetes keeps it: `data` is the
 * strategic merge patch that puts that template back (what `kubectl rollout undo` sends),
 * `revision` its number. What `kubectl rollout history` lists.
 */
import { z } from 'zod';
import { ageColumn, nameColumn } from '../columns.js';
import { int64, objectOf } from '../schemas/common.js';
import { forbiddenField, required, sameJson } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const CONTROLLER_REVISIONS = resource('apps', 'v1', 'controllerrevisions', 'ControllerRevision');

export const ControllerRevision = objectOf('apps/v1', 'ControllerRevision', {
  data: z.unknown().optional(),
  revision: int64.optional(),
});
export type ControllerRevision = z.infer<typeof ControllerRevision>;

export const controllerRevision: Kind = {
  info: CONTROLLER_REVISIONS,
  schema: ControllerRevision,
  columns: [
    nameColumn,
    {
      name: 'Controller',
      type: 'string',
      cell: (o) => {
        const owner = (o.metadata.ownerReferences ?? []).find((r) => r.controller);
        if (!owner) return '<none>';
        const group = owner.apiVersion.includes('/') ? owner.apiVersion.slice(0, owner.apiVersion.indexOf('/')) : '';
        return `${owner.kind.toLowerCase()}${group ? `.${group}` : ''}/${owner.name}`;
      },
    },
    { name: 'Revision', type: 'integer', cell: (o) => o.revision },
    ageColumn,
  ],
  validate(o, causes) {
    if (typeof o.revision !== 'number') causes.push(required('revision'));
  },
  validateUpdate(o, old, causes) {
    if (!sameJson(o.data, old.data)) causes.push(forbiddenField('data', 'field is immutable'));
  },
};

/**
 * scheduling.k8s.io/v1 PriorityClass: a name for a pod priority. Stored, listed and validated
 * here; a new pod gets its class's priority at admission (`../priority.ts`) and the scheduler
 * places pending pods highest priority first. It does not preempt yet.
 */
import { z } from 'zod';
import { ageColumn, nameColumn } from '../columns.js';
import { int32, objectOf } from '../schemas/common.js';
import { forbiddenField, invalidValue, required, sameJson } from '../validation.js';
import { resource, type Kind } from './kind.js';

const PREEMPTION_POLICIES = ['PreemptLowerPriority', 'Never'] as const;
/** Above this, values are kept for the system's own classes (kube's HighestUserDefinablePriority). */
const HIGHEST_USER_PRIORITY = 1_000_000_000;

export const PriorityClass = objectOf('scheduling.k8s.io/v1', 'PriorityClass', {
  value: int32.optional(),
  globalDefault: z.boolean().optional(),
  description: z.string().optional(),
  preemptionPolicy: z.enum(PREEMPTION_POLICIES).optional(),
});
export type PriorityClass = z.infer<typeof PriorityClass>;

export const priorityClass: Kind = {
  info: resource('scheduling.k8s.io', 'v1', 'priorityclasses', 'PriorityClass', { namespaced: false, shortNames: ['pc'] }),
  schema: PriorityClass,
  columns: [
    nameColumn,
    { name: 'Value', type: 'integer', cell: (o) => o.value ?? 0 },
    { name: 'Global-Default', type: 'string', cell: (o) => String(o.globalDefault === true) },
    ageColumn,
    { name: 'PreemptionPolicy', type: 'string', priority: 1, cell: (o) => o.preemptionPolicy ?? 'PreemptLowerPriority' },
  ],
  defaults(object) {
    object.preemptionPolicy ??= 'PreemptLowerPriority';
  },
  validate(object, causes) {
    if (typeof object.value !== 'number') causes.push(required('value'));
    else if (object.value > HIGHEST_USER_PRIORITY) causes.push(invalidValue('value', object.value, `must be no greater than ${HIGHEST_USER_PRIORITY}`));
    if (object.metadata.name?.startsWith('system-'))
      causes.push(invalidValue('metadata.name', object.metadata.name, "priority class names with 'system-' prefix are reserved"));
  },
  validateUpdate(object, old, causes) {
    if (!sameJson(object.value, old.value)) causes.push(forbiddenField('value', 'may not be changed in an update.'));
    if (!sameJson(object.preemptionPolicy, old.preemptionPolicy)) causes.push(invalidValue('preemptionPolicy', object.preemptionPolicy, 'field is immutable'));
  },
};

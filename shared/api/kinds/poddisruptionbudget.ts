/**
 * policy/v1 PodDisruptionBudget: how many of a set of pods must stay up while they are evicted
 * (`kubectl drain`, the provisioner's consolidation, a migration). The disruption controller
 * (shared/controllers/disruption.ts) keeps its status, and the Eviction subresource
 * (shared/api/eviction.ts) refuses an eviction the status does not allow, with 429.
 */
import { z } from 'zod';
import { ageColumn, nameColumn } from '../columns.js';
import { Condition, int32, int64, intOrString, LabelSelector, objectOf, timestamp } from '../schemas/common.js';
import { asObj, invalidValue, isObj, notSupported } from '../validation.js';
import { resource, type Kind } from './kind.js';

const EVICTION_POLICIES = ['IfHealthyBudget', 'AlwaysAllow'];

export const PodDisruptionBudget = objectOf('policy/v1', 'PodDisruptionBudget', {
  spec: z
    .strictObject({
      minAvailable: intOrString.optional(),
      maxUnavailable: intOrString.optional(),
      selector: LabelSelector.nullable().optional(),
      unhealthyPodEvictionPolicy: z.string().optional(),
    })
    .optional(),
  status: z
    .strictObject({
      observedGeneration: int64.optional(),
      disruptedPods: z.record(z.string(), timestamp).optional(),
      disruptionsAllowed: int32.optional(),
      currentHealthy: int32.optional(),
      desiredHealthy: int32.optional(),
      expectedPods: int32.optional(),
      conditions: z.array(Condition).optional(),
    })
    .optional(),
});

/** An int-or-percent field of the spec: a count at least 0, or a percentage of at most 100. */
function checkIntOrPercent(value: unknown, field: string): ReturnType<typeof invalidValue> | undefined {
  if (typeof value === 'number') return value < 0 ? invalidValue(field, value, 'must be greater than or equal to 0') : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+)%$/.exec(value);
  if (!m)
    return invalidValue(
      field,
      value,
      "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
    );
  return Number(m[1]) > 100 ? invalidValue(field, value, 'must not be greater than 100%') : undefined;
}

const orNA = (v: unknown) => (v === undefined || v === null ? 'N/A' : String(v));

export const podDisruptionBudget: Kind = {
  info: resource('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', { shortNames: ['pdb'], subresources: ['status'] }),
  schema: PodDisruptionBudget,
  columns: [
    nameColumn,
    { name: 'Min Available', type: 'string', cell: (o) => orNA(asObj(o.spec).minAvailable) },
    { name: 'Max Unavailable', type: 'string', cell: (o) => orNA(asObj(o.spec).maxUnavailable) },
    { name: 'Allowed Disruptions', type: 'integer', cell: (o) => Number(asObj(o.status).disruptionsAllowed ?? 0) },
    ageColumn,
  ],
  initialStatus: () => ({ disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 }),
  validate(object, causes) {
    const spec = asObj(object.spec);
    if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined)
      causes.push(invalidValue('spec', object.spec, 'minAvailable and maxUnavailable cannot be both set'));
    for (const field of ['minAvailable', 'maxUnavailable'] as const) {
      const cause = checkIntOrPercent(spec[field], `spec.${field}`);
      if (cause) causes.push(cause);
    }
    if (spec.unhealthyPodEvictionPolicy !== undefined && !EVICTION_POLICIES.includes(String(spec.unhealthyPodEvictionPolicy)))
      causes.push(notSupported('spec.unhealthyPodEvictionPolicy', spec.unhealthyPodEvictionPolicy, EVICTION_POLICIES));
    for (const [k, e] of (isObj(spec.selector) ? ((spec.selector.matchExpressions as unknown[]) ?? []) : []).entries()) {
      const op = asObj(e).operator;
      if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(String(op)))
        causes.push(notSupported(`spec.selector.matchExpressions[${k}].operator`, op, ['In', 'NotIn', 'Exists', 'DoesNotExist']));
    }
  },
};

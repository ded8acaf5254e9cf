/**
 * v1 ResourceQuota and v1 LimitRange, as kube-apiserver serves them: their checks and
 * `kubectl get` columns. What they do happens at admission (`shared/api/quota.ts`: a LimitRange
 * fills in and bounds containers' resources, a quota refuses what would pass its hard limits)
 * and in the resource-quota controller, which keeps each quota's `status.used`.
 */
import { z } from 'zod';
import type { KubeObject } from '../../store/object.js';
import { ageColumn, nameColumn } from '../columns.js';
import { parseQuantity } from '../quantity.js';
import { objectOf, quantity } from '../schemas/common.js';
import type { StatusCause } from '../status.js';
import { asArray, asObj, invalidValue, notSupported } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const RESOURCE_QUOTAS = resource('', 'v1', 'resourcequotas', 'ResourceQuota', { shortNames: ['quota'], subresources: ['status'] });
export const LIMIT_RANGES = resource('', 'v1', 'limitranges', 'LimitRange', { shortNames: ['limits'] });

const ResourceList = z.record(z.string(), quantity);
const SCOPES = ['Terminating', 'NotTerminating', 'BestEffort', 'NotBestEffort', 'PriorityClass', 'CrossNamespacePodAffinity'];
const LIMIT_TYPES = ['Container', 'Pod', 'PersistentVolumeClaim'];

export const ResourceQuota = objectOf('v1', 'ResourceQuota', {
  spec: z
    .strictObject({
      hard: ResourceList.optional(),
      scopes: z.array(z.string()).optional(),
      scopeSelector: z
        .strictObject({
          matchExpressions: z.array(z.strictObject({ scopeName: z.string(), operator: z.string(), values: z.array(z.string()).optional() })).optional(),
        })
        .optional(),
    })
    .optional(),
  status: z.strictObject({ hard: ResourceList.optional(), used: ResourceList.optional() }).optional(),
});
export type ResourceQuota = z.infer<typeof ResourceQuota>;

export const LimitRangeItem = z.strictObject({
  type: z.string(),
  max: ResourceList.optional(),
  min: ResourceList.optional(),
  default: ResourceList.optional(),
  defaultRequest: ResourceList.optional(),
  maxLimitRequestRatio: ResourceList.optional(),
});
export const LimitRange = objectOf('v1', 'LimitRange', { spec: z.strictObject({ limits: z.array(LimitRangeItem) }).optional() });
export type LimitRange = z.infer<typeof LimitRange>;

/** `res: used/hard, ...` of the resources `pick` chooses, as kubectl's quota columns show them. */
function usage(o: KubeObject, pick: (resource: string) => boolean): string {
  const hard = asObj(asObj(o.status).hard);
  const used = asObj(asObj(o.status).used);
  return Object.keys(hard)
    .filter(pick)
    .sort()
    .map((r) => `${r}: ${used[r] ?? 0}/${hard[r]}`)
    .join(', ');
}

function checkQuantities(list: unknown, field: string, causes: StatusCause[]): void {
  for (const [name, value] of Object.entries(asObj(list))) {
    try {
      if (parseQuantity(value as string) < 0) causes.push(invalidValue(`${field}[${name}]`, value, 'must be greater than or equal to 0'));
    } catch (err) {
      causes.push(invalidValue(`${field}[${name}]`, value, (err as Error).message));
    }
  }
}

export const resourceQuota: Kind = {
  info: RESOURCE_QUOTAS,
  schema: ResourceQuota,
  columns: [
    nameColumn,
    ageColumn,
    { name: 'Request', type: 'string', cell: (o) => usage(o, (r) => !r.startsWith('limits.')) },
    { name: 'Limit', type: 'string', cell: (o) => usage(o, (r) => r.startsWith('limits.')) },
  ],
  initialStatus: () => undefined,
  validate(o, causes) {
    const spec = asObj(o.spec);
    checkQuantities(spec.hard, 'spec.hard', causes);
    asArray(spec.scopes).forEach((s, i) => {
      if (!SCOPES.includes(String(s))) causes.push(notSupported(`spec.scopes[${i}]`, s, SCOPES));
    });
  },
};

export const limitRange: Kind = {
  info: LIMIT_RANGES,
  schema: LimitRange,
  columns: [nameColumn, { name: 'Created At', type: 'date', cell: (o) => o.metadata.creationTimestamp }],
  /** Kubernetes' defaults of a Container item: the default limit from max, the default request from the default limit, else from min. */
  defaults(o) {
    for (const raw of asArray(asObj(o.spec).limits)) {
      const item = asObj(raw);
      if (item.type !== 'Container') continue;
      const fill = (into: string, from: string) => {
        const target = asObj((item[into] ??= {}));
        for (const [k, v] of Object.entries(asObj(item[from]))) target[k] ??= v;
      };
      fill('default', 'max');
      fill('defaultRequest', 'default');
      fill('defaultRequest', 'min');
    }
  },
  validate(o, causes) {
    asArray(asObj(o.spec).limits).forEach((raw, i) => {
      const item = asObj(raw);
      if (!LIMIT_TYPES.includes(String(item.type))) causes.push(notSupported(`spec.limits[${i}].type`, item.type, LIMIT_TYPES));
      for (const key of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) checkQuantities(item[key], `spec.limits[${i}].${key}`, causes);
      const { min, max } = { min: asObj(item.min), max: asObj(item.max) };
      for (const [name, low] of Object.entries(min))
        if (max[name] !== undefined && parseQuantity(String(low)) > parseQuantity(String(max[name])))
          causes.push(invalidValue(`spec.limits[${i}].min[${name}]`, low, `min value ${low} is greater than max value ${max[name]}`));
    });
  },
};

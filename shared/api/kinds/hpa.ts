/**
 * autoscaling/v1 HorizontalPodAutoscaler (what `kubectl autoscale` makes): a workload's replicas
 * between `minReplicas` and `maxReplicas`, held where its pods' CPU use is
 * `targetCPUUtilizationPercentage` of what they request. Kubernetes' checks and columns; the
 * controller is shared/controllers/hpa.ts.
 */
import { z } from 'zod';
import type { KubeObject } from '../../store/object.js';
import { ageColumn, nameColumn } from '../columns.js';
import { int32, objectOf, timestamp } from '../schemas/common.js';
import { asObj, invalidValue, required } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const HPAS = resource('autoscaling', 'v1', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', {
  shortNames: ['hpa'],
  categories: ['all'],
  subresources: ['status'],
});

export const HorizontalPodAutoscaler = objectOf('autoscaling/v1', 'HorizontalPodAutoscaler', {
  spec: z.strictObject({
    scaleTargetRef: z.strictObject({ kind: z.string(), name: z.string(), apiVersion: z.string().optional() }),
    minReplicas: int32.optional(),
    maxReplicas: int32,
    targetCPUUtilizationPercentage: int32.optional(),
  }),
  status: z
    .strictObject({
      observedGeneration: z.number().optional(),
      lastScaleTime: timestamp.optional(),
      currentReplicas: int32.optional(),
      desiredReplicas: int32.optional(),
      currentCPUUtilizationPercentage: int32.optional(),
    })
    .optional(),
});
export type HorizontalPodAutoscaler = z.infer<typeof HorizontalPodAutoscaler>;

const spec = (o: KubeObject) => asObj(o.spec);

export const horizontalPodAutoscaler: Kind = {
  info: HPAS,
  schema: HorizontalPodAutoscaler,
  columns: [
    nameColumn,
    {
      name: 'Reference',
      type: 'string',
      cell: (o) => `${asObj(spec(o).scaleTargetRef).kind}/${asObj(spec(o).scaleTargetRef).name}`,
    },
    {
      name: 'Targets',
      type: 'string',
      cell: (o) => {
        const current = asObj(o.status).currentCPUUtilizationPercentage;
        return `cpu: ${current === undefined ? '<unknown>' : `${current}%`}/${spec(o).targetCPUUtilizationPercentage ?? 80}%`;
      },
    },
    { name: 'MinPods', type: 'integer', cell: (o) => spec(o).minReplicas ?? 1 },
    { name: 'MaxPods', type: 'integer', cell: (o) => spec(o).maxReplicas },
    { name: 'Replicas', type: 'integer', cell: (o) => asObj(o.status).currentReplicas ?? 0 },
    ageColumn,
  ],
  initialStatus: () => ({ currentReplicas: 0, desiredReplicas: 0 }),
  defaults(o) {
    spec(o).minReplicas ??= 1;
  },
  validate(o, causes) {
    const s = spec(o);
    const ref = asObj(s.scaleTargetRef);
    if (!ref.kind) causes.push(required('spec.scaleTargetRef.kind'));
    if (!ref.name) causes.push(required('spec.scaleTargetRef.name'));
    const min = s.minReplicas as number;
    const max = s.maxReplicas as number;
    if (typeof min === 'number' && min < 1) causes.push(invalidValue('spec.minReplicas', min, 'must be greater than or equal to 1'));
    if (typeof max === 'number' && typeof min === 'number' && max < min)
      causes.push(invalidValue('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
    const target = s.targetCPUUtilizationPercentage;
    if (typeof target === 'number' && target < 1)
      causes.push(invalidValue('spec.targetCPUUtilizationPercentage', target, 'must be greater than or equal to 1'));
  },
};

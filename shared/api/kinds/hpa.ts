/**
 * HorizontalPodAutoscaler in autoscaling/v2 (metrics, behavior, conditions: what Helm charts
 * write) and autoscaling/v1 (what `kubectl autoscale` makes: one CPU target), one object stored
 * as v2 and served in both, converted as kube-apiserver converts them: v1's CPU target is v2's
 * cpu Utilization metric, and what v1 has no field for rides in its annotations
 * (`autoscaling.alpha.kubernetes.io/...`) so a v1 client's update keeps it. Kubernetes' checks,
 * defaults and columns; the controller is shared/controllers/hpa.ts.
 */
import { z } from 'zod';
import type { KubeObject } from '../../store/object.js';
import { ageColumn, nameColumn } from '../columns.js';
import { Condition, int32, LabelSelector, objectOf, quantity, timestamp } from '../schemas/common.js';
import type { StatusCause } from '../status.js';
import { asArray, asObj, invalidValue, notSupported, required } from '../validation.js';
import { resource, type Kind } from './kind.js';

const names = { shortNames: ['hpa'], categories: ['all'], subresources: ['status'] };
export const HPAS = resource('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', names);
export const HPAS_V1 = resource('autoscaling', 'v1', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', names);

const Ref = z.strictObject({ kind: z.string(), name: z.string(), apiVersion: z.string().optional() });
const Target = z.strictObject({ type: z.string(), value: quantity.optional(), averageValue: quantity.optional(), averageUtilization: int32.optional() });
const Current = z.strictObject({ value: quantity.optional(), averageValue: quantity.optional(), averageUtilization: int32.optional() });
const MetricId = z.strictObject({ name: z.string(), selector: LabelSelector.optional() });
const Policy = z.strictObject({ type: z.string(), value: int32, periodSeconds: int32 });
const Rules = z.strictObject({
  stabilizationWindowSeconds: int32.optional(),
  selectPolicy: z.string().optional(),
  policies: z.array(Policy).optional(),
  tolerance: quantity.optional(),
});

const metricOf = <T extends z.ZodType>(target: T) =>
  z.strictObject({
    type: z.string(),
    resource: z.strictObject({ name: z.string(), target }).optional(),
    containerResource: z.strictObject({ name: z.string(), container: z.string(), target }).optional(),
    pods: z.strictObject({ metric: MetricId, target }).optional(),
    object: z.strictObject({ describedObject: Ref, metric: MetricId, target }).optional(),
    external: z.strictObject({ metric: MetricId, target }).optional(),
  });
const currentMetricOf = () =>
  z.strictObject({
    type: z.string(),
    resource: z.strictObject({ name: z.string(), current: Current }).optional(),
    containerResource: z.strictObject({ name: z.string(), container: z.string(), current: Current }).optional(),
    pods: z.strictObject({ metric: MetricId, current: Current }).optional(),
    object: z.strictObject({ describedObject: Ref, metric: MetricId, current: Current }).optional(),
    external: z.strictObject({ metric: MetricId, current: Current }).optional(),
  });

/** What both versions' status says alike. */
const statusFields = {
  observedGeneration: z.number().optional(),
  lastScaleTime: timestamp.optional(),
  currentReplicas: int32.optional(),
  desiredReplicas: int32.optional(),
};

export const HorizontalPodAutoscaler = objectOf('autoscaling/v2', 'HorizontalPodAutoscaler', {
  spec: z.strictObject({
    scaleTargetRef: Ref,
    minReplicas: int32.optional(),
    maxReplicas: int32,
    metrics: z.array(metricOf(Target)).optional(),
    behavior: z.strictObject({ scaleUp: Rules.optional(), scaleDown: Rules.optional() }).optional(),
  }),
  status: z
    .strictObject({
      ...statusFields,
      currentMetrics: z.array(currentMetricOf()).nullable().optional(),
      conditions: z.array(Condition).optional(),
    })
    .optional(),
});
export type HorizontalPodAutoscaler = z.infer<typeof HorizontalPodAutoscaler>;
export type Metric = NonNullable<HorizontalPodAutoscaler['spec']['metrics']>[number];
export type ScalingRules = z.infer<typeof Rules>;

export const HorizontalPodAutoscalerV1 = objectOf('autoscaling/v1', 'HorizontalPodAutoscaler', {
  spec: z.strictObject({ scaleTargetRef: Ref, minReplicas: int32.optional(), maxReplicas: int32, targetCPUUtilizationPercentage: int32.optional() }),
  status: z.strictObject({ ...statusFields, currentCPUUtilizationPercentage: int32.optional() }).optional(),
});

/** Where v1 keeps what only v2 has, as kube-apiserver's conversion does. */
const ANNOTATION = {
  metrics: 'autoscaling.alpha.kubernetes.io/metrics',
  behavior: 'autoscaling.alpha.kubernetes.io/behavior',
  conditions: 'autoscaling.alpha.kubernetes.io/conditions',
  currentMetrics: 'autoscaling.alpha.kubernetes.io/current-metrics',
};

const isCpuUtilization = (m: Metric) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target.type === 'Utilization';

type Obj = Record<string, unknown>;

/** A v1 object as v2 (a stored v1 object, from before v2 was served, reads the same way). */
export function toV2(object: KubeObject): KubeObject {
  if (object.apiVersion !== 'autoscaling/v1') return object;
  const spec = asObj(object.spec);
  const status = asObj(object.status);
  const annotations = { ...(object.metadata.annotations ?? {}) };
  const take = (key: string): unknown => {
    const text = annotations[key];
    delete annotations[key];
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  const others = asArray(take(ANNOTATION.metrics)) as Metric[];
  const behavior = take(ANNOTATION.behavior);
  const conditions = take(ANNOTATION.conditions);
  const currentOthers = asArray(take(ANNOTATION.currentMetrics));
  const target = spec.targetCPUUtilizationPercentage as number | undefined;
  const cpu: Metric[] =
    target === undefined ? [] : [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: target } } }];
  const current = status.currentCPUUtilizationPercentage as number | undefined;
  const currentCpu = current === undefined ? [] : [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: current } } }];
  const { targetCPUUtilizationPercentage: _t, ...restSpec } = spec;
  const { currentCPUUtilizationPercentage: _c, ...restStatus } = status;
  const metrics = [...cpu, ...others];
  const currentMetrics = [...currentCpu, ...currentOthers];
  return {
    ...object,
    apiVersion: 'autoscaling/v2',
    metadata: { ...object.metadata, annotations: Object.keys(annotations).length ? annotations : undefined },
    spec: { ...restSpec, ...(metrics.length ? { metrics } : {}), ...(behavior ? { behavior } : {}) },
    ...(object.status === undefined
      ? {}
      : { status: { ...restStatus, ...(currentMetrics.length ? { currentMetrics } : {}), ...(conditions ? { conditions } : {}) } }),
  };
}

/** A v2 object as v1: the CPU Utilization target in its field, the rest in annotations. */
export function toV1(object: KubeObject): KubeObject {
  if (object.apiVersion === 'autoscaling/v1') return object;
  const { metrics = [], behavior, ...spec } = asObj(object.spec) as HorizontalPodAutoscaler['spec'];
  const { currentMetrics, conditions, ...status } = asObj(object.status) as NonNullable<HorizontalPodAutoscaler['status']>;
  const cpu = metrics.find(isCpuUtilization);
  const others = metrics.filter((m) => m !== cpu);
  const currentCpu = (currentMetrics ?? []).find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
  const currentOthers = (currentMetrics ?? []).filter((m) => m !== currentCpu);
  const annotations: Record<string, string> = { ...(object.metadata.annotations ?? {}) };
  if (others.length) annotations[ANNOTATION.metrics] = JSON.stringify(others);
  if (behavior) annotations[ANNOTATION.behavior] = JSON.stringify(behavior);
  if (conditions?.length) annotations[ANNOTATION.conditions] = JSON.stringify(conditions);
  if (currentOthers.length) annotations[ANNOTATION.currentMetrics] = JSON.stringify(currentOthers);
  const cpuNow = currentCpu?.resource?.current.averageUtilization;
  return {
    ...object,
    apiVersion: 'autoscaling/v1',
    metadata: { ...object.metadata, annotations: Object.keys(annotations).length ? annotations : undefined },
    spec: { ...spec, ...(cpu ? { targetCPUUtilizationPercentage: cpu.resource?.target.averageUtilization } : {}) } as Obj,
    ...(object.status === undefined ? {} : { status: { ...status, ...(cpuNow === undefined ? {} : { currentCPUUtilizationPercentage: cpuNow }) } }),
  };
}

const spec = (o: KubeObject) => asObj(o.spec);
const ref = (o: KubeObject) => asObj(spec(o).scaleTargetRef);

/** `cpu: 40%/80%, memory: <unknown>/500Mi`, as kubectl's printer writes the targets. */
function targets(o: KubeObject): string {
  const metrics = asArray(spec(o).metrics) as Metric[];
  const current = asArray(asObj(o.status).currentMetrics) as { type: string; resource?: { name: string; current: Obj } }[];
  if (metrics.length === 0) return '<none>';
  const shown = metrics.slice(0, 2).map((m) => {
    if (m.type !== 'Resource' && m.type !== 'ContainerResource') return `${m.type.toLowerCase()}: <unknown>`;
    const r = (m.resource ?? m.containerResource)!;
    const now = current.find((c) => c.resource?.name === r.name)?.resource?.current ?? {};
    if (r.target.type === 'Utilization') {
      const value = now.averageUtilization;
      return `${r.name}: ${value === undefined ? '<unknown>' : `${value}%`}/${r.target.averageUtilization}%`;
    }
    const value = now.averageValue ?? now.value;
    return `${r.name}: ${value === undefined ? '<unknown>' : String(value)}/${String(r.target.averageValue ?? r.target.value)}`;
  });
  return metrics.length > 2 ? `${shown.join(', ')} + ${metrics.length - 2} more...` : shown.join(', ');
}

const columns = [
  nameColumn,
  { name: 'Reference', type: 'string' as const, cell: (o: KubeObject) => `${ref(o).kind}/${ref(o).name}` },
  { name: 'Targets', type: 'string' as const, cell: (o: KubeObject) => targets(toV2(o)) },
  { name: 'MinPods', type: 'integer' as const, cell: (o: KubeObject) => spec(o).minReplicas ?? 1 },
  { name: 'MaxPods', type: 'integer' as const, cell: (o: KubeObject) => spec(o).maxReplicas },
  { name: 'Replicas', type: 'integer' as const, cell: (o: KubeObject) => asObj(o.status).currentReplicas ?? 0 },
  ageColumn,
];

function validateCommon(o: KubeObject, causes: StatusCause[]): void {
  const s = spec(o);
  if (!ref(o).kind) causes.push(required('spec.scaleTargetRef.kind'));
  if (!ref(o).name) causes.push(required('spec.scaleTargetRef.name'));
  const min = s.minReplicas as number;
  const max = s.maxReplicas as number;
  if (typeof min === 'number' && min < 1) causes.push(invalidValue('spec.minReplicas', min, 'must be greater than or equal to 1'));
  if (typeof max === 'number' && typeof min === 'number' && max < min)
    causes.push(invalidValue('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
}

const METRIC_TYPES = ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'];
const TARGET_TYPES = ['AverageValue', 'Utilization', 'Value'];

function validateMetrics(metrics: Metric[], causes: StatusCause[]): void {
  metrics.forEach((m, i) => {
    const at = `spec.metrics[${i}]`;
    if (!METRIC_TYPES.includes(m.type)) {
      causes.push(notSupported(`${at}.type`, m.type, METRIC_TYPES));
      return;
    }
    const key = (m.type[0].toLowerCase() + m.type.slice(1)) as 'resource' | 'containerResource' | 'pods' | 'object' | 'external';
    const source = m[key];
    if (!source) {
      causes.push(required(`${at}.${key}`, `Required value: must populate information for the given metric source`));
      return;
    }
    const target = source.target;
    const where = `${at}.${key}.target`;
    if (!TARGET_TYPES.includes(target.type)) causes.push(notSupported(`${where}.type`, target.type, TARGET_TYPES));
    else if ((key === 'resource' || key === 'containerResource') && target.type === 'Value')
      causes.push(invalidValue(`${where}.type`, target.type, 'must be either Utilization or AverageValue'));
    if (target.type === 'Utilization') {
      if ((key !== 'resource' && key !== 'containerResource') || target.averageUtilization === undefined)
        causes.push(required(`${where}.averageUtilization`, 'Required value: must set averageUtilization when type is Utilization'));
      else if (target.averageUtilization < 1) causes.push(invalidValue(`${where}.averageUtilization`, target.averageUtilization, 'must be greater than 0'));
    }
    if (target.type === 'AverageValue' && target.averageValue === undefined)
      causes.push(required(`${where}.averageValue`, 'Required value: must set averageValue when type is AverageValue'));
    if (target.type === 'Value' && target.value === undefined) causes.push(required(`${where}.value`, 'Required value: must set value when type is Value'));
  });
}

function validateRules(rules: ScalingRules | undefined, at: string, causes: StatusCause[]): void {
  if (!rules) return;
  const window = rules.stabilizationWindowSeconds;
  if (window !== undefined && (window < 0 || window > 3600))
    causes.push(invalidValue(`${at}.stabilizationWindowSeconds`, window, 'must be between 0 and 3600'));
  if (rules.selectPolicy !== undefined && !['Max', 'Min', 'Disabled'].includes(rules.selectPolicy))
    causes.push(notSupported(`${at}.selectPolicy`, rules.selectPolicy, ['Disabled', 'Max', 'Min']));
  (rules.policies ?? []).forEach((p, i) => {
    if (p.type !== 'Pods' && p.type !== 'Percent') causes.push(notSupported(`${at}.policies[${i}].type`, p.type, ['Percent', 'Pods']));
    if (p.value <= 0) causes.push(invalidValue(`${at}.policies[${i}].value`, p.value, 'must be greater than zero'));
    if (p.periodSeconds <= 0 || p.periodSeconds > 1800)
      causes.push(invalidValue(`${at}.policies[${i}].periodSeconds`, p.periodSeconds, 'must be between 1 and 1800'));
  });
}

/** Kubernetes' default behavior rules, filled where a behavior is given (none given: the controller's defaults). */
export const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};
export const DEFAULT_SCALE_DOWN: ScalingRules = { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };

export const horizontalPodAutoscaler: Kind = {
  info: HPAS,
  schema: HorizontalPodAutoscaler,
  columns,
  // Autoscalers stored as v1 before v2 was served read as v2.
  fromStorage: toV2,
  initialStatus: () => ({ currentReplicas: 0, desiredReplicas: 0, currentMetrics: null }),
  defaults(o) {
    const s = spec(o) as HorizontalPodAutoscaler['spec'];
    s.minReplicas ??= 1;
    if (!s.metrics?.length) s.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];
    if (s.behavior) {
      s.behavior.scaleUp = { ...DEFAULT_SCALE_UP, ...s.behavior.scaleUp };
      s.behavior.scaleDown = { ...DEFAULT_SCALE_DOWN, ...s.behavior.scaleDown };
    }
  },
  validate(o, causes) {
    validateCommon(o, causes);
    const s = spec(o) as HorizontalPodAutoscaler['spec'];
    validateMetrics(s.metrics ?? [], causes);
    validateRules(s.behavior?.scaleUp, 'spec.behavior.scaleUp', causes);
    validateRules(s.behavior?.scaleDown, 'spec.behavior.scaleDown', causes);
  },
};

export const horizontalPodAutoscalerV1: Kind = {
  info: HPAS_V1,
  schema: HorizontalPodAutoscalerV1,
  columns,
  storageVersion: 'v2',
  fromStorage: toV1,
  toStorage: toV2,
  initialStatus: () => ({ currentReplicas: 0, desiredReplicas: 0 }),
  defaults(o) {
    spec(o).minReplicas ??= 1;
  },
  validate(o, causes) {
    validateCommon(o, causes);
    const target = spec(o).targetCPUUtilizationPercentage;
    if (typeof target === 'number' && target < 1)
      causes.push(invalidValue('spec.targetCPUUtilizationPercentage', target, 'must be greater than or equal to 1'));
  },
};

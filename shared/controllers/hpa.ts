/**
 * The horizontal pod autoscaler, as kube-controller-manager's runs an autoscaling/v2 one:
 * every sync period it reads its target's scale (a workload's, or a custom resource's with the
 * scale subresource) and its pods' use of each resource metric (CPU, memory; the metrics port:
 * in Skiff, the kubelets, as metrics-server reads them), and proposes for each metric
 * `ceil(ready pods × use / target)` (a Utilization is use as a percentage of the pods'
 * requests; an AverageValue, use per pod), nothing within a tolerance of 10%; the largest
 * proposal wins. Then, as Kubernetes does:
 * - without `behavior`: up by at most double or 4 more, whichever is more, per period; down to
 *   the highest recommendation of the stabilization window (default 5 minutes);
 * - with `behavior`: each direction's stabilization window (up: the lowest recommendation of
 *   its window, down: the highest of its own) and its policies (Pods or Percent per period,
 *   the Max or Min of them, or Disabled), counted from the replicas at the start of each
 *   policy's period;
 * - between `minReplicas` and `maxReplicas`; a target scaled to 0 is left alone.
 * Pods, Object and External metrics need a custom metrics API Skiff does not serve: they are
 * reported as not found and the others decide. Status has the current metrics and the
 * AbleToScale / ScalingActive / ScalingLimited conditions. The window's recommendations and
 * the recent scale events are kept on the autoscaler (annotations), so the controller keeps
 * nothing in memory between passes (the functions have none).
 */
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, HPAS, type HorizontalPodAutoscaler, type Metric, type ScalingRules, toV2 } from '../api/kinds/hpa.js';
import { clusterResources } from '../api/custom/served.js';
import { isTerminal, typedList, withConditions } from '../api/objects.js';
import { parseBytes, parseCpu } from '../api/quantity.js';
import { toScale, withScaleReplicas } from '../api/subresources.js';
import type { Pod } from '../api/schemas/index.js';
import type { ResourceInfo } from '../api/resources.js';
import { ignoreNotFound } from '../errors.js';
import type { KubeObject } from '../store/object.js';
import { nowTimestamp } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import type { Controller, ReconcileResult } from './types.js';

/**
 * What each pod of a namespace that the selector matches is using now of a resource (CPU in
 * millicores, memory in bytes), by pod name; a pod not measured is absent.
 */
export type PodUsage = (namespace: string, labelSelector: string, resource: 'cpu' | 'memory') => Promise<Map<string, number>>;

export interface HpaOptions {
  metrics: PodUsage;
  /** How often each autoscaler looks (kube-controller-manager: 15 s). */
  syncMs?: number;
  /** How long a scale-down waits for lower recommendations to hold, without behavior (default 5 minutes). */
  downscaleStabilizationMs?: number;
  clock?: () => number;
}

const RECOMMENDATIONS = 'autoscaling.skiff.dev/recommendations';
const SCALE_EVENTS = 'autoscaling.skiff.dev/scale-events';
const TOLERANCE = 0.1;

type Recommendation = { at: number; replicas: number };
type ScaleEvent = { at: number; change: number };
type Condition = { type: string; status: string; reason: string; message: string; lastTransitionTime?: string };
type CurrentMetric = NonNullable<NonNullable<HorizontalPodAutoscaler['status']>['currentMetrics']>[number];

interface Target {
  info: ResourceInfo;
  object: KubeObject;
  /** Its Scale, as the scale subresource answers it: replicas, and the pods' selector. */
  scale: ReturnType<typeof toScale>;
}

/** What one metric proposes, and what was measured. */
interface Proposal {
  replicas: number;
  current: CurrentMetric;
  /** `cpu resource utilization (percentage of request)`: the reason an event gives. */
  describe: string;
}

export class HorizontalPodAutoscalerController implements Controller {
  readonly name = 'horizontalpodautoscaler';
  readonly periodic = true;
  private readonly events: EventRecorder;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly options: HpaOptions,
  ) {
    this.events = new EventRecorder(store, 'horizontal-pod-autoscaler');
    this.now = options.clock ?? Date.now;
  }

  keysFor(event: ChangeEvent): string[] {
    if (event.resource !== HPAS.storeKey || event.type === 'DELETED') return [];
    // Its own status and window writes do not wake it: a new autoscaler or a changed spec does, and the period.
    const respec = event.type === 'ADDED' || event.object.metadata.generation !== event.prevObject?.metadata.generation;
    return respec ? [`${event.object.metadata.namespace}/${event.object.metadata.name}`] : [];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list(HPAS.storeKey)).items.map((h) => `${h.metadata.namespace}/${h.metadata.name}`);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace, name] = key.split('/');
    const stored = await this.store.get(HPAS.storeKey, namespace, name).catch(ignoreNotFound);
    if (!stored || stored.metadata.deletionTimestamp) return;
    const hpa = toV2(stored) as HorizontalPodAutoscaler;
    const again = { requeueAfterMs: this.options.syncMs ?? 15_000 };
    const target = await this.targetOf(hpa);
    if (!target) {
      const ref = hpa.spec.scaleTargetRef;
      const message = `the HPA controller was unable to get the target's current scale: ${ref.kind}.${ref.apiVersion ?? 'apps/v1'} "${ref.name}" not found`;
      await this.events.record(hpa, 'Warning', 'FailedGetScale', message);
      await this.writeStatus(hpa, { conditions: [condition('AbleToScale', 'False', 'FailedGetScale', message)] });
      return again;
    }
    const current = target.scale.spec.replicas;
    // A target scaled to zero by hand is left there: autoscaling is off while it is.
    if (current === 0) {
      await this.writeStatus(hpa, {
        current,
        desired: 0,
        conditions: [condition('ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero')],
      });
      return again;
    }
    const proposals = await this.measure(hpa, target, current);
    if (proposals.length === 0) {
      await this.writeStatus(hpa, {
        current,
        conditions: [
          condition('ScalingActive', 'False', 'FailedGetResourceMetric', 'the HPA was unable to compute the replica count: no metric could be measured'),
        ],
      });
      return again;
    }
    const best = proposals.reduce((a, b) => (b.replicas > a.replicas ? b : a));
    const desired = this.normalize(hpa, current, best.replicas);
    if (desired.replicas !== current) await this.scale(hpa, target, current, desired.replicas, best.describe);
    await this.writeStatus(hpa, {
      current,
      desired: desired.replicas,
      metrics: proposals.map((p) => p.current),
      scaled: desired.replicas !== current,
      annotations: { [RECOMMENDATIONS]: JSON.stringify(desired.recommendations), [SCALE_EVENTS]: JSON.stringify(desired.events) },
      conditions: [
        condition('AbleToScale', 'True', 'SucceededRescale', 'the HPA controller was able to update the target scale'),
        condition('ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${best.describe}`),
        desired.limited
          ? condition(
              'ScalingLimited',
              'True',
              desired.limited,
              `the desired replica count is ${desired.limited === 'TooManyReplicas' ? 'more than the maximum' : 'less than the minimum'} replica count`,
            )
          : condition('ScalingLimited', 'False', 'DesiredWithinRange', 'the desired count is within the acceptable range'),
      ],
    });
    return again;
  }

  /** The workload (or custom resource) the autoscaler scales, with its Scale; undefined when there is none. */
  private async targetOf(hpa: HorizontalPodAutoscaler): Promise<Target | undefined> {
    const ref = hpa.spec.scaleTargetRef;
    const info = (await clusterResources(this.store).fresh()).byKind(ref.apiVersion ?? 'apps/v1', ref.kind);
    if (!info?.subresources.includes('scale')) return undefined;
    const object = await this.store.get(info.storeKey, hpa.metadata.namespace ?? '', ref.name).catch(ignoreNotFound);
    return object && { info, object, scale: toScale(object, info) };
  }

  /** Each metric's proposal; a metric that cannot be measured is reported (an event) and left out. */
  private async measure(hpa: HorizontalPodAutoscaler, target: Target, current: number): Promise<Proposal[]> {
    const proposals: Proposal[] = [];
    const namespace = hpa.metadata.namespace ?? '';
    const selector = target.scale.status.selector;
    // The target's running pods, read once for every metric.
    const pods = typedList('pods', (await this.store.list('pods', { namespace, labelSelector: selector })).items).filter(
      (p) => !p.metadata.deletionTimestamp && !isTerminal(p) && p.status?.phase === 'Running',
    );
    for (const metric of hpa.spec.metrics ?? []) {
      const resourceMetric = metric.type === 'Resource' || metric.type === 'ContainerResource';
      const result = resourceMetric ? await this.resourceProposal(namespace, selector, pods, metric, current) : undefined;
      if (typeof result === 'string' || result === undefined) {
        const why = result ?? `${metric.type} metrics need a custom metrics API, which this cluster does not serve`;
        await this.events.record(hpa, 'Warning', `FailedGet${metric.type}Metric`, why);
        continue;
      }
      proposals.push(result);
    }
    return proposals;
  }

  /** A Resource (or ContainerResource) metric's proposal over the target's running pods, or why it cannot be made. */
  private async resourceProposal(namespace: string, selector: string, pods: Pod[], metric: Metric, current: number): Promise<Proposal | string> {
    const source = (metric.resource ?? metric.containerResource)!;
    const resource = source.name;
    if (resource !== 'cpu' && resource !== 'memory') return `failed to get ${resource} utilization: only cpu and memory are measured`;
    const container = metric.containerResource?.container;
    const parse = resource === 'cpu' ? parseCpu : parseBytes;
    const request = (p: Pod) =>
      p.spec.containers
        .filter((c) => container === undefined || c.name === container)
        .reduce((n, c) => n + (c.resources?.requests?.[resource] !== undefined ? parse(String(c.resources.requests[resource])) : Number.NaN), 0);
    const usage = await this.options.metrics(namespace, selector, resource).catch(() => new Map<string, number>());
    const measured = pods.filter((p) => usage.has(p.metadata.name ?? ''));
    if (measured.length === 0) return `failed to get ${resource} utilization: did not receive metrics for targeted pods (pods might be unready)`;
    const used = measured.reduce((n, p) => n + usage.get(p.metadata.name ?? '')!, 0);
    const goal = source.target;
    const describe = `${resource} resource${goal.type === 'Utilization' ? ' utilization (percentage of request)' : ''}`;
    const propose = (ratio: number) => (Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(ratio * measured.length));
    if (goal.type === 'Utilization') {
      if (measured.some((p) => Number.isNaN(request(p)))) return `failed to get ${resource} utilization: missing request for ${resource}`;
      const percent = Math.round((used / measured.reduce((n, p) => n + request(p), 0)) * 100);
      const now = { averageUtilization: percent, averageValue: format(resource, used / measured.length) };
      return { replicas: propose(percent / (goal.averageUtilization ?? 80)), current: currentOf(metric, now), describe };
    }
    // AverageValue: the use per pod against the target (a resource metric takes no plain Value).
    const perPod = used / measured.length;
    const wanted = parse(String(goal.averageValue ?? '0'));
    if (!(wanted > 0)) return `invalid ${resource} target: ${String(goal.averageValue)}`;
    return { replicas: propose(perPod / wanted), current: currentOf(metric, { averageValue: format(resource, perPod) }), describe };
  }

  /** Kubernetes' normalization: stabilization, the rate limits (behavior's policies, or the defaults), then min and max. */
  private normalize(hpa: HorizontalPodAutoscaler, current: number, proposed: number) {
    const now = this.now();
    const annotations = hpa.metadata.annotations ?? {};
    const kept = JSON.parse(annotations[RECOMMENDATIONS] ?? '[]') as Recommendation[];
    const history = JSON.parse(annotations[SCALE_EVENTS] ?? '[]') as ScaleEvent[];
    const behavior = hpa.spec.behavior;
    const up = behavior ? { ...DEFAULT_SCALE_UP, ...behavior.scaleUp } : undefined;
    const down = behavior ? { ...DEFAULT_SCALE_DOWN, ...behavior.scaleDown } : undefined;
    const upWindow = (up?.stabilizationWindowSeconds ?? 0) * 1000;
    const downWindow =
      down?.stabilizationWindowSeconds !== undefined ? down.stabilizationWindowSeconds * 1000 : (this.options.downscaleStabilizationMs ?? 300_000);
    const within = (windowMs: number) => kept.filter((r) => now - r.at < windowMs).map((r) => r.replicas);
    const recommendations = [...kept.filter((r) => now - r.at < Math.max(upWindow, downWindow)), { at: now, replicas: proposed }];
    // Up only as far as the lowest recommendation of the up window, down only as far as the highest of the down window.
    const upTo = Math.min(proposed, ...within(upWindow));
    const downTo = Math.max(proposed, ...within(downWindow));
    let replicas = current;
    if (replicas < upTo) replicas = upTo;
    if (replicas > downTo) replicas = downTo;
    if (replicas > current) replicas = Math.min(replicas, up ? rateLimit(up, current, history, now, 1) : Math.max(current * 2, current + 4));
    if (replicas < current && down) replicas = Math.max(replicas, rateLimit(down, current, history, now, -1));
    const min = hpa.spec.minReplicas ?? 1;
    const max = hpa.spec.maxReplicas;
    const limited = replicas > max ? 'TooManyReplicas' : replicas < min ? 'TooFewReplicas' : undefined;
    replicas = Math.max(min, Math.min(max, replicas));
    const longest = Math.max(...[...(up?.policies ?? []), ...(down?.policies ?? [])].map((p) => p.periodSeconds * 1000), 0);
    const events = [...history.filter((e) => now - e.at < longest), ...(replicas !== current ? [{ at: now, change: replicas - current }] : [])];
    return { replicas, recommendations, events, limited };
  }

  private async scale(hpa: HorizontalPodAutoscaler, target: Target, current: number, replicas: number, reason: string): Promise<void> {
    const { namespace = '', name = '' } = target.object.metadata;
    await guaranteedUpdate(this.store, target.info.storeKey, namespace, name, (o) => withScaleReplicas(target.info, o, replicas)).catch(ignoreNotFound);
    const direction = replicas > current ? 'above' : 'below';
    await this.events.record(hpa, 'Normal', 'SuccessfulRescale', `New size: ${replicas}; reason: ${reason} ${direction} target`);
  }

  private async writeStatus(
    hpa: HorizontalPodAutoscaler,
    s: { current?: number; desired?: number; metrics?: CurrentMetric[]; scaled?: boolean; conditions: Condition[]; annotations?: Record<string, string> },
  ): Promise<void> {
    await guaranteedUpdate(this.store, HPAS.storeKey, hpa.metadata.namespace ?? '', hpa.metadata.name ?? '', (stored) => {
      const h = toV2(stored) as HorizontalPodAutoscaler;
      const conditions = withConditions(h.status?.conditions as Condition[] | undefined, s.conditions, nowTimestamp(new Date(this.now())));
      return {
        ...h,
        metadata: s.annotations ? { ...h.metadata, annotations: { ...h.metadata.annotations, ...s.annotations } } : h.metadata,
        status: {
          ...h.status,
          observedGeneration: h.metadata.generation,
          ...(s.current === undefined ? {} : { currentReplicas: s.current }),
          ...(s.desired === undefined ? {} : { desiredReplicas: s.desired }),
          ...(s.metrics ? { currentMetrics: s.metrics } : {}),
          ...(s.scaled ? { lastScaleTime: nowTimestamp() } : {}),
          conditions,
        },
      } as KubeObject;
    }).catch(ignoreNotFound);
  }
}

function condition(type: string, status: string, reason: string, message: string): Condition {
  return { type, status, reason, message };
}

/** A metric's current value, shaped as its spec names it. */
function currentOf(metric: Metric, current: { averageUtilization?: number; averageValue?: string }): CurrentMetric {
  if (metric.containerResource)
    return { type: metric.type, containerResource: { name: metric.containerResource.name, container: metric.containerResource.container, current } };
  return { type: metric.type, resource: { name: metric.resource!.name, current } };
}

/** A quantity as the metrics API writes it: millicores, or bytes in Ki. */
function format(resource: string, value: number): string {
  return resource === 'cpu' ? `${Math.round(value)}m` : `${Math.round(value / 1024)}Ki`;
}

/**
 * The furthest a direction's policies let the replicas go from `current` now: each policy's
 * limit counted from the replicas at the start of its period (the scale events within it undone),
 * the Max (most change) or Min (least) of them; Disabled: none.
 */
function rateLimit(rules: ScalingRules, current: number, history: ScaleEvent[], now: number, direction: 1 | -1): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const limits = (rules.policies ?? []).map((p) => {
    const changed = history.filter((e) => now - e.at < p.periodSeconds * 1000 && Math.sign(e.change) === direction).reduce((n, e) => n + e.change, 0);
    const start = current - changed;
    if (direction === 1) return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    return p.type === 'Pods' ? start - p.value : Math.ceil(start * (1 - p.value / 100));
  });
  if (limits.length === 0) return current;
  const most = direction === 1 ? Math.max(...limits) : Math.min(...limits);
  const least = direction === 1 ? Math.min(...limits) : Math.max(...limits);
  return rules.selectPolicy === 'Min' ? least : most;
}

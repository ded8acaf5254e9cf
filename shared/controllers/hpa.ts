/**
 * The horizontal pod autoscaler, as kube-controller-manager's runs an autoscaling/v1 one: every
 * sync period it reads its target's scale and its pods' CPU use (the metrics port: in Skiff, the
 * kubelets, as metrics-server reads them), and sets the target's replicas to
 * `ceil(current × utilization / target)`, where utilization is the pods' CPU use as a percentage
 * of what they request:
 * - within a tolerance of 10% of the target it does nothing;
 * - up by at most double or 4 more, whichever is more, per period (Kubernetes' default scale-up
 *   policy); down to the highest recommendation of the stabilization window (default 5 minutes),
 *   so a dip does not throw replicas away;
 * - between `minReplicas` and `maxReplicas`; a target scaled to 0 is left alone.
 * Pods without a CPU request cannot be measured against one: it says so, and does nothing. The
 * window's recommendations are kept on the autoscaler (an annotation), so the controller keeps
 * nothing in memory between passes (the functions have none).
 */
import { HPAS, type HorizontalPodAutoscaler } from '../api/kinds/hpa.js';
import { isTerminal, typedList } from '../api/objects.js';
import { parseCpu } from '../api/quantity.js';
import { findByKind } from '../api/resources.js';
import { toScale } from '../api/subresources.js';
import type { Pod } from '../api/schemas/index.js';
import { ignoreNotFound } from '../errors.js';
import type { KubeObject } from '../store/object.js';
import { nowTimestamp } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import type { Controller, ReconcileResult } from './types.js';

/** The CPU each pod of a namespace that the selector matches is using now, in millicores, by pod name (a pod not measured is absent). */
export type PodCpu = (namespace: string, labelSelector: string) => Promise<Map<string, number>>;

export interface HpaOptions {
  metrics: PodCpu;
  /** How often each autoscaler looks (kube-controller-manager: 15 s). */
  syncMs?: number;
  /** How long a scale-down waits for lower recommendations to hold (default 5 minutes). */
  downscaleStabilizationMs?: number;
  clock?: () => number;
}

const RECOMMENDATIONS = 'autoscaling.skiff.dev/recommendations';
const TOLERANCE = 0.1;

interface Target {
  info: NonNullable<ReturnType<typeof findByKind>>;
  object: KubeObject;
  /** Its Scale, as the scale subresource answers it: replicas, and the pods' selector. */
  scale: ReturnType<typeof toScale>;
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
    const hpa = (await this.store.get(HPAS.storeKey, namespace, name).catch(ignoreNotFound)) as HorizontalPodAutoscaler | undefined;
    if (!hpa || hpa.metadata.deletionTimestamp) return;
    const again = { requeueAfterMs: this.options.syncMs ?? 15_000 };
    const ref = hpa.spec.scaleTargetRef;
    const info = findByKind(ref.apiVersion ?? 'apps/v1', ref.kind);
    const object = info?.subresources.includes('scale') ? await this.store.get(info.storeKey, namespace, ref.name).catch(ignoreNotFound) : undefined;
    if (!info || !object) {
      await this.events.record(hpa, 'Warning', 'FailedGetScale', `${ref.kind}.${ref.apiVersion ?? 'apps/v1'} "${ref.name}" not found`);
      return again;
    }
    const target: Target = { info, object, scale: toScale(object) };
    const current = target.scale.spec.replicas;
    // A target scaled to zero by hand is left there: autoscaling is off while it is.
    if (current === 0) return again;
    const measured = await this.utilization(hpa, target);
    if (measured === undefined) return again;
    const desired = this.recommend(hpa, current, measured.percent, measured.ready);
    if (desired.replicas !== current) await this.scale(hpa, target, current, desired.replicas);
    await this.writeStatus(hpa, current, desired, measured.percent);
    return again;
  }

  /** The pods' CPU use as a percentage of their requests, and how many were measured; undefined (and an event) when it cannot be known. */
  private async utilization(hpa: HorizontalPodAutoscaler, target: Target): Promise<{ percent: number; ready: number } | undefined> {
    const namespace = hpa.metadata.namespace ?? '';
    const selector = target.scale.status.selector;
    const pods = typedList('pods', (await this.store.list('pods', { namespace, labelSelector: selector })).items).filter(
      (p) => !p.metadata.deletionTimestamp && !isTerminal(p) && p.status?.phase === 'Running',
    );
    const request = (p: Pod) =>
      p.spec.containers.reduce((n, c) => n + (c.resources?.requests?.cpu !== undefined ? parseCpu(c.resources.requests.cpu) : Number.NaN), 0);
    if (pods.some((p) => Number.isNaN(request(p)))) {
      await this.events.record(hpa, 'Warning', 'FailedGetResourceMetric', 'failed to get cpu utilization: missing request for cpu');
      return undefined;
    }
    const usage = await this.options.metrics(namespace, selector).catch(() => new Map<string, number>());
    const measured = pods.filter((p) => usage.has(p.metadata.name ?? ''));
    if (measured.length === 0) {
      await this.events.record(
        hpa,
        'Warning',
        'FailedGetResourceMetric',
        'failed to get cpu utilization: did not receive metrics for targeted pods (pods might be unready)',
      );
      return undefined;
    }
    const used = measured.reduce((n, p) => n + usage.get(p.metadata.name ?? '')!, 0);
    const requested = measured.reduce((n, p) => n + request(p), 0);
    return { percent: Math.round((used / requested) * 100), ready: measured.length };
  }

  /** Kubernetes' replica calculation, its default scale-up limit, the stabilization window and min/max. */
  private recommend(
    hpa: HorizontalPodAutoscaler,
    current: number,
    percent: number,
    ready: number,
  ): { replicas: number; window: { at: number; replicas: number }[] } {
    const target = hpa.spec.targetCPUUtilizationPercentage ?? 80;
    const ratio = percent / target;
    let raw = Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(ratio * ready);
    raw = Math.min(raw, Math.max(current * 2, current + 4));
    const now = this.now();
    const windowMs = this.options.downscaleStabilizationMs ?? 300_000;
    const kept = JSON.parse(hpa.metadata.annotations?.[RECOMMENDATIONS] ?? '[]') as { at: number; replicas: number }[];
    const window = [...kept.filter((r) => now - r.at < windowMs), { at: now, replicas: raw }];
    // Down only as far as the highest recommendation the window holds.
    const stabilized = raw < current ? Math.min(current, Math.max(...window.map((r) => r.replicas))) : raw;
    const replicas = Math.max(hpa.spec.minReplicas ?? 1, Math.min(hpa.spec.maxReplicas, stabilized));
    return { replicas, window };
  }

  private async scale(hpa: HorizontalPodAutoscaler, target: Target, current: number, replicas: number): Promise<void> {
    const { namespace = '', name = '' } = target.object.metadata;
    await guaranteedUpdate(this.store, target.info.storeKey, namespace, name, (o) => ({ ...o, spec: { ...(o.spec as object), replicas } })).catch(
      ignoreNotFound,
    );
    const direction = replicas > current ? 'above' : 'below';
    await this.events.record(
      hpa,
      'Normal',
      'SuccessfulRescale',
      `New size: ${replicas}; reason: cpu resource utilization (percentage of request) ${direction} target`,
    );
  }

  private async writeStatus(
    hpa: HorizontalPodAutoscaler,
    current: number,
    desired: { replicas: number; window: { at: number; replicas: number }[] },
    percent: number,
  ): Promise<void> {
    const scaled = desired.replicas !== current;
    await guaranteedUpdate<HorizontalPodAutoscaler>(this.store, HPAS.storeKey, hpa.metadata.namespace ?? '', hpa.metadata.name ?? '', (h) => ({
      ...h,
      metadata: { ...h.metadata, annotations: { ...h.metadata.annotations, [RECOMMENDATIONS]: JSON.stringify(desired.window) } },
      status: {
        ...h.status,
        observedGeneration: h.metadata.generation,
        currentReplicas: current,
        desiredReplicas: desired.replicas,
        currentCPUUtilizationPercentage: percent,
        ...(scaled ? { lastScaleTime: nowTimestamp() } : {}),
      },
    })).catch(ignoreNotFound);
  }
}

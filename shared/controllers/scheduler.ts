/**
 * The scheduler as a controller: every change to pods or nodes wakes one key, and a reconcile
 * places all pending pods in one call of the pure scheduler. Bindings are written with
 * compare-and-swap on the pod (a pod another scheduler bound meanwhile is left alone); a pod
 * that fits nowhere gets PodScheduled=False, reason Unschedulable, with kube-scheduler's
 * message, and a FailedScheduling event; it is tried again when nodes or pods change.
 */
import type { Node, Pod } from '../api/schemas/index.js';
import { schedule } from '../scheduler/index.js';
import { isStoreError } from '../store/errors.js';
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { EventRecorder } from './events.js';
import type { Controller, ReconcileResult } from './types.js';

const KEY = 'pending-pods';
type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});

export class SchedulerController implements Controller {
  readonly name = 'scheduler';
  private readonly events: EventRecorder;
  private startIndex = 0;

  constructor(private readonly store: Store) {
    this.events = new EventRecorder(store, 'default-scheduler');
  }

  keysFor(event: ChangeEvent): string[] {
    if (event.resource === 'nodes') return [KEY];
    if (event.resource !== 'pods') return [];
    // A new pending pod, or a pod leaving a node (its capacity frees up).
    const pending = !asObj(event.object.spec).nodeName;
    return pending || event.type === 'DELETED' || asObj(event.object.status).phase === 'Succeeded' || asObj(event.object.status).phase === 'Failed' ? [KEY] : [];
  }

  async allKeys(): Promise<string[]> {
    return [KEY];
  }

  async reconcile(): Promise<ReconcileResult | void> {
    const pods = (await this.store.list('pods')).items;
    const pending = pods.filter((p) => !asObj(p.spec).nodeName && !p.metadata.deletionTimestamp && (asObj(p.spec).schedulerName ?? 'default-scheduler') === 'default-scheduler');
    if (pending.length === 0) return;
    const bound = pods.filter((p) => asObj(p.spec).nodeName && !['Succeeded', 'Failed'].includes(String(asObj(p.status).phase)));
    const nodes = (await this.store.list('nodes')).items;
    const result = schedule({ pendingPods: pending as Pod[], nodes: nodes as Node[], boundPods: bound as Pod[], options: { startIndex: this.startIndex } });
    this.startIndex = result.nextStartIndex;
    const byUid = new Map(pending.map((p) => [p.metadata.uid, p]));
    await Promise.all(result.bindings.map((b) => this.bind(byUid.get(b.pod.uid)!, b.nodeName)));
    await Promise.all(result.unschedulable.map((u) => this.markUnschedulable(byUid.get(u.pod.uid)!, u.message)));
    // Unplaceable pods are tried again on any node or pod change; this is the backstop.
    return result.unschedulable.length ? { requeueAfterMs: 30_000 } : undefined;
  }

  private async bind(pod: KubeObject, nodeName: string): Promise<void> {
    const { namespace = '', name = '' } = pod.metadata;
    let bound = false;
    await guaranteedUpdate(this.store, 'pods', namespace, name, (p) => {
      if (p.metadata.uid !== pod.metadata.uid || asObj(p.spec).nodeName || p.metadata.deletionTimestamp) return undefined;
      bound = true;
      const status = asObj(p.status);
      const conditions = ((status.conditions ?? []) as Obj[]).filter((c) => c.type !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowTimestamp() });
      return { ...p, spec: { ...asObj(p.spec), nodeName }, status: { ...status, conditions } };
    }).catch((err) => {
      if (!isStoreError(err, 'NotFound')) throw err;
    });
    if (bound) await this.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${nodeName}`);
  }

  private async markUnschedulable(pod: KubeObject, message: string): Promise<void> {
    const { namespace = '', name = '' } = pod.metadata;
    let changed = false;
    await guaranteedUpdate(this.store, 'pods', namespace, name, (p) => {
      if (asObj(p.spec).nodeName) return undefined;
      const status = asObj(p.status);
      const conditions = (status.conditions ?? []) as Obj[];
      const current = conditions.find((c) => c.type === 'PodScheduled');
      if (current && current.status === 'False' && current.message === message) return undefined;
      changed = true;
      return {
        ...p,
        status: { ...status, conditions: [...conditions.filter((c) => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: nowTimestamp() }] },
      };
    }).catch((err) => {
      if (!isStoreError(err, 'NotFound')) throw err;
    });
    if (changed) await this.events.record(pod, 'Warning', 'FailedScheduling', message);
  }
}

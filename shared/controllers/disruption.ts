/**
 * The disruption controller: keeps each PodDisruptionBudget's status (the pods it expects, how
 * many are healthy, how many must be, and so how many disruptions are allowed) as the pods and
 * their controllers change, as kube-controller-manager's does. The Eviction subresource
 * (shared/api/disruption.ts) spends from that status; the controller forgets an eviction once its
 * pod is going, or after two minutes if it never went. One key per namespace: a change to a pod,
 * a ReplicaSet, a Deployment or a budget there looks again at the namespace's budgets.
 */
import { type Budget, budgetStatus, covers, DISRUPTION_TIMEOUT_MS, PDBS } from '../api/disruption.js';
import type { Pod } from '../api/schemas/index.js';
import { typedList } from '../api/objects.js';
import { ignoreNotFound } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import { controllerOf } from './replicaset.js';
import type { Controller, ReconcileResult } from './types.js';

const WATCHED = new Set([PDBS.storeKey, 'pods', 'replicasets.apps', 'deployments.apps']);

/** A status without its condition's transition time, to tell whether anything changed. */
const essence = (s: Budget['status']) => JSON.stringify({ ...s, conditions: s?.conditions?.map(({ lastTransitionTime: _t, ...rest }) => rest) });

export class DisruptionController implements Controller {
  readonly name = 'disruption';

  constructor(private readonly store: Store) {}

  keysFor(event: ChangeEvent): string[] {
    return WATCHED.has(event.resource) ? [event.object.metadata.namespace ?? ''] : [];
  }

  async allKeys(): Promise<string[]> {
    return [...new Set((await this.store.list(PDBS.storeKey)).items.map((b) => b.metadata.namespace ?? ''))];
  }

  async reconcile(namespace: string): Promise<ReconcileResult | void> {
    const budgets = (await this.store.list(PDBS.storeKey, { namespace })).items as Budget[];
    if (budgets.length === 0) return;
    const pods = typedList('pods', (await this.store.list('pods', { namespace })).items);
    const scale = await this.scaleOf(namespace);
    let recheck = Number.POSITIVE_INFINITY;
    for (const budget of budgets) {
      const written = await guaranteedUpdate<Budget>(this.store, PDBS.storeKey, namespace, budget.metadata.name as string, (current) => {
        if (current.metadata.deletionTimestamp) return undefined;
        const mine = pods.filter((p) => covers(current, p));
        const status = budgetStatus(current, mine, () => scale(mine));
        return essence(status) === essence(current.status) ? undefined : { ...current, status };
      }).catch(ignoreNotFound);
      // An eviction not yet seen through is forgotten when it times out: come back then.
      for (const at of Object.values(written?.status?.disruptedPods ?? {})) recheck = Math.min(recheck, Date.parse(at) + DISRUPTION_TIMEOUT_MS - Date.now());
    }
    return Number.isFinite(recheck) ? { requeueAfterMs: Math.max(1000, recheck) } : undefined;
  }

  /** The replicas the pods' controllers want, counted once per controller (a Deployment's for its ReplicaSets). */
  private async scaleOf(namespace: string): Promise<(pods: Pod[]) => number> {
    const [replicaSets, deployments] = await Promise.all([
      this.store.list('replicasets.apps', { namespace }).then((l) => typedList('replicasets.apps', l.items)),
      this.store.list('deployments.apps', { namespace }).then((l) => typedList('deployments.apps', l.items)),
    ]);
    return (pods) => {
      const wanted = new Map<string, number>();
      for (const pod of pods) {
        const owner = controllerOf(pod);
        if (!owner) continue;
        const rs = owner.kind === 'ReplicaSet' ? replicaSets.find((r) => r.metadata.uid === owner.uid) : undefined;
        const deploymentRef = rs && controllerOf(rs);
        const deployment = deploymentRef?.kind === 'Deployment' ? deployments.find((d) => d.metadata.uid === deploymentRef.uid) : undefined;
        if (deployment) wanted.set(deployment.metadata.uid as string, deployment.spec.replicas ?? 1);
        else if (rs) wanted.set(rs.metadata.uid as string, rs.spec.replicas ?? 1);
        else wanted.set(owner.uid, (wanted.get(owner.uid) ?? 0) + 1);
      }
      return [...wanted.values()].reduce((a, b) => a + b, 0);
    };
  }
}

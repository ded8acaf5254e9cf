/**
 * PodDisruptionBudgets at work, as Kubernetes defines them: what a budget asks of its pods (the
 * disruption controller writes it to the budget's status), and the Eviction subresource, which
 * deletes a pod only when its budget allows one more disruption and spends it in the same
 * breath. The budget's status is updated with its resourceVersion before the pod is deleted, so
 * two evictions at once cannot both spend the last allowed disruption (the loser retries on the
 * new status). Evicted pods are remembered in `status.disruptedPods` until the controller sees
 * them go, so one is never counted healthy while it stops.
 */
import { conditionOf } from './objects.js';
import type { KubeObject } from '../store/object.js';
import { nowTimestamp } from '../store/object.js';
import { fromLabelSelector, matchLabels } from '../store/selectors.js';
import type { Store } from '../store/types.js';
import type { DeleteRequest, Registry } from './registry.js';
import { findResource } from './resources.js';
import type { LabelSelector } from './schemas/common.js';
import type { Pod } from './schemas/index.js';
import { isConflict } from '../errors.js';
import { ApiError, badRequest, forbidden, type Status, successStatus } from './status.js';
import { asObj } from './validation.js';

export const PDBS = findResource('policy', 'v1', 'poddisruptionbudgets')!;
const PODS = findResource('', 'v1', 'pods')!;
/** Evictions the controller has not yet seen go through; past this, evictions wait (Kubernetes' MaxDisruptedPodSize). */
const MAX_DISRUPTED_PODS = 2000;
/** An evicted pod that has not gone within this long counts again (Kubernetes' DeletionTimeout). */
export const DISRUPTION_TIMEOUT_MS = 2 * 60_000;

export interface Budget extends KubeObject {
  spec?: {
    minAvailable?: number | string;
    maxUnavailable?: number | string;
    selector?: LabelSelector | null;
    unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow';
  };
  status?: {
    observedGeneration?: number;
    disruptedPods?: Record<string, string>;
    disruptionsAllowed?: number;
    currentHealthy?: number;
    desiredHealthy?: number;
    expectedPods?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string | null; observedGeneration?: number }[];
  };
}

/** Whether a budget covers a pod: an empty selector covers every pod of its namespace, none covers none. */
export function covers(budget: Budget, pod: KubeObject): boolean {
  const selector = budget.spec?.selector;
  if (!selector) return false;
  return matchLabels(fromLabelSelector(selector), pod.metadata.labels);
}

/** A pod that counts toward a budget: ready, and not on its way out. */
export const isHealthy = (pod: Pod) => !pod.metadata.deletionTimestamp && conditionOf(pod.status?.conditions, 'Ready')?.status === 'True';

/** An int-or-percent of `total`, rounded up (as the disruption controller rounds both fields). */
function scaled(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  return Math.ceil((Number(value.replace('%', '')) * total) / 100);
}

/**
 * How many pods a budget expects and how many of them must be healthy. A whole `minAvailable`
 * counts the pods there are; a percentage or `maxUnavailable` counts the replicas their
 * controllers want (`scale`: the sum over the pods' distinct controllers).
 */
export function wanted(budget: Budget, pods: Pod[], scale: () => number): { expected: number; desiredHealthy: number } {
  const { minAvailable, maxUnavailable } = budget.spec ?? {};
  if (maxUnavailable !== undefined) {
    const expected = scale();
    return { expected, desiredHealthy: Math.max(0, expected - scaled(maxUnavailable, expected)) };
  }
  if (typeof minAvailable === 'number') return { expected: pods.length, desiredHealthy: minAvailable };
  if (typeof minAvailable === 'string') {
    const expected = scale();
    return { expected, desiredHealthy: scaled(minAvailable, expected) };
  }
  return { expected: pods.length, desiredHealthy: 0 };
}

/** The budget's status from its pods: who is healthy (not counting evictions under way), and what may go. */
export function budgetStatus(budget: Budget, pods: Pod[], scale: () => number, now = Date.now()): NonNullable<Budget['status']> {
  const { expected, desiredHealthy } = wanted(budget, pods, scale);
  const byName = new Map(pods.map((p) => [p.metadata.name, p]));
  const disruptedPods: Record<string, string> = {};
  for (const [name, at] of Object.entries(budget.status?.disruptedPods ?? {})) {
    const pod = byName.get(name);
    if (pod && !pod.metadata.deletionTimestamp && now - Date.parse(at) < DISRUPTION_TIMEOUT_MS) disruptedPods[name] = at;
  }
  const currentHealthy = pods.filter((p) => isHealthy(p) && !(p.metadata.name! in disruptedPods)).length;
  const allowed = expected > 0 ? Math.max(0, currentHealthy - desiredHealthy) : 0;
  return {
    observedGeneration: budget.metadata.generation ?? 1,
    ...(Object.keys(disruptedPods).length ? { disruptedPods } : {}),
    disruptionsAllowed: allowed,
    currentHealthy,
    desiredHealthy,
    expectedPods: expected,
    conditions: [disruptionCondition(budget, allowed)],
  };
}

/** The budget's DisruptionAllowed condition for `allowed`, its transition time kept while its status holds. */
function disruptionCondition(budget: Budget, allowed: number) {
  const previous = budget.status?.conditions?.find((c) => c.type === 'DisruptionAllowed');
  const status = allowed > 0 ? 'True' : 'False';
  return {
    type: 'DisruptionAllowed',
    status,
    reason: allowed > 0 ? 'SufficientPods' : 'InsufficientPods',
    message: '',
    observedGeneration: budget.metadata.generation ?? 1,
    lastTransitionTime: previous?.status === status ? (previous.lastTransitionTime ?? nowTimestamp()) : nowTimestamp(),
  };
}

const tooManyRequests = (message: string, cause: string) =>
  new ApiError(429, 'TooManyRequests', message, { causes: [{ type: 'DisruptionBudget', message: cause }] });

/**
 * POST pods/<name>/eviction (a policy/v1 Eviction): deletes the pod with the Eviction's
 * deleteOptions if no budget forbids it. A pod already stopping, finished or not yet running
 * needs no budget; an unready pod goes when its budget is met anyway (or always, with
 * `unhealthyPodEvictionPolicy: AlwaysAllow`). A pod under more than one budget cannot be evicted.
 */
export async function evict(registry: Registry, store: Store, namespace: string, name: string, body: unknown, query: DeleteRequest = {}): Promise<Status> {
  const eviction = asObj(body);
  const named = asObj(eviction.metadata).name;
  if (named !== undefined && named !== name) throw badRequest(`name in URL does not match name in Eviction object`);
  const options = asObj(eviction.deleteOptions);
  const request: DeleteRequest = {
    gracePeriodSeconds: query.gracePeriodSeconds ?? (options.gracePeriodSeconds as number | undefined),
    preconditions: (options.preconditions ?? query.preconditions) as DeleteRequest['preconditions'],
    dryRun: query.dryRun || (Array.isArray(options.dryRun) && options.dryRun.includes('All')),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await spendBudget(registry, store, namespace, name, request.dryRun === true);
      break;
    } catch (err) {
      // Another eviction spent from the same budget first: look again at what it left.
      if (!isConflict(err) || attempt >= 4) throw err;
    }
  }
  await registry.delete(PODS, namespace, name, request);
  return { ...successStatus(), code: 201 };
}

/** Takes one disruption from the pod's budget (writing the budget), or throws why it may not go. */
async function spendBudget(registry: Registry, store: Store, namespace: string, name: string, dryRun: boolean): Promise<void> {
  const pod = (await registry.get(PODS, namespace, name)) as Pod;
  const phase = pod.status?.phase;
  if (pod.metadata.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending') return;
  const budgets = ((await store.list(PDBS.storeKey, { namespace })).items as Budget[]).filter((b) => covers(b, pod));
  if (budgets.length > 1)
    throw new ApiError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
  const [budget] = budgets;
  if (!budget) return;
  const status = budget.status ?? {};
  if (!isHealthy(pod)) {
    if (budget.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow') return;
    if ((status.desiredHealthy ?? 0) > 0 && (status.currentHealthy ?? 0) >= (status.desiredHealthy ?? 0)) return;
  }
  const refuse = "Cannot evict pod as it would violate the pod's disruption budget.";
  if ((status.observedGeneration ?? 0) < (budget.metadata.generation ?? 1))
    throw tooManyRequests(refuse, `The disruption budget ${budget.metadata.name} is still being processed by the server.`);
  const allowed = status.disruptionsAllowed ?? 0;
  if (allowed < 0) throw forbidden('pdb disruptions allowed is negative');
  if (Object.keys(status.disruptedPods ?? {}).length > MAX_DISRUPTED_PODS)
    throw forbidden('DisruptedPods map too big - too many evictions not confirmed by PDB controller');
  if (allowed === 0)
    throw tooManyRequests(
      refuse,
      `The disruption budget ${budget.metadata.name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently`,
    );
  if (dryRun) return;
  const spent: Budget = {
    ...budget,
    status: {
      ...status,
      disruptionsAllowed: allowed - 1,
      disruptedPods: { ...status.disruptedPods, [name]: nowTimestamp() },
      conditions: [disruptionCondition(budget, allowed - 1)],
    },
  };
  // With the budget's resourceVersion: a write between the read and this one is a conflict.
  await store.update(PDBS.storeKey, spent);
}

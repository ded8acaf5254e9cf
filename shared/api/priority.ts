/**
 * kube-apiserver's Priority admission: a new pod's `priority` (and `preemptionPolicy`) come from
 * its `priorityClassName`, or from the cluster's globalDefault PriorityClass when it names none
 * (0 when there is none); a name no class has is refused, and so is a `priority` the pod sets
 * itself that its class does not give. The two system classes always exist, as in Kubernetes.
 * The scheduler places pending pods highest priority first.
 */
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';
import type { PriorityClass } from './kinds/priorityclass.js';
import type { Pod } from './schemas/index.js';
import { forbidden } from './status.js';
import { ignore, isAlreadyExists } from '../errors.js';

const CLASSES = 'priorityclasses.scheduling.k8s.io';

/** The classes Kubernetes makes itself (scheduling/v1 SystemPriorityClasses). */
export const SYSTEM_PRIORITY_CLASSES: Record<string, number> = { 'system-node-critical': 2000001000, 'system-cluster-critical': 2000000000 };

/** The system classes, made when missing (kube-apiserver keeps them; they cannot be made through the API). */
export async function ensureSystemPriorityClasses(store: Store): Promise<void> {
  for (const [name, value] of Object.entries(SYSTEM_PRIORITY_CLASSES)) {
    await store
      .create(CLASSES, {
        apiVersion: 'scheduling.k8s.io/v1',
        kind: 'PriorityClass',
        metadata: { name },
        value,
        description: 'Used for system critical pods that must not be moved from their current node.',
        preemptionPolicy: 'PreemptLowerPriority',
      })
      .catch(ignore(isAlreadyExists));
  }
}

/** The globalDefault classes, read at most once a second a store: every pod without a class asks (kube-apiserver reads an informer's cache). */
const defaultsRead = new WeakMap<Store, { at: number; classes: Promise<PriorityClass[]> }>();
function globalDefaults(store: Store): Promise<PriorityClass[]> {
  const kept = defaultsRead.get(store);
  if (kept && Date.now() - kept.at < 1000) return kept.classes;
  const classes = store.list(CLASSES).then((l) => (l.items as PriorityClass[]).filter((c) => c.globalDefault));
  defaultsRead.set(store, { at: Date.now(), classes });
  classes.catch(() => defaultsRead.delete(store));
  return classes;
}

/** Sets the pod's priority from its class (in place); throws 403 Forbidden as kube-apiserver words it. */
export async function admitPriority(pod: KubeObject, store: Store): Promise<void> {
  const spec = (pod as Pod).spec;
  const name = pod.metadata.name || pod.metadata.generateName || '';
  let chosen: { name?: string; value: number; preemptionPolicy?: string };
  if (spec.priorityClassName) {
    const found = (await store.get(CLASSES, '', spec.priorityClassName).catch(() => undefined)) as PriorityClass | undefined;
    if (!found) throw forbidden(`pods "${name}" is forbidden: no PriorityClass with name ${spec.priorityClassName} was found`, { name, kind: 'pods' });
    chosen = { name: spec.priorityClassName, value: found.value ?? 0, preemptionPolicy: found.preemptionPolicy };
  } else {
    const defaults = (await globalDefaults(store)).slice();
    // Several defaults (possible in a race): the lowest, as kube-apiserver picks.
    defaults.sort((a, b) => (a.value ?? 0) - (b.value ?? 0));
    const fallback = defaults[0];
    chosen = fallback ? { name: fallback.metadata.name, value: fallback.value ?? 0, preemptionPolicy: fallback.preemptionPolicy } : { value: 0 };
  }
  if (spec.priority !== undefined && spec.priority !== chosen.value)
    throw forbidden(
      `pods "${name}" is forbidden: the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${chosen.value} from the given PriorityClass name`,
      { name, kind: 'pods' },
    );
  if (chosen.name) spec.priorityClassName = chosen.name;
  spec.priority = chosen.value;
  spec.preemptionPolicy ??= chosen.preemptionPolicy ?? 'PreemptLowerPriority';
}

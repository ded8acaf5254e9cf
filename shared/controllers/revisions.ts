/**
 * The ControllerRevisions of a StatefulSet or DaemonSet, as kube-controller-manager keeps them
 * (its `history` package): one per pod template the set has had, named `<set>-<hash>`, owned by
 * the set and labelled as its pods are (so `kubectl rollout history` finds them by its selector),
 * `data` the strategic merge patch that puts the template back (`kubectl rollout undo` sends it),
 * `revision` counting up. A template the set goes back to gets the next number again, as a
 * rollback does in Kubernetes. Past `revisionHistoryLimit`, the oldest revisions no pod runs go.
 */
import { CONTROLLER_REVISIONS, type ControllerRevision } from '../api/kinds/controllerrevision.js';
import type { StatefulSet } from '../api/schemas/index.js';
import { ignoreNotFound, isAlreadyExists } from '../errors.js';
import type { KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import { fromLabelSelector } from '../store/selectors.js';
import type { Store } from '../store/types.js';
import { controllerRef } from './replicaset.js';

const REVISIONS = CONTROLLER_REVISIONS.storeKey;
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';

interface Owner extends KubeObject {
  spec: { selector: { matchLabels?: Record<string, string> }; template: StatefulSet['spec']['template']; revisionHistoryLimit?: number };
}

/**
 * Makes (or renumbers) the revision `name` for the owner's template; removes old ones past the
 * history limit, keeping those `inUse` names. Resolves to the revision number.
 */
export async function recordRevision(store: Store, owner: Owner, kind: string, name: string, inUse: Set<string>): Promise<number> {
  const namespace = owner.metadata.namespace ?? '';
  const mine = ((await store.list(REVISIONS, { namespace, labelSelector: fromLabelSelector(owner.spec.selector) })).items as ControllerRevision[]).filter((r) =>
    (r.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === owner.metadata.uid),
  );
  const newest = Math.max(0, ...mine.map((r) => r.revision ?? 0));
  const current = mine.find((r) => r.metadata.name === name);
  let number = current?.revision ?? newest + 1;
  if (current && number < newest) {
    number = newest + 1;
    await guaranteedUpdate<ControllerRevision>(store, REVISIONS, namespace, name, (r) => ({ ...r, revision: number })).catch(ignoreNotFound);
  } else if (!current) {
    const cause = owner.metadata.annotations?.[CHANGE_CAUSE];
    const revision: ControllerRevision = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name,
        namespace,
        labels: { ...owner.spec.template.metadata?.labels },
        ...(cause ? { annotations: { [CHANGE_CAUSE]: cause } } : {}),
        ownerReferences: [controllerRef(owner, 'apps/v1', kind)],
      },
      data: { spec: { template: { ...owner.spec.template, $patch: 'replace' } } },
      revision: number,
    };
    await store.create(REVISIONS, revision).catch((err) => {
      if (!isAlreadyExists(err)) throw err;
    });
  }
  const limit = owner.spec.revisionHistoryLimit ?? 10;
  const old = mine.filter((r) => r.metadata.name !== name && !inUse.has(r.metadata.name ?? '')).sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  for (const r of old.slice(0, Math.max(0, old.length - limit))) await store.delete(REVISIONS, namespace, r.metadata.name ?? '').catch(ignoreNotFound);
  return number;
}

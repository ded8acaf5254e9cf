/**
 * The CustomResourceDefinition controller, kube-apiextensions' naming, establishing and
 * finalizing controllers in one: a CRD's names are accepted when no other CRD of its group
 * holds them (NamesAccepted), it is then Established (the API serves the kind from that
 * moment, `shared/api/custom/served.ts`), its storage version is recorded in
 * `status.storedVersions`; a CRD being deleted has every object of its kind deleted first
 * (Terminating), then its cleanup finalizer goes and so does it.
 */
import { CLEANUP_FINALIZER, CRDS, type CustomResourceDefinition, crdCondition } from '../api/kinds/crd.js';
import { withConditions } from '../api/objects.js';
import { storageKindOf } from '../api/custom/kinds.js';
import { Registry } from '../api/registry.js';
import { ignore, ignoreNotFound, isConflict, isNotFound } from '../errors.js';
import { jsonEqual, nowTimestamp, withoutFinalizer, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, Store } from '../store/types.js';
import type { Controller, ReconcileResult } from './types.js';

type Crd = KubeObject & Pick<CustomResourceDefinition, 'spec' | 'status'>;
type Condition = { type: string; status: string; reason: string; message: string; lastTransitionTime?: string };
type Names = CustomResourceDefinition['spec']['names'];

/** A CRD whose names another holds is looked at again this often (the other may go). */
const CONFLICT_RETRY_MS = 5000;
/** A CRD being deleted is looked at again this often while its objects go. */
const CLEANUP_RETRY_MS = 1000;

export class CrdController implements Controller {
  readonly name = 'customresourcedefinition';

  constructor(
    private readonly store: Store,
    private readonly registry = new Registry(store),
  ) {}

  keysFor(event: ChangeEvent): string[] {
    return event.resource === CRDS.storeKey ? [event.object.metadata.name ?? ''] : [];
  }

  async allKeys(): Promise<string[]> {
    return (await this.store.list(CRDS.storeKey)).items.map((c) => c.metadata.name ?? '');
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const crd = (await this.store.get(CRDS.storeKey, '', name).catch(ignoreNotFound)) as Crd | undefined;
    if (!crd) return;
    if (crd.metadata.deletionTimestamp) return this.cleanUp(crd);
    const others = (await this.store.list(CRDS.storeKey)).items.filter((o) => o.metadata.name !== name) as Crd[];
    const conflict = namesConflict(crd, others);
    const accepted: Condition = conflict
      ? { type: 'NamesAccepted', status: 'False', reason: conflict.reason, message: conflict.message }
      : { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' };
    const wasEstablished = crdCondition(crd, 'Established')?.status === 'True';
    const established: Condition =
      conflict && !wasEstablished
        ? { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' }
        : { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' };
    await this.writeStatus(crd, [accepted, established], conflict ? undefined : crd.spec.names);
    if (conflict) return { requeueAfterMs: CONFLICT_RETRY_MS };
  }

  /** Writes the conditions (a transition time each when its status changes), the accepted names and the stored versions. */
  private async writeStatus(crd: Crd, conditions: Condition[], names: Names | undefined): Promise<void> {
    await guaranteedUpdate(this.store, CRDS.storeKey, '', crd.metadata.name ?? '', (current) => {
      const c = current as Crd;
      const status = { ...(c.status ?? {}) } as NonNullable<Crd['status']>;
      status.conditions = withConditions(status.conditions as Condition[] | undefined, conditions, nowTimestamp());
      if (names) status.acceptedNames = names;
      const storage = c.spec.versions.find((v) => v.storage)?.name;
      if (storage && !(status.storedVersions ?? []).includes(storage)) status.storedVersions = [...(status.storedVersions ?? []), storage];
      const updated = { ...c, status };
      return jsonEqual(updated.status, c.status) ? undefined : updated;
    }).catch(ignoreNotFound);
  }

  /** Deletes the CRD's objects (through the API's rules: their finalizers hold), then lets the CRD go. */
  private async cleanUp(crd: Crd): Promise<ReconcileResult | void> {
    if (!(crd.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER)) return;
    const kind = storageKindOf(crd);
    const name = crd.metadata.name ?? '';
    if (kind) {
      const { items } = await this.store.list(kind.info.storeKey);
      if (items.length > 0) {
        await this.writeStatus(
          crd,
          [{ type: 'Terminating', status: 'True', reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' }],
          undefined,
        );
        for (const item of items) {
          if (item.metadata.deletionTimestamp) continue;
          await this.registry
            .delete(kind.info, item.metadata.namespace ?? '', item.metadata.name ?? '', {
              preconditions: { uid: item.metadata.uid },
              propagationPolicy: 'Background',
            })
            .catch(ignore(isNotFound, isConflict));
        }
        return { requeueAfterMs: CLEANUP_RETRY_MS };
      }
    }
    await guaranteedUpdate(this.store, CRDS.storeKey, '', name, (c) => withoutFinalizer(c, CLEANUP_FINALIZER)).catch(ignoreNotFound);
  }
}

/** Which of the CRD's names another CRD of its group has accepted, if any, in kube-apiextensions' words. */
function namesConflict(crd: Crd, others: Crd[]): { reason: string; message: string } | undefined {
  const { group, names } = crd.spec;
  const held = others.filter((o) => o.spec.group === group && !o.metadata.deletionTimestamp).map((o) => o.status?.acceptedNames ?? {});
  const resources = new Set(held.flatMap((n) => [n.plural, n.singular, ...(n.shortNames ?? [])].filter(Boolean)));
  const kinds = new Set(held.flatMap((n) => [n.kind, n.listKind].filter(Boolean)));
  const check: [string, string | undefined, Set<unknown>][] = [
    ['PluralConflict', names.plural, resources],
    ['SingularConflict', names.singular, resources],
    ['KindConflict', names.kind, kinds],
    ['ListKindConflict', names.listKind, kinds],
    ...(names.shortNames ?? []).map((s): [string, string, Set<unknown>] => ['ShortNamesConflict', s, resources]),
  ];
  for (const [reason, value, taken] of check) if (value && taken.has(value)) return { reason, message: `"${value}" is already in use` };
  return undefined;
}

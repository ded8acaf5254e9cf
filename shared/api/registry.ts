/**
 * The API's semantics over the `Store` port: what get, list, create, update, patch and delete
 * mean for any kind, applying the kind's rules (`kinds/`) as kube-apiserver's generic registry
 * applies a strategy. Beside it: the checks every write makes (`write-checks.ts`), a list's
 * resourceVersion rules (`list-version.ts`), scale and binding (`subresources.ts`). HTTP lives
 * in functions/api; this file knows no request or response.
 */
import { isStoreError } from '../store/errors.js';
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import { inParallel } from '../store/parallel.js';
import { parseFieldSelector, parseLabelSelector } from '../store/selectors.js';
import type { ListResult, Store } from '../store/types.js';
import { applyDefaults, initialStatus, resetServerFields, validateCreate, validateUpdate } from './admission.js';
import { checkDeleteRequest, markDeleted } from './deletion.js';
import { readRevision } from './list-version.js';
import { appliedNew, patchedObject } from './patch-request.js';
import { generatedName } from './names.js';
import { recordUpdate } from './patch/index.js';
import { SYSTEM_NAMESPACES } from './kinds/namespace.js';
import { QuotaAdmission } from './quota.js';
import { RESOURCES, groupVersion, kindOf, type ResourceInfo } from './resources.js';
import { asServed, converts, toStorage } from './versions.js';
import { checkFields, checkKind, checkNamespace, type FieldValidation } from './write-checks.js';
import {
  ApiError,
  badRequest,
  conflict,
  expired,
  forbidden,
  invalid,
  namespaceNotFound,
  successStatus,
  toApiError,
  unsupportedMediaType,
  type Status,
  type StatusCause,
} from './status.js';

export type { FieldValidation };

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: FieldValidation;
  /**
   * Checks that need to know who asks (RBAC's escalation check, NodeRestriction), run on the
   * object as it would be written, after defaults and validation; throws to refuse.
   */
  admit?: (object: KubeObject, old: KubeObject | undefined) => Promise<void> | void;
}

export interface DeleteRequest {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** What a write answers: the object, warnings for the Warning header, and whether it was created. */
export interface WriteResult<T = KubeObject> {
  object: T;
  warnings: string[];
  created?: boolean;
  /** What admission noted for the audit log. */
  auditAnnotations?: Record<string, string>;
}

const NAMESPACES = RESOURCES.find((r) => r.resource === 'namespaces')!;
/** Deletions a deletecollection runs at once. */
const DELETE_COLLECTION_WORKERS = 16;

type Obj = Record<string, unknown>;

/** Kinds no quota counts: the system's own busy records (events, leases) would pay two reads a write for nothing. */
const UNQUOTED = new Set(['events', 'events.events.k8s.io', 'leases.coordination.k8s.io']);

export class Registry {
  private readonly quotas: QuotaAdmission;

  constructor(private readonly store: Store) {
    this.quotas = new QuotaAdmission(store);
  }

  /** Creates `default`, `kube-system`, `kube-public` and `kube-node-lease` when missing. */
  async ensureSystemNamespaces(): Promise<void> {
    for (const name of SYSTEM_NAMESPACES) {
      try {
        await this.create(NAMESPACES, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
      }
    }
  }

  // ---- reads -----------------------------------------------------------------------------

  async get(info: ResourceInfo, namespace: string, name: string): Promise<KubeObject> {
    try {
      return asServed(info, await this.store.get(info.storeKey, namespace, name));
    } catch (err) {
      throw toApiError(err, info, name);
    }
  }

  /** Checks a field selector against what the resource supports (400 otherwise). */
  /** Both selectors of a list or watch: a bad one is a 400 naming the problem. */
  checkSelectors(info: ResourceInfo, labelSelector: string | undefined, fieldSelector: string | undefined): void {
    if (labelSelector) {
      try {
        parseLabelSelector(labelSelector);
      } catch (err) {
        throw toApiError(err);
      }
    }
    this.checkFieldSelector(info, fieldSelector);
  }

  private checkFieldSelector(info: ResourceInfo, fieldSelector: string | undefined): void {
    if (!fieldSelector) return;
    const allowed = new Set(['metadata.name', 'metadata.namespace', ...info.fieldSelectors]);
    let parsed: ReturnType<typeof parseFieldSelector>;
    try {
      parsed = parseFieldSelector(fieldSelector);
    } catch (err) {
      throw toApiError(err);
    }
    for (const req of parsed.requirements) {
      if (!allowed.has(req.key)) throw badRequest(`field label not supported: ${req.key}`);
    }
  }

  /** A list, read as `resourceVersion` and `resourceVersionMatch` ask (`list-version.ts`); Exact at a compacted revision is 410. */
  async list(
    info: ResourceInfo,
    namespace: string | undefined,
    options: { labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string; resourceVersion?: string; resourceVersionMatch?: string },
  ): Promise<ListResult> {
    this.checkSelectors(info, options.labelSelector, options.fieldSelector);
    const { resourceVersion: rv, resourceVersionMatch: match, ...rest } = options;
    const exact = await readRevision(this.store, rv, match, options.continue);
    try {
      const result = await this.store.list(info.storeKey, { ...rest, namespace, revision: exact });
      return converts(info) ? { ...result, items: result.items.map((o) => asServed(info, o)) } : result;
    } catch (err) {
      if (isStoreError(err, 'Gone')) {
        if (exact !== undefined) throw expired(`too old resource version: ${exact} (${await this.store.compactedRevision()})`);
        throw new ApiError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      throw toApiError(err, info);
    }
  }

  // ---- create ----------------------------------------------------------------------------

  /** The namespace a new object goes into (undefined for cluster-scoped kinds); refused when missing or terminating. */
  private async requireNamespace(info: ResourceInfo, namespace: string, name: string): Promise<KubeObject | undefined> {
    if (!info.namespaced) return undefined;
    let ns: KubeObject;
    try {
      ns = await this.store.get(NAMESPACES.storeKey, '', namespace);
    } catch (err) {
      if (isStoreError(err, 'NotFound')) throw namespaceNotFound(namespace);
      throw toApiError(err);
    }
    if (ns.metadata.deletionTimestamp) {
      throw forbidden(`${info.resource} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
        kind: info.resource,
      });
    }
    return ns;
  }

  async create(info: ResourceInfo, namespace: string, body: unknown, options: WriteOptions = {}): Promise<WriteResult> {
    const object = checkKind(info, body);
    const { warnings, causes: schemaCauses } = checkFields(info, object, options.fieldValidation);
    checkNamespace(info, object, namespace);
    resetServerFields(object);
    if (info.statusSubresource) {
      const status = initialStatus(info, object);
      if (status === undefined) delete object.status;
      else object.status = status;
    }
    applyDefaults(info, object);
    const name = object.metadata.name ?? '';
    const causes = validateCreate(info, object, schemaCauses);
    if (causes.length) throw invalid(info, name || object.metadata.generateName || '', causes);
    const ns = await this.requireNamespace(info, namespace, name || object.metadata.generateName || '');
    const audit: Record<string, string> = {};
    warnings.push(...((await kindOf(info)?.admit?.(object, { namespace: ns, store: this.store, audit, dryRun: options.dryRun })) ?? []));
    const auditAnnotations = Object.keys(audit).length ? audit : undefined;
    await options.admit?.(object, undefined);
    // LimitRanger and ResourceQuota last, as kube-apiserver orders them: on what will be stored.
    if (info.namespaced && !UNQUOTED.has(info.storeKey)) {
      await this.quotas.limit(info, object, namespace);
      await this.quotas.charge(info, object, namespace, options.dryRun);
    }
    const managed = options.fieldManager ? recordUpdate(undefined, object, { manager: options.fieldManager, gvk: info }) : object;
    if (options.dryRun) {
      const preview = structuredClone(managed);
      if (!preview.metadata.name && preview.metadata.generateName) preview.metadata.name = generatedName(preview.metadata.generateName);
      preview.metadata.uid ||= crypto.randomUUID();
      preview.metadata.creationTimestamp = nowTimestamp();
      preview.metadata.generation = 1;
      return { object: preview, warnings, created: true, auditAnnotations };
    }
    // A generated name that is taken is drawn again, as kube-apiserver does (up to 8 tries).
    // The name is drawn here, not by the store, so it is the one validation allowed for (prefix cut to 58).
    for (let attempt = 1; ; attempt++) {
      const drawn =
        !name && managed.metadata.generateName
          ? { ...managed, metadata: { ...managed.metadata, name: generatedName(managed.metadata.generateName) } }
          : managed;
      try {
        const stored = await this.store.create(info.storeKey, toStorage(info, { ...drawn }));
        // A quota or limit range made here counts for the very next create.
        this.quotas.forget(info.storeKey, namespace);
        return { object: asServed(info, stored), warnings, created: true, auditAnnotations };
      } catch (err) {
        if (!name && managed.metadata.generateName && isStoreError(err, 'AlreadyExists') && attempt < 8) continue;
        throw toApiError(err, info, name || managed.metadata.generateName || '');
      }
    }
  }

  // ---- update ----------------------------------------------------------------------------

  /**
   * PUT semantics: the whole object replaces the stored one (unconditionally when it carries no
   * resourceVersion), except what the subresource split keeps: status for the main resource,
   * everything but status for `/status`.
   */
  async update(
    info: ResourceInfo,
    namespace: string,
    name: string,
    body: unknown,
    options: WriteOptions & { subresource?: string } = {},
  ): Promise<WriteResult> {
    const object = checkKind(info, body);
    const { warnings, causes: schemaCauses } = checkFields(info, object, options.fieldValidation);
    if (object.metadata.name !== undefined && object.metadata.name !== name) {
      throw badRequest(`the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`);
    }
    object.metadata.name = name;
    checkNamespace(info, object, namespace);
    const current = await this.get(info, namespace, name);
    return { object: await this.commitUpdate(info, current, object, { ...options, schemaCauses }), warnings };
  }

  /**
   * Writes `next` over `current` (with `current`'s resourceVersion unless `next` names one) and
   * the kind's admission; also the scale subresource's write.
   */
  async commitUpdate(
    info: ResourceInfo,
    current: KubeObject,
    desired: KubeObject,
    /** owned: `desired` is a private deep copy already (no frozen parts to copy around). */
    options: WriteOptions & { subresource?: string; owned?: boolean; schemaCauses?: StatusCause[] },
  ): Promise<KubeObject> {
    let next: KubeObject;
    if (options.subresource === 'status') {
      next = { ...current, status: desired.status, metadata: { ...current.metadata, resourceVersion: desired.metadata.resourceVersion } };
    } else {
      next = { ...desired, metadata: { ...desired.metadata } };
      if (info.statusSubresource) {
        if (current.status === undefined) delete next.status;
        else next.status = current.status;
      }
      for (const f of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const) {
        if (current.metadata[f] === undefined) delete next.metadata[f];
        else Object.assign(next.metadata, { [f]: current.metadata[f] });
      }
      if (next.metadata.managedFields === undefined && current.metadata.managedFields !== undefined)
        next.metadata.managedFields = current.metadata.managedFields;
    }
    const rv = next.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) {
      throw conflict(info, current.metadata.name ?? '', 'the object has been modified; please apply your changes to the latest version and try again');
    }
    // Stored objects are frozen and shared: everything below works on a private copy.
    if (!options.owned) next = structuredClone(next);
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    applyDefaults(info, next);
    // A /status write keeps the stored spec: only the schema's view of the whole object applies.
    const causes = validateUpdate(info, next, current, options.subresource ? [] : options.schemaCauses);
    if (causes.length) throw invalid(info, current.metadata.name ?? '', causes);
    if (!options.subresource) await kindOf(info)?.admitUpdate?.(next, current, { namespace: undefined, store: this.store, audit: {}, dryRun: options.dryRun });
    await options.admit?.(next, current);
    if (options.fieldManager) next = recordUpdate(current, next, { manager: options.fieldManager, gvk: info, subresource: options.subresource });
    if (options.dryRun) return next;
    try {
      return asServed(info, await this.store.update(info.storeKey, toStorage(info, next)));
    } catch (err) {
      throw toApiError(err, info, current.metadata.name);
    }
  }

  // ---- patch -----------------------------------------------------------------------------

  /**
   * PATCH: applies the patch to the current object and writes it with compare-and-swap,
   * retrying on conflict unless the patch itself names a resourceVersion. Server-side apply
   * of a missing object creates it.
   */
  async patch(
    info: ResourceInfo,
    namespace: string,
    name: string,
    type: PatchType,
    patch: unknown,
    options: WriteOptions & { force?: boolean; subresource?: string } = {},
  ): Promise<WriteResult> {
    // A custom resource has no patch strategies to merge by, as in kube-apiserver.
    if (type === 'strategic' && kindOf(info)?.openApi) {
      throw unsupportedMediaType(
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      );
    }
    for (let attempt = 0; ; attempt++) {
      let current: KubeObject;
      try {
        current = asServed(info, await this.store.get(info.storeKey, namespace, name));
      } catch (err) {
        if (isStoreError(err, 'NotFound') && type === 'apply' && !options.subresource) {
          return this.create(info, namespace, appliedNew(info, name, patch, options), { ...options, fieldManager: undefined });
        }
        throw toApiError(err, info, name);
      }
      const patched = patchedObject(info, namespace, name, type, current, patch, options);
      const explicitRv = patched.metadata.resourceVersion !== current.metadata.resourceVersion;
      const manager = type === 'apply' ? undefined : options.fieldManager;
      const desired = checkKind(info, structuredClone(patched));
      const { warnings, causes: schemaCauses } = checkFields(info, desired, options.fieldValidation);
      try {
        const object = await this.commitUpdate(info, current, desired, { ...options, fieldManager: manager, owned: !options.subresource, schemaCauses });
        return { object, warnings };
      } catch (err) {
        const retry = err instanceof ApiError && err.reason === 'Conflict' && !explicitRv && attempt < 20 && !err.details?.causes;
        if (!retry) throw err;
      }
    }
  }

  // ---- delete ----------------------------------------------------------------------------

  /**
   * DELETE: graceful for pods on a node (deletionTimestamp + grace, the kubelet confirms),
   * propagation as intent for the garbage collector (`orphan` / `foregroundDeletion`
   * finalizers), namespaces held by their finalizer until emptied. Answers the object while it
   * lingers, or a Success Status once it is gone.
   */
  async delete(info: ResourceInfo, namespace: string, name: string, request: DeleteRequest = {}): Promise<{ body: KubeObject | Status; gone: boolean }> {
    const current = await this.get(info, namespace, name);
    checkDeleteRequest(info, name, current, request);
    const goneStatus = (object: KubeObject) => successStatus({ name, group: info.group, kind: info.resource, uid: object.metadata.uid });
    if (request.dryRun) return { body: current, gone: false };

    const rules = kindOf(info)?.deletion ?? {};
    const refused = rules.refuse?.(current);
    if (refused) throw forbidden(`${info.resource} "${name}" is forbidden: ${refused}`, { name, kind: info.resource });
    const extraFinalizers: string[] = [...(rules.finalizers ?? [])];
    if (request.propagationPolicy === 'Orphan') extraFinalizers.push('orphan');
    if (request.propagationPolicy === 'Foreground') extraFinalizers.push('foregroundDeletion');
    const grace = rules.graceSeconds?.(current, request.gracePeriodSeconds) ?? 0;

    if (extraFinalizers.length === 0 && grace === 0 && !current.metadata.deletionTimestamp) {
      try {
        const result = await this.store.delete(info.storeKey, namespace, name, { preconditions: { uid: current.metadata.uid } });
        return result.deleted ? { body: goneStatus(result.object), gone: true } : { body: asServed(info, result.object), gone: false };
      } catch (err) {
        throw toApiError(err, info, name);
      }
    }
    if (current.metadata.deletionTimestamp && grace === 0 && extraFinalizers.length === 0) {
      // Already terminating: a zero grace period (a kubelet's confirmation, or --force) ends it.
      if (rules.graceSeconds && request.gracePeriodSeconds === 0 && (current.metadata.finalizers ?? []).length === 0) {
        const result = await this.store.delete(info.storeKey, namespace, name).catch((err) => {
          throw toApiError(err, info, name);
        });
        return result.deleted ? { body: goneStatus(result.object), gone: true } : { body: asServed(info, result.object), gone: false };
      }
      return { body: current, gone: false };
    }
    // Mark: deletionTimestamp (+ grace for pods), the propagation finalizer, namespace phase.
    const marked = asServed(
      info,
      await guaranteedUpdate(this.store, info.storeKey, namespace, name, (obj) => markDeleted(obj, extraFinalizers, grace, rules)).catch((err) => {
        throw toApiError(err, info, name);
      }),
    );
    const stillThere = await this.store.get(info.storeKey, namespace, name).then(
      () => true,
      () => false,
    );
    return stillThere ? { body: marked, gone: false } : { body: goneStatus(marked), gone: true };
  }

  async deleteCollection(
    info: ResourceInfo,
    namespace: string | undefined,
    selectors: { labelSelector?: string; fieldSelector?: string },
    request: DeleteRequest,
  ): Promise<{ kind: string; apiVersion: string; metadata: Obj; items: KubeObject[] }> {
    const { items } = await this.list(info, namespace, selectors);
    const out: (KubeObject | undefined)[] = new Array(items.length);
    // Several at once, as kube-apiserver's DeleteCollectionWorkers: the store commits them
    // together, so 10,000 pods go in seconds rather than one commit each.
    await inParallel(
      items.map((item, i) => async () => {
        try {
          const { body } = await this.delete(info, item.metadata.namespace ?? '', item.metadata.name ?? '', request);
          out[i] = body.kind === 'Status' ? item : (body as KubeObject);
        } catch (err) {
          if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err;
        }
      }),
      DELETE_COLLECTION_WORKERS,
    );
    return { kind: `${info.kind}List`, apiVersion: groupVersion(info), metadata: {}, items: out.filter((o): o is KubeObject => o !== undefined) };
  }
}

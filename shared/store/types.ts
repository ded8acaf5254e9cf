/**
 * The `Store` port: a revisioned object store with a change log, after etcd as Kubernetes
 * uses it. Every driver (`sqlite.ts`, `dynamodb.ts`) implements it and passes the one
 * contract suite in `test/contract/store.contract.ts`.
 *
 * Keys are (resource, namespace, name). `resource` is the Kubernetes group-resource string:
 * `pods`, `deployments.apps`, `leases.coordination.k8s.io` (the version is not part of the
 * key, as in Kubernetes). Cluster-scoped objects use the namespace `''`.
 *
 * Revisions: one cluster-wide counter that grows by one with every write. An object's
 * `metadata.resourceVersion` is the decimal string of the revision of its last write.
 */
import type { KubeObject } from './object.js';
import type { Selector } from './selectors.js';

export type { KubeObject, ObjectMeta } from './object.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One write, as the change log records it. */
export interface ChangeEvent {
  type: ChangeType;
  resource: string;
  revision: number;
  /** The object after the write; for DELETED, the last state (with the deleting revision). */
  object: KubeObject;
  /** The object before the write; absent for ADDED. */
  prevObject?: KubeObject;
}

/** Sent by a watch when it is caught up: every change up to `revision` was delivered. */
export interface BookmarkEvent {
  type: 'BOOKMARK';
  revision: number;
}

export type WatchEvent = ChangeEvent | BookmarkEvent;

export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

export interface ListOptions {
  /** Undefined lists every namespace. */
  namespace?: string;
  /** A label selector string (`app=web,tier in (a,b),!canary`) or a parsed one. */
  labelSelector?: string | Selector;
  /** A field selector string (`spec.nodeName=n1,status.phase!=Failed`) or a parsed one. */
  fieldSelector?: string | Selector;
  /** At most this many items; a `continue` token is returned when more remain. */
  limit?: number;
  /** Token from a previous page: the next page, consistent with the first page's revision. */
  continue?: string;
  /**
   * List as the store was at this revision, not newer than the head: `GoneError` when it is
   * older than the compacted revision. Ignored with `continue` (the token carries its own).
   */
  revision?: number;
}

export interface ListResult {
  items: KubeObject[];
  /** The revision the whole list (every page of it) is consistent with. */
  revision: number;
  continue?: string;
  /** How many matching items remain after this page, when the driver knows. */
  remainingItemCount?: number;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string | Selector;
  fieldSelector?: string | Selector;
  /**
   * Deliver changes with revision > fromRevision. A list's revision gives exactly the
   * changes after that list. A revision older than the compacted one throws `GoneError`.
   */
  fromRevision: number;
  /** Yield a BOOKMARK at most this often while caught up (no bookmarks when unset). */
  bookmarkIntervalMs?: number;
  /** Ends the watch; the iterator then returns. */
  signal?: AbortSignal;
}

export interface DeleteOptions {
  preconditions?: Preconditions;
}

export interface DeleteResult {
  /** The object as deleted, or as marked for deletion when finalizers hold it. */
  object: KubeObject;
  /** False when finalizers keep the object: it got a deletionTimestamp instead. */
  deleted: boolean;
}

export interface SubscribeOptions {
  /** Replay changes after this revision first; defaults to the current revision. */
  fromRevision?: number;
}

export type ChangeListener = (events: ChangeEvent[]) => void | Promise<void>;

export interface Subscription {
  close(): void;
}

export interface Store {
  /**
   * Stores a new object. Sets uid, creationTimestamp, resourceVersion and generation 1; a
   * `generateName` without a name gets a random suffix. Throws `AlreadyExistsError` when the
   * key exists, `TooLargeError` over `maxObjectBytes`.
   */
  create(resource: string, object: KubeObject): Promise<KubeObject>;

  /** Throws `NotFoundError`. */
  get(resource: string, namespace: string, name: string): Promise<KubeObject>;

  /**
   * Replaces the object at its key. When `object.metadata.resourceVersion` is set it must
   * equal the stored one, else `ConflictError` (compare-and-swap); unset means
   * unconditional. uid and creationTimestamp are kept from the stored object; generation
   * grows when `spec` changed or deletion was requested; a deletionTimestamp once set
   * stays. An object being deleted whose last finalizer this update removes is deleted:
   * the log records DELETED and the returned object is its last state.
   * Throws `NotFoundError`, `ConflictError`, `TooLargeError`.
   */
  update(resource: string, object: KubeObject, options?: { preconditions?: Preconditions }): Promise<KubeObject>;

  /**
   * Deletes the object, or marks it (deletionTimestamp, MODIFIED) when it has finalizers.
   * Deleting an already marked object is idempotent. Throws `NotFoundError`, and
   * `ConflictError` when a precondition does not hold.
   */
  delete(resource: string, namespace: string, name: string, options?: DeleteOptions): Promise<DeleteResult>;

  /** A consistent snapshot; every page of a paged list is consistent with one revision. */
  list(resource: string, options?: ListOptions): Promise<ListResult>;

  /**
   * Changes to `resource` after `options.fromRevision`, in revision order, filtered by
   * namespace and selectors. With selectors an object that starts matching arrives as
   * ADDED and one that stops matching as DELETED, as Kubernetes watches do. Throws
   * `GoneError` (on the first `next()`) when fromRevision is older than the compacted one.
   */
  watch(resource: string, options: WatchOptions): AsyncIterableIterator<WatchEvent>;

  /**
   * In-process consumers (dispatch, controllers): every change of every resource is
   * delivered at least once, in revision order, in batches. A listener that throws gets the
   * same batch again after a short delay.
   */
  subscribe(listener: ChangeListener, options?: SubscribeOptions): Subscription;

  /**
   * A stamp that changes whenever `resource`'s objects may have changed, read without I/O:
   * equal stamps mean an equal list. For caches of encoded lists. Optional: a driver that
   * cannot tell (other processes write the same table) leaves it out, and nothing is cached.
   */
  changeStamp?(resource: string): number;

  /**
   * Data at rest: rewrites the states the change log keeps of `resource`'s objects (the history
   * watches replay) with `rewrite`, which returns the state to keep in place of one, or
   * undefined to leave it. Current objects are not touched: write those with `update`. Returns
   * how many states changed. Optional: a driver whose log cannot be rewritten leaves it out.
   */
  rewriteHistory?(resource: string, rewrite: (object: KubeObject) => Promise<KubeObject | undefined>): Promise<number>;

  /**
   * Forgets what a deleted object held, so that it does not wait for compaction: each of its log
   * entries up to `revision` (the one that deleted it) keeps only the object's apiVersion, kind
   * and metadata, and no previous state. The entries stay, so the log has no holes and a watch
   * replaying it still sees the object come and go. Optional, as `rewriteHistory`.
   */
  forgetHistory?(resource: string, namespace: string, name: string, revision: number): Promise<void>;

  /** The newest revision. */
  currentRevision(): Promise<number>;

  /** The oldest revision a watch may start from (history before it is compacted away). */
  compactedRevision(): Promise<number>;

  /** Trims the change log at and below `revision` (never beyond the current one). */
  compact(revision: number): Promise<void>;

  /** Largest serialized object accepted, in bytes. */
  readonly maxObjectBytes: number;

  close(): Promise<void>;
}

/**
 * What a kind is to the API: everything particular to it, in one object that the generic
 * registry, admission, tables, discovery and OpenAPI apply, as kube-apiserver's generic store
 * applies a kind's strategy. A served kind is one file in this folder and one line in
 * `index.ts`.
 */
import type { z } from 'zod';
import type { Authorizer, RuleLister, UserInfo } from '../../auth/authorizer.js';
import type { Store } from '../../store/types.js';
import type { KubeObject } from '../../store/object.js';
import type { Column } from '../columns.js';
import type { NameRule } from '../names.js';
import type { StatusCause } from '../status.js';

/** What a stored resource serves; a kind that is only asked (a review) serves `create` alone. */
export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export interface ResourceInfo {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural, as in the URL. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  subresources: string[];
  /** Field selectors beyond metadata.name / metadata.namespace. */
  fieldSelectors: string[];
  /** The store's key for this resource: `pods`, `deployments.apps`. */
  storeKey: string;
  /** Writes to the main resource keep the stored status (status is written via /status). */
  statusSubresource: boolean;
  /** The verbs discovery lists and the API serves. */
  verbs: string[];
}

export interface ResourceOptions {
  namespaced?: boolean;
  singular?: string;
  shortNames?: string[];
  categories?: string[];
  subresources?: string[];
  fieldSelectors?: string[];
  verbs?: string[];
}

/** A resource's discovery facts, with Kubernetes' defaults (namespaced, singular = lower-case kind). */
export function resource(group: string, version: string, plural: string, kind: string, opts: ResourceOptions = {}): ResourceInfo {
  const subresources = opts.subresources ?? [];
  return {
    group,
    version,
    resource: plural,
    singular: opts.singular ?? kind.toLowerCase(),
    kind,
    namespaced: opts.namespaced ?? true,
    shortNames: opts.shortNames ?? [],
    categories: opts.categories ?? [],
    subresources,
    fieldSelectors: opts.fieldSelectors ?? [],
    storeKey: group ? `${plural}.${group}` : plural,
    statusSubresource: subresources.includes('status'),
    verbs: opts.verbs ?? ALL_VERBS,
  };
}

/** How deleting an object of the kind goes, beyond the generic (finalizers, then gone). */
export interface DeletionRules {
  /** Finalizers the API adds when the object is deleted (a namespace waits to be emptied). */
  finalizers?: string[];
  /** A reason the object may not be deleted at all (a system namespace), or undefined. */
  refuse?(object: KubeObject): string | undefined;
  /** Seconds the object stays, marked, before it goes (a pod's graceful stop). */
  graceSeconds?(object: KubeObject, requested: number | undefined): number;
  /** The object as marked for deletion, beyond deletionTimestamp (a namespace is Terminating). */
  marked?(object: KubeObject): KubeObject;
}

/** Who asks a review, and what decides it. */
export interface Asker {
  user: UserInfo;
  authorizer: Authorizer;
  /** What the authorizer grants, rule by rule (SelfSubjectRulesReview). */
  rules?: RuleLister;
}

export interface AdmitContext {
  namespace: KubeObject | undefined;
  store: Store;
  /** The request's audit annotations, for admission to note what it saw (Pod Security's audit mode). */
  audit: Record<string, string>;
  /** A dry run: nothing may be kept (a Service's address is drawn, not held). */
  dryRun?: boolean;
}

export interface Kind {
  readonly info: ResourceInfo;
  /** What every write is checked against (types; unknown fields for fieldValidation). */
  readonly schema?: z.ZodType;
  /** The rule its names follow (default: a DNS-1123 subdomain). */
  readonly nameRule?: NameRule;
  /** `kubectl get` columns (default: Name, Age). */
  readonly columns?: Column[];
  /** The status a new object starts with (default: what the client sent). */
  initialStatus?(object: KubeObject): unknown;
  /** Fills Kubernetes' defaults in place. */
  defaults?(object: KubeObject): void;
  /** Adds the causes that make a new (or updated) object invalid. */
  validate?(object: KubeObject, causes: StatusCause[]): void;
  /** Adds the causes of an update that changes what may not change. */
  validateUpdate?(object: KubeObject, old: KubeObject, causes: StatusCause[]): void;
  readonly deletion?: DeletionRules;
  /**
   * Read from elsewhere when asked, never stored (metrics.k8s.io, from the kubelets): get and
   * list are answered by the API's provider for it.
   */
  readonly computed?: boolean;
  /**
   * For a kind that is asked, never stored (SelfSubjectAccessReview): the answer to a POST of
   * `object` (already checked against the schema and validated), with its status filled in.
   */
  review?(object: KubeObject, asker: Asker): Promise<KubeObject>;
  /**
   * Admission that reads the object's namespace (Pod Security by its labels), run on every
   * create after validation, whoever creates (a user or a controller): throws an ApiError to
   * refuse, or answers warnings for the client (the Warning header).
   */
  admit?(object: KubeObject, context: AdmitContext): Promise<string[] | void> | string[] | void;
  /** The same for an update (not of a subresource), given what is stored: may fill in what the change needs (a Service's new NodePorts). */
  admitUpdate?(object: KubeObject, old: KubeObject, context: AdmitContext): Promise<void> | void;
  /** For a kind with no zod schema (a custom resource's): the fields it does not know, which are pruned. */
  unknownFields?(object: KubeObject): UnknownField[];
  /** A custom resource's schema of this version, as OpenAPI publishes it. */
  readonly openApi?: Record<string, unknown>;
  /** The version its objects are stored in, when the kind is served in several (a CRD's). */
  readonly storageVersion?: string;
  /** A stored object as this version serves it, where more than apiVersion differs (default: apiVersion set). */
  fromStorage?(object: KubeObject): KubeObject;
  /** An object of this version as it is stored (default: apiVersion set to the storage version). */
  toStorage?(object: KubeObject): KubeObject;
  /** Where the scale subresource reads and writes, as JSON paths (default: spec.replicas, status.replicas, spec.selector). */
  readonly scale?: ScalePaths;
  /** A warning each write and read of this version gets (a deprecated version). */
  readonly deprecationWarning?: string;
}

export interface UnknownField {
  /** Where the field is (its parent), and its key. */
  path: readonly PropertyKey[];
  key: string;
  /** As Kubernetes names it: `spec.replicaz`. */
  field: string;
}

export interface ScalePaths {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/**
 * What one cluster serves now: the built-in resources and its Established CRDs' kinds, read
 * again only when the CRDs may have changed. With a store that stamps its changes (SQLite) the
 * check costs no I/O and a new CRD is served on the next request; without (DynamoDB, written by
 * other functions) the CRDs are listed again at most once a `maxAgeMs` (half a second), so a
 * CRD is served everywhere within a second of being Established.
 */
import type { Store } from '../../store/types.js';
import { CRDS } from '../kinds/crd.js';
import { BUILT_IN, ServedResources } from '../resources.js';
import { kindsOf } from './kinds.js';

export class ClusterResources {
  private served: ServedResources = BUILT_IN;
  private stamp?: number;
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading?: Promise<ServedResources>;

  constructor(
    private readonly store: Store,
    private readonly maxAgeMs = 500,
  ) {}

  /** The resources as last read, without I/O (for what must not wait: routing a change). */
  current(): ServedResources {
    return this.served;
  }

  /** The custom resources' store keys, each once (a CRD's versions share one). */
  customStoreKeys(): string[] {
    return [...new Set(this.served.custom.map((k) => k.info.storeKey))];
  }

  /** The resources served now (the CRDs read again when they may have changed). */
  async fresh(): Promise<ServedResources> {
    const stamp = this.store.changeStamp?.(CRDS.storeKey);
    const stale = stamp !== undefined ? stamp !== this.stamp : Date.now() - this.loadedAt >= this.maxAgeMs;
    if (!stale) return this.served;
    this.loading ??= this.load(stamp).finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /**
   * After a request for a resource not served: the CRDs read again when they may have changed
   * unseen (no stamps) and were not read in the last tenth of a second; undefined otherwise.
   */
  async missed(): Promise<ServedResources | undefined> {
    if (this.store.changeStamp || Date.now() - this.loadedAt < 100) return undefined;
    this.loadedAt = Number.NEGATIVE_INFINITY;
    return this.fresh();
  }

  private async load(stamp: number | undefined): Promise<ServedResources> {
    const { items } = await this.store.list(CRDS.storeKey, {});
    this.served = new ServedResources(items.flatMap(kindsOf));
    this.stamp = stamp;
    this.loadedAt = Date.now();
    return this.served;
  }
}

const clusters = new WeakMap<Store, ClusterResources>();

/** The served resources of the cluster behind `store` (one table a store). */
export function clusterResources(store: Store): ClusterResources {
  let table = clusters.get(store);
  if (!table) clusters.set(store, (table = new ClusterResources(store)));
  return table;
}

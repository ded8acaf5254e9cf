/**
 * Secrets encrypted at rest: a `Store` in front of the driver that seals the objects of the
 * sealed resources (Secrets, and the service-account signing keys) on their way in and opens
 * them on their way out, so the driver, its file or table, its change log and its stream only
 * ever hold ciphertext. Every other resource passes straight through.
 *
 * A deleted Secret's history is forgotten at once (`Store.forgetHistory`) instead of staying
 * in the log until compaction. An update that changes nothing keeps the stored ciphertext, so
 * it stays a no-op as in the driver.
 */
import type {
  ChangeEvent,
  ChangeListener,
  DeleteOptions,
  DeleteResult,
  KubeObject,
  ListOptions,
  ListResult,
  Preconditions,
  Store,
  SubscribeOptions,
  Subscription,
  WatchEvent,
  WatchOptions,
} from '../store/types.js';
import { jsonEqual, randomSuffix } from '../store/object.js';
import type { Keyring } from './keyring.js';
import { Sealer, sealedOf } from './sealer.js';

export const SEALED_RESOURCES: ReadonlySet<string> = new Set(['secrets', 'signingkeys', 'kubeletcredentials', 'clusterca']);

export class SealedStore implements Store {
  readonly sealer: Sealer;
  readonly maxObjectBytes: number;

  constructor(
    readonly inner: Store,
    keyring: Keyring,
    readonly resources: ReadonlySet<string> = SEALED_RESOURCES,
  ) {
    this.sealer = new Sealer(keyring);
    this.maxObjectBytes = inner.maxObjectBytes;
    if (inner.changeStamp) this.changeStamp = (resource) => inner.changeStamp!(resource);
  }

  changeStamp?: (resource: string) => number;

  private sealed(resource: string): boolean {
    return this.resources.has(resource);
  }

  /** The object as stored, opened (an object written before encryption is returned as it is). */
  open(resource: string, object: KubeObject): Promise<KubeObject> {
    return this.sealer.open(resource, object);
  }

  async create(resource: string, object: KubeObject): Promise<KubeObject> {
    if (!this.sealed(resource)) return this.inner.create(resource, object);
    // The name is part of what the ciphertext is bound to: settle a generated one first.
    const named = object.metadata.name
      ? object
      : { ...object, metadata: { ...object.metadata, name: `${object.metadata.generateName ?? ''}${randomSuffix()}` } };
    return this.open(resource, await this.inner.create(resource, await this.sealer.seal(resource, named)));
  }

  async get(resource: string, namespace: string, name: string): Promise<KubeObject> {
    const object = await this.inner.get(resource, namespace, name);
    return this.sealed(resource) ? this.open(resource, object) : object;
  }

  async update(resource: string, object: KubeObject, options?: { preconditions?: Preconditions }): Promise<KubeObject> {
    if (!this.sealed(resource)) return this.inner.update(resource, object, options);
    return this.open(resource, await this.inner.update(resource, await this.sealForUpdate(resource, object), options));
  }

  /** Sealed again only when what it holds changed (or its key is retired): else the stored ciphertext. */
  private async sealForUpdate(resource: string, object: KubeObject): Promise<KubeObject> {
    const stored = await this.inner.get(resource, object.metadata.namespace ?? '', object.metadata.name ?? '').catch(() => undefined);
    if (stored && sealedOf(stored) && !this.sealer.needsSealing(stored)) {
      const opened = await this.open(resource, stored);
      const { metadata: _a, ...was } = opened;
      const { metadata, ...now } = object;
      if (jsonEqual(was, now)) return { ...stored, metadata } as KubeObject;
    }
    return this.sealer.seal(resource, object);
  }

  async delete(resource: string, namespace: string, name: string, options?: DeleteOptions): Promise<DeleteResult> {
    const result = await this.inner.delete(resource, namespace, name, options);
    if (!this.sealed(resource)) return result;
    if (result.deleted) await this.inner.forgetHistory?.(resource, namespace, name, Number(result.object.metadata.resourceVersion));
    return { ...result, object: await this.open(resource, result.object) };
  }

  async list(resource: string, options?: ListOptions): Promise<ListResult> {
    const result = await this.inner.list(resource, options);
    if (!this.sealed(resource)) return result;
    return { ...result, items: await Promise.all(result.items.map((item) => this.open(resource, item))) };
  }

  watch(resource: string, options: WatchOptions): AsyncIterableIterator<WatchEvent> {
    const events = this.inner.watch(resource, options);
    return this.sealed(resource) ? this.opened(events) : events;
  }

  private async *opened(events: AsyncIterableIterator<WatchEvent>): AsyncIterableIterator<WatchEvent> {
    for await (const event of events) yield event.type === 'BOOKMARK' ? event : await this.openEvent(event);
  }

  subscribe(listener: ChangeListener, options?: SubscribeOptions): Subscription {
    return this.inner.subscribe(async (events) => {
      if (!events.some((e) => this.sealed(e.resource))) return listener(events);
      return listener(await Promise.all(events.map((e) => (this.sealed(e.resource) ? this.openEvent(e) : e))));
    }, options);
  }

  private async openEvent(event: ChangeEvent): Promise<ChangeEvent> {
    const object = await this.open(event.resource, event.object);
    const prevObject = event.prevObject && (await this.open(event.resource, event.prevObject));
    return { ...event, object, ...(prevObject ? { prevObject } : {}) };
  }

  rewriteHistory(resource: string, rewrite: (object: KubeObject) => Promise<KubeObject | undefined>): Promise<number> {
    if (!this.inner.rewriteHistory) return Promise.resolve(0);
    return this.inner.rewriteHistory(resource, rewrite);
  }

  currentRevision(): Promise<number> {
    return this.inner.currentRevision();
  }

  compactedRevision(): Promise<number> {
    return this.inner.compactedRevision();
  }

  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The store sealed under the keyring the environment names (`SKIFF_KMS_KEY_ID`), or as it is. */
export async function sealedWhenAsked(store: Store): Promise<Store> {
  const { keyringFromEnv } = await import('./kms-keyring.js');
  const keyring = keyringFromEnv();
  return keyring ? new SealedStore(store, keyring) : store;
}

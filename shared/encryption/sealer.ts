/**
 * Envelope encryption of one stored object. What a Secret holds (`data`, `stringData`, anything
 * but its identity) is sealed with AES-256-GCM under a data key; the data key is wrapped by the
 * keyring's current key-encryption key and stored beside the ciphertext:
 *
 *   { apiVersion, kind, metadata, type, immutable,
 *     sealed: { key: 'key-2', dek: <wrapped data key>, data: <iv | ciphertext | tag> } }
 *
 * The object's resource, namespace and name are the ciphertext's associated data, so a sealed
 * value moved to another object does not open. Metadata stays readable: the store keys, lists
 * and selects on it. One data key seals many writes (a fresh 96-bit IV each, far below GCM's
 * limit) and is replaced when the key-encryption key changes, so a write costs no keyring call;
 * unwrapped data keys are cached, so a read costs one AES-GCM open.
 */
import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../store/object.js';
import { type Keyring, aesGcmOpen, aesGcmSeal } from './keyring.js';

export interface SealedValue {
  /** The key-encryption key that wrapped `dek`. */
  key: string;
  dek: string;
  data: string;
}

/** What stays readable: the object's identity and what lists select on. */
const OPEN_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'type', 'immutable']);
/** A data key seals at most this many writes (GCM with random IVs allows 2^32). */
const MAX_USES = 1 << 24;
const CACHED_KEYS = 1024;

interface DataKey {
  keyId: string;
  plain: Uint8Array;
  wrapped: string;
  uses: number;
}

export function sealedOf(object: KubeObject): SealedValue | undefined {
  return (object as { sealed?: SealedValue }).sealed;
}

function associatedData(resource: string, object: KubeObject): string {
  return `${resource}/${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
}

export class Sealer {
  private dataKey?: DataKey;
  private making?: Promise<DataKey>;
  private readonly opened = new Map<string, Promise<Uint8Array>>();

  constructor(readonly keyring: Keyring) {}

  /** The object with everything but its identity sealed (the name must be set). */
  async seal(resource: string, object: KubeObject): Promise<KubeObject> {
    const open: Record<string, unknown> = {};
    const secret: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(object)) (OPEN_FIELDS.has(field) ? open : secret)[field] = value;
    const key = await this.currentDataKey();
    const data = aesGcmSeal(key.plain, Buffer.from(JSON.stringify(secret)), associatedData(resource, object)).toString('base64');
    return { ...open, sealed: { key: key.keyId, dek: key.wrapped, data } satisfies SealedValue } as unknown as KubeObject;
  }

  /** The object as it was before `seal`; an object that is not sealed is returned as it is. */
  async open(resource: string, object: KubeObject): Promise<KubeObject> {
    const sealed = sealedOf(object);
    if (!sealed) return object;
    const key = await this.unwrap(sealed);
    const plain = aesGcmOpen(key, Buffer.from(sealed.data, 'base64'), associatedData(resource, object));
    const { sealed: _, ...rest } = object as KubeObject & { sealed: SealedValue };
    return { ...rest, ...(JSON.parse(plain.toString('utf8')) as object) } as KubeObject;
  }

  /**
   * True when the stored object must be sealed (again): it is sealed under a retired key, or it
   * holds something but is not sealed (written before encryption was on).
   */
  needsSealing(object: KubeObject): boolean {
    const sealed = sealedOf(object);
    if (sealed) return sealed.key !== this.keyring.currentKeyId();
    return Object.keys(object).some((field) => !OPEN_FIELDS.has(field));
  }

  private async currentDataKey(): Promise<DataKey> {
    const held = this.dataKey;
    if (held && held.keyId === this.keyring.currentKeyId() && held.uses < MAX_USES) {
      held.uses++;
      return held;
    }
    // Writes that arrive together wait for one new data key.
    this.making ??= this.makeDataKey().finally(() => {
      this.making = undefined;
    });
    const key = await this.making;
    this.dataKey = key;
    key.uses++;
    return key;
  }

  private async makeDataKey(): Promise<DataKey> {
    const plain = randomBytes(32);
    const { keyId, wrapped } = await this.keyring.wrap(plain);
    const key = { keyId, plain, wrapped: Buffer.from(wrapped).toString('base64'), uses: 0 };
    this.opened.set(`${keyId}:${key.wrapped}`, Promise.resolve(plain));
    return key;
  }

  private unwrap(sealed: SealedValue): Promise<Uint8Array> {
    const id = `${sealed.key}:${sealed.dek}`;
    let key = this.opened.get(id);
    if (!key) {
      if (this.opened.size >= CACHED_KEYS) this.opened.clear();
      key = this.keyring.unwrap(sealed.key, Buffer.from(sealed.dek, 'base64'));
      // A key that failed to open (a keyring outage) is asked for again next time.
      key.catch(() => this.opened.delete(id));
      this.opened.set(id, key);
    }
    return key;
  }
}

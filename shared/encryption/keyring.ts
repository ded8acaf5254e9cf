/**
 * The `Keyring` port: key-encryption keys (KEKs) that wrap the data keys Secrets are sealed
 * with (envelope encryption, `sealer.ts`). A KEK never leaves its keyring; only data keys are
 * wrapped and unwrapped. The embedded shape's keyring is a key file in the data directory
 * (`LocalKeyring`); the AWS shape's is a KMS key id behind the same three calls.
 *
 * Rotation: a new KEK becomes current, new data keys are wrapped with it, and the background
 * re-encryption (`reencrypt.ts`) seals every stored Secret again, history included; a retired
 * KEK is dropped once nothing sealed with it is left.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileStamp, writeFileAtomically } from '../files.js';

export interface Keyring {
  /** The id of the KEK that wraps new data keys; changes when the keys are rotated. */
  currentKeyId(): string;
  wrap(dataKey: Uint8Array): Promise<{ keyId: string; wrapped: Uint8Array }>;
  /** Throws when `keyId` is not (or no longer) in the keyring. */
  unwrap(keyId: string, wrapped: Uint8Array): Promise<Uint8Array>;
  /** The KEKs held besides the current one (retired, kept to unwrap what they sealed). */
  retiredKeyIds(): string[];
  /** Drops retired KEKs that nothing sealed uses any more (after a complete re-encryption). */
  dropRetired(keep: ReadonlySet<string>): Promise<string[]>;
}

/** The key file: `current` wraps new data keys; the others are retired. */
export interface KeyFile {
  current: string;
  keys: { id: string; secret: string; createdAt: string }[];
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM: iv | ciphertext | tag. */
export function aesGcmSeal(key: Uint8Array, plain: Uint8Array, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function aesGcmOpen(key: Uint8Array, sealed: Uint8Array, aad: string): Buffer {
  const data = Buffer.from(sealed);
  if (data.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is too short');
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  return Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
}

function newKey(id: string): KeyFile['keys'][number] {
  return { id, secret: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() };
}

/** The key file is replaced whole (`writeFileAtomically`): a crash leaves the old keys or the new ones. */
function writeKeyFile(path: string, file: KeyFile): void {
  writeFileAtomically(path, JSON.stringify(file, null, 2));
}

function readKeyFile(path: string): KeyFile {
  const file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
  if (!file.keys?.some((k) => k.id === file.current)) throw new Error(`${path}: the current key "${file.current}" is not among its keys`);
  return file;
}

/** Adds a key and makes it current; the old current one is retired. Returns the new id. */
export function rotateKeyFile(path: string): string {
  const file = readKeyFile(path);
  const next = Math.max(0, ...file.keys.map((k) => Number(/^key-(\d+)$/.exec(k.id)?.[1] ?? 0))) + 1;
  const key = newKey(`key-${next}`);
  writeKeyFile(path, { current: key.id, keys: [...file.keys, key] });
  return key.id;
}

/**
 * The embedded shape's keyring: the KEKs in a file of the data directory (0600), made with one
 * key on first use. Follows the file: a rotation by `skiff keys rotate` takes effect within a
 * second in the running server.
 */
export class LocalKeyring implements Keyring {
  private file: KeyFile;
  private keys = new Map<string, Buffer>();
  private seen = '';
  private checkedAt = 0;

  constructor(readonly path: string) {
    if (!existsSync(path)) writeKeyFile(path, { current: 'key-1', keys: [newKey('key-1')] });
    this.file = this.load();
  }

  currentKeyId(): string {
    this.reload();
    return this.file.current;
  }

  retiredKeyIds(): string[] {
    this.reload();
    return this.file.keys.map((k) => k.id).filter((id) => id !== this.file.current);
  }

  async wrap(dataKey: Uint8Array): Promise<{ keyId: string; wrapped: Uint8Array }> {
    const keyId = this.currentKeyId();
    return { keyId, wrapped: aesGcmSeal(this.keys.get(keyId)!, dataKey, keyId) };
  }

  async unwrap(keyId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    let key = this.keys.get(keyId);
    if (!key) {
      this.checkedAt = 0;
      this.reload();
      key = this.keys.get(keyId);
    }
    if (!key) throw new Error(`key-encryption key "${keyId}" is not in ${this.path}`);
    return aesGcmOpen(key, wrapped, keyId);
  }

  async dropRetired(keep: ReadonlySet<string>): Promise<string[]> {
    this.checkedAt = 0;
    this.reload();
    const dropped = this.file.keys.filter((k) => k.id !== this.file.current && !keep.has(k.id)).map((k) => k.id);
    if (dropped.length === 0) return [];
    writeKeyFile(this.path, { current: this.file.current, keys: this.file.keys.filter((k) => !dropped.includes(k.id)) });
    this.file = this.load();
    return dropped;
  }

  /** Reads the file again when it changed (looked at no more than once a second). */
  private reload(): void {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    if (fileStamp(this.path) !== this.seen) this.file = this.load();
  }

  private load(): KeyFile {
    this.seen = fileStamp(this.path);
    const file = readKeyFile(this.path);
    this.keys = new Map(file.keys.map((k) => [k.id, Buffer.from(k.secret, 'base64')]));
    this.checkedAt = Date.now();
    return file;
  }
}

/**
 * The AWS shape's keyring against a KMS emulator speaking KMS's wire protocol to the real SDK
 * client: Secrets sealed under a KMS key (named by alias), one Encrypt for many writes and one
 * Decrypt for many reads, a disabled key refusing reads without harming what is stored, and a
 * move to another KMS key by re-encryption.
 */
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KmsKeyring, keyringFromEnv } from '../../shared/encryption/kms-keyring.js';
import { reencryptPass } from '../../shared/encryption/reencrypt.js';
import { SealedStore } from '../../shared/encryption/sealed-store.js';
import { sealedOf } from '../../shared/encryption/sealer.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { type FakeKms, startFakeKms } from '../../emulators/kms.js';

let kms: FakeKms;
let client: KMSClient;
beforeAll(async () => {
  kms = await startFakeKms();
  client = new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
afterAll(async () => {
  client?.destroy();
  await kms?.close();
});

const secret = (name: string, value: string): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    type: 'Opaque',
    data: { v: Buffer.from(value).toString('base64') },
  }) as KubeObject;
const plainOf = (o: KubeObject) => Buffer.from((o as unknown as { data: { v: string } }).data.v, 'base64').toString();
const calls = (action: string) => kms.requests.filter((r) => r.action === action).length;

async function newKey(alias?: string): Promise<string> {
  const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'skiff secrets' }));
  if (alias) await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: KeyMetadata!.KeyId }));
  return KeyMetadata!.KeyId!;
}

describe('KMS keyring', () => {
  let inner: Store;
  beforeAll(() => {
    inner = openSqliteStore({ path: ':memory:' });
  });
  afterAll(async () => {
    await inner.close();
  });

  it('seals under a KMS key: one Encrypt for many writes, one Decrypt for many reads', async () => {
    const keyId = await newKey();
    await client.send(new CreateAliasCommand({ AliasName: 'alias/skiff-secrets', TargetKeyId: keyId }));
    const store = new SealedStore(inner, new KmsKeyring('alias/skiff-secrets', client));
    const encrypts = calls('Encrypt');
    for (let i = 0; i < 10; i++) await store.create('secrets', secret(`s${i}`, `value-${i}`));
    expect(calls('Encrypt') - encrypts).toBe(1);
    expect(sealedOf(await inner.get('secrets', 'default', 's3'))?.key).toBe('alias/skiff-secrets');
    expect(JSON.stringify(await inner.get('secrets', 'default', 's3'))).not.toContain(Buffer.from('value-3').toString('base64'));
    // Another process (a cold Lambda) reads them all with one Decrypt.
    const decrypts = calls('Decrypt');
    const cold = new SealedStore(inner, new KmsKeyring('alias/skiff-secrets', client));
    const listed = await cold.list('secrets');
    expect(listed.items.map(plainOf)).toEqual(Array.from({ length: 10 }, (_, i) => `value-${i}`));
    expect(calls('Decrypt') - decrypts).toBe(1);
    expect(kms.requests.find((r) => r.action === 'Encrypt')?.params.EncryptionContext).toEqual({ 'skiff.io/purpose': 'secret-data-key' });
  });

  it('a disabled key refuses reads, and what is stored is unharmed once it is enabled again', async () => {
    const keyId = await newKey();
    const store = new SealedStore(inner, new KmsKeyring(keyId, client));
    await store.create('secrets', secret('guarded', 'still-here'));
    const before = await inner.get('secrets', 'default', 'guarded');
    await client.send(new DisableKeyCommand({ KeyId: keyId }));
    const cold = () => new SealedStore(inner, new KmsKeyring(keyId, client));
    await expect(cold().get('secrets', 'default', 'guarded')).rejects.toThrow(/is disabled/);
    expect(await inner.get('secrets', 'default', 'guarded')).toEqual(before);
    await client.send(new EnableKeyCommand({ KeyId: keyId }));
    expect(plainOf(await cold().get('secrets', 'default', 'guarded'))).toBe('still-here');
  });

  it('moving to another KMS key seals every Secret under it; the old ones still open until then', async () => {
    const first = await newKey();
    const second = await newKey();
    const own = openSqliteStore({ path: ':memory:' });
    try {
      const old = new SealedStore(own, new KmsKeyring(first, client));
      for (let i = 0; i < 5; i++) await old.create('secrets', secret(`m${i}`, `moved-${i}`));
      const moved = new SealedStore(own, new KmsKeyring(second, client));
      expect(plainOf(await moved.get('secrets', 'default', 'm0'))).toBe('moved-0');
      const pass = await reencryptPass(moved);
      expect(pass.objects).toBe(5);
      expect((await own.list('secrets')).items.map((o) => sealedOf(o)?.key)).toEqual(Array(5).fill(second));
      expect((await moved.list('secrets')).items.map(plainOf)).toEqual(Array.from({ length: 5 }, (_, i) => `moved-${i}`));
    } finally {
      await own.close();
    }
  });

  it('the environment names the key: SKIFF_KMS_KEY_ID and SKIFF_KMS_ENDPOINT', async () => {
    expect(keyringFromEnv({})).toBeUndefined();
    const keyId = await newKey('alias/from-env');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    try {
      const keyring = keyringFromEnv({ SKIFF_KMS_KEY_ID: 'alias/from-env', SKIFF_KMS_ENDPOINT: kms.endpoint })!;
      expect(keyring.currentKeyId()).toBe('alias/from-env');
      const { wrapped } = await keyring.wrap(Buffer.alloc(32, 7));
      expect(Buffer.from(await keyring.unwrap('alias/from-env', wrapped))).toEqual(Buffer.alloc(32, 7));
      await expect(keyring.unwrap(keyId, Buffer.from('not a ciphertext'))).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

/**
 * The AWS shape's keyring: the key-encryption key is a KMS key (an id, ARN or alias), which
 * never leaves KMS. A data key is wrapped with `Encrypt` and unwrapped with `Decrypt`, both
 * under an encryption context that names what it is for, so a wrapped key taken elsewhere does
 * not decrypt. KMS rotates a key's material itself (old ciphertexts still decrypt), so there is
 * nothing to drop here; moving Secrets to another KMS key is changing the configured id, after
 * which the re-encryption seals each Secret under the new one.
 */
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import type { Keyring } from './keyring.js';

const CONTEXT = { 'skiff.io/purpose': 'secret-data-key' };

export class KmsKeyring implements Keyring {
  constructor(
    private readonly keyId: string,
    private readonly client: KMSClient,
  ) {}

  currentKeyId(): string {
    return this.keyId;
  }

  async wrap(dataKey: Uint8Array): Promise<{ keyId: string; wrapped: Uint8Array }> {
    const out = await this.client.send(new EncryptCommand({ KeyId: this.keyId, Plaintext: dataKey, EncryptionContext: CONTEXT }));
    if (!out.CiphertextBlob) throw new Error(`KMS answered no ciphertext for key ${this.keyId}`);
    return { keyId: this.keyId, wrapped: out.CiphertextBlob };
  }

  async unwrap(keyId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    // A symmetric ciphertext names its key; naming it too makes KMS refuse a blob of another key.
    const out = await this.client.send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: keyId, EncryptionContext: CONTEXT }));
    if (!out.Plaintext) throw new Error(`KMS answered no plaintext for key ${keyId}`);
    return out.Plaintext;
  }

  retiredKeyIds(): string[] {
    return [];
  }

  async dropRetired(): Promise<string[]> {
    return [];
  }
}

/**
 * The keyring the environment names: `SKIFF_KMS_KEY_ID` (with `SKIFF_KMS_ENDPOINT` for an
 * emulator, `AWS_REGION` as usual); none when unset.
 */
export function keyringFromEnv(env: NodeJS.ProcessEnv = process.env): Keyring | undefined {
  if (!env.SKIFF_KMS_KEY_ID) return undefined;
  return new KmsKeyring(env.SKIFF_KMS_KEY_ID, new KMSClient({ ...(env.SKIFF_KMS_ENDPOINT ? { endpoint: env.SKIFF_KMS_ENDPOINT } : {}) }));
}

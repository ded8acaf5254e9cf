/**
 * A KMS endpoint on loopback for the tests of the KMS keyring: no local KMS engine exists, so
 * this speaks KMS's JSON 1.1 protocol (`X-Amz-Target: TrentService.<Action>`) to the real AWS
 * SDK over real HTTP, for CreateKey, CreateAlias, Encrypt, Decrypt, DisableKey and EnableKey.
 * It checks what the KMS API reference documents (a signed request; Plaintext 1 to 4,096
 * bytes; a key named by id, ARN, alias or alias ARN; the encryption context a ciphertext was
 * made with; a disabled key refusing both ways) and answers in the documented shapes and error
 * types. Ciphertexts are AES-256-GCM under the key's own material, opaque to the caller.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { AwsJsonError, type JsonActions, type JsonService, serveJson11 } from './json-service.js';

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const arnOf = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;

interface FakeKey {
  id: string;
  material: Buffer;
  enabled: boolean;
  createdAt: number;
}

export type FakeKms = JsonService;

/** The encryption context as associated data: its pairs sorted, so their order does not matter. */
const contextAad = (context: unknown) =>
  Buffer.from(JSON.stringify(Object.entries((context ?? {}) as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));

/** The actions this emulator answers, over its keys and aliases. */
function kmsActions(keys: Map<string, FakeKey>, aliases: Map<string, string>): JsonActions {
  const keyOf = (keyId: unknown): FakeKey => {
    if (typeof keyId !== 'string' || !keyId)
      throw new AwsJsonError('ValidationException', "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    let id = keyId;
    if (id.startsWith(`arn:aws:kms:${REGION}:${ACCOUNT}:`)) id = id.slice(`arn:aws:kms:${REGION}:${ACCOUNT}:`.length);
    if (id.startsWith('alias/')) id = aliases.get(id) ?? id;
    if (id.startsWith('key/')) id = id.slice('key/'.length);
    const key = keys.get(id);
    if (!key)
      throw new AwsJsonError('NotFoundException', `Key '${keyId.startsWith('arn:') || keyId.startsWith('alias/') ? keyId : arnOf(keyId)}' does not exist`);
    return key;
  };
  const usable = (key: FakeKey) => {
    if (!key.enabled) throw new AwsJsonError('DisabledException', `${arnOf(key.id)} is disabled.`);
    return key;
  };
  const blob = (value: unknown, name: string, max: number): Buffer => {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    if (bytes.length < 1 || bytes.length > max)
      throw new AwsJsonError(
        'ValidationException',
        `1 validation error detected: Value at '${name}' failed to satisfy constraint: Member must have length between 1 and ${max}`,
      );
    return bytes;
  };

  return {
    CreateKey(params) {
      const key: FakeKey = { id: randomUUID(), material: randomBytes(32), enabled: true, createdAt: Date.now() / 1000 };
      keys.set(key.id, key);
      return {
        KeyMetadata: {
          AWSAccountId: ACCOUNT,
          KeyId: key.id,
          Arn: arnOf(key.id),
          CreationDate: key.createdAt,
          Enabled: true,
          Description: String(params.Description ?? ''),
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeyState: 'Enabled',
          Origin: 'AWS_KMS',
          KeyManager: 'CUSTOMER',
          KeySpec: 'SYMMETRIC_DEFAULT',
          EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
          MultiRegion: false,
        },
      };
    },
    CreateAlias(params) {
      const name = String(params.AliasName ?? '');
      if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(name) || name.startsWith('alias/aws/'))
        throw new AwsJsonError('ValidationException', `Alias must start with the prefix "alias/" and not use "alias/aws/": ${name}`);
      if (aliases.has(name)) throw new AwsJsonError('AlreadyExistsException', `An alias with the name ${arnOf(name)} already exists`);
      aliases.set(name, keyOf(params.TargetKeyId).id);
      return {};
    },
    Encrypt(params) {
      const key = usable(keyOf(params.KeyId));
      const plain = blob(params.Plaintext, 'plaintext', 4096);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key.material, iv);
      cipher.setAAD(contextAad(params.EncryptionContext));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      const ciphertext = Buffer.concat([Buffer.from(key.id, 'ascii'), iv, body, cipher.getAuthTag()]);
      return { CiphertextBlob: ciphertext.toString('base64'), KeyId: arnOf(key.id), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    Decrypt(params) {
      const data = blob(params.CiphertextBlob, 'ciphertextBlob', 6144);
      const key = keys.get(data.subarray(0, 36).toString('ascii'));
      if (!key || data.length < 36 + 12 + 16) throw new AwsJsonError('InvalidCiphertextException', '');
      if (params.KeyId !== undefined && keyOf(params.KeyId) !== key)
        throw new AwsJsonError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      usable(key);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.material, data.subarray(36, 48));
        decipher.setAAD(contextAad(params.EncryptionContext));
        decipher.setAuthTag(data.subarray(data.length - 16));
        const plain = Buffer.concat([decipher.update(data.subarray(48, data.length - 16)), decipher.final()]);
        return { KeyId: arnOf(key.id), Plaintext: plain.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      } catch {
        // A wrong encryption context or a damaged blob: KMS says no more than this.
        throw new AwsJsonError('InvalidCiphertextException', '');
      }
    },
    DisableKey(params) {
      keyOf(params.KeyId).enabled = false;
      return {};
    },
    EnableKey(params) {
      keyOf(params.KeyId).enabled = true;
      return {};
    },
  };
}

export async function startFakeKms(): Promise<FakeKms> {
  return serveJson11({ targetPrefix: 'TrentService', actions: kmsActions(new Map(), new Map()), internalError: 'KMSInternalException' });
}

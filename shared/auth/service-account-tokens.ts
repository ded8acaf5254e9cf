/**
 * ServiceAccount tokens as kube-apiserver issues them: JWTs signed with a key the cluster keeps
 * in the store (an internal resource the API never serves), asked for with TokenRequest
 * (`kubectl create token`), each with an audience, an expiry, and optionally bound to a pod or
 * a secret. A token stops working when it expires, or when its ServiceAccount (or the object it
 * is bound to) is deleted: authentication checks their uids. The public keys are published as a
 * JWKS with an OpenID discovery document, so others can check the tokens too.
 *
 * Keys rotate: a new one signs once the newest is `rotateAfterMs` old, and the old ones stay in
 * the JWKS while tokens they signed may still be valid (`maxExpirationSeconds` past the rotation).
 */
import { type JWK, SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, decodeJwt, decodeProtectedHeader, type CryptoKey } from 'jose';
import { randomUUID } from 'node:crypto';
import { isAlreadyExists, isNotFound } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { KubeObject } from '../store/object.js';
import type { Store } from '../store/types.js';
import { SA_PREFIX, type UserInfo } from './authorizer.js';

/** Internal and cluster-scoped: the API serves no such resource. */
export const SIGNING_KEYS_RESOURCE = 'signingkeys';
const RING_NAME = 'service-account-issuer';
const ALG = 'ES256';

interface SigningKey {
  kid: string;
  /** ms since the epoch. */
  createdAt: number;
  privateJwk: JWK;
  publicJwk: JWK;
}

interface KeyRing extends KubeObject {
  keys: SigningKey[];
}

export interface ServiceAccountTokenOptions {
  /** The `iss` of every token, and the default audience (kube-apiserver's --service-account-issuer). */
  issuer?: string;
  /** Where the JWKS is served, for the discovery document. */
  jwksUri?: string;
  /** A new key signs once the newest is this old (default 7 days). */
  rotateAfterMs?: number;
  /** The longest a token may live (default 24 h); also how long a retired key stays published. */
  maxExpirationSeconds?: number;
  /**
   * kube-apiserver's --service-account-extend-token-expiration (default on): a token bound to a
   * pod that asks for 3607 s, as a projected volume does by default, lives a year, its
   * `warnafter` claim at the 3607 s asked for. A client that never rereads its token file (or a
   * pod whose files are written once, as on ECS) keeps working while its pod lives; the token
   * still dies with the pod.
   */
  extendExpiration?: boolean;
  now?: () => number;
}

/** What a projected volume asks for by default, and what an extended token lives instead. */
export const WARN_ONLY_SECONDS = 3607;
export const EXTENDED_SECONDS = 365 * 24 * 3600;

/** What a token is bound to: it stops working when that object is gone. */
export interface BoundObject {
  kind: 'Pod' | 'Secret' | 'Node';
  name: string;
  uid: string;
}

export interface TokenClaims {
  namespace: string;
  serviceAccount: { name: string; uid: string };
  audiences: string[];
  expirationSeconds: number;
  bound?: BoundObject;
  /** An extended token: when its holder should have a fresh one (the `warnafter` claim). */
  warnAfterSeconds?: number;
}

/** The claims kube-apiserver puts under `kubernetes.io`. */
interface KubernetesClaims {
  namespace: string;
  serviceaccount: { name: string; uid: string };
  pod?: { name: string; uid: string };
  secret?: { name: string; uid: string };
  node?: { name: string; uid: string };
  warnafter?: number;
}

export class ServiceAccountTokens {
  readonly issuer: string;
  readonly maxExpirationSeconds: number;
  readonly extendExpiration: boolean;
  /** How long a token may live, extended ones too: how long a retired key stays. */
  private readonly longestLifetimeSeconds: number;
  private readonly rotateAfterMs: number;
  private readonly now: () => number;
  private ring?: { keys: SigningKey[]; verifiers: Map<string, CryptoKey>; signer: { kid: string; key: CryptoKey } };
  private loading?: Promise<void>;
  private loadedAt = 0;

  constructor(
    private readonly store: Store,
    private readonly options: ServiceAccountTokenOptions = {},
  ) {
    this.issuer = options.issuer ?? 'https://kubernetes.default.svc.cluster.local';
    this.rotateAfterMs = options.rotateAfterMs ?? 7 * 24 * 3600_000;
    this.maxExpirationSeconds = options.maxExpirationSeconds ?? 24 * 3600;
    this.extendExpiration = options.extendExpiration ?? true;
    this.longestLifetimeSeconds = this.extendExpiration ? Math.max(this.maxExpirationSeconds, EXTENDED_SECONDS) : this.maxExpirationSeconds;
    this.now = options.now ?? Date.now;
  }

  /**
   * Makes the first key, or a new one when the newest is due for rotation, and drops keys no
   * valid token can carry any more. One conditional write of the whole ring: a crash leaves
   * the old ring or the new one, never half of either.
   */
  async rotate(): Promise<void> {
    const fresh = async (): Promise<SigningKey> => {
      const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
      const kid = randomUUID();
      return {
        kid,
        createdAt: this.now(),
        privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALG },
        publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' },
      };
    };
    // A ring that exists and is not due costs a read: no key is made, nothing is written.
    const existing = await this.store.get(SIGNING_KEYS_RESOURCE, '', RING_NAME).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!existing) {
      try {
        await this.store.create(SIGNING_KEYS_RESOURCE, {
          apiVersion: 'skiff.dev/v1',
          kind: 'SigningKeys',
          metadata: { name: RING_NAME },
          keys: [await fresh()],
        });
        return this.load();
      } catch (err) {
        // Another API process made it first: rotate that one if due, as below.
        if (!isAlreadyExists(err)) throw err;
      }
    }
    await guaranteedUpdate<KeyRing>(this.store, SIGNING_KEYS_RESOURCE, '', RING_NAME, async (ring) => {
      const sorted = [...ring.keys].sort((a, b) => a.createdAt - b.createdAt);
      if (this.now() - sorted[sorted.length - 1].createdAt < this.rotateAfterMs) return undefined;
      // A retired key stays while a token it signed may be alive: until the longest lifetime
      // (and a minute of clock skew) has passed since its successor began signing.
      const keep = sorted.filter((_, i) => i === sorted.length - 1 || this.now() - sorted[i + 1].createdAt < this.longestLifetimeSeconds * 1000 + 60_000);
      return { ...ring, keys: [...keep, await fresh()] };
    });
    await this.load();
  }

  /** A signed token for a ServiceAccount, and when it expires (for an extended one, when it is due to be replaced). */
  async issue(claims: TokenClaims): Promise<{ token: string; expirationTimestamp: string }> {
    const ring = await this.keys();
    const nowS = Math.floor(this.now() / 1000);
    const exp = nowS + claims.expirationSeconds;
    const k8s: KubernetesClaims = { namespace: claims.namespace, serviceaccount: claims.serviceAccount };
    if (claims.bound) k8s[claims.bound.kind.toLowerCase() as 'pod' | 'secret' | 'node'] = { name: claims.bound.name, uid: claims.bound.uid };
    if (claims.warnAfterSeconds !== undefined) k8s.warnafter = nowS + claims.warnAfterSeconds;
    const token = await new SignJWT({ 'kubernetes.io': k8s })
      .setProtectedHeader({ alg: ALG, kid: ring.signer.kid })
      .setIssuer(this.issuer)
      .setSubject(`${SA_PREFIX}${claims.namespace}:${claims.serviceAccount.name}`)
      .setAudience(claims.audiences)
      .setIssuedAt(nowS)
      .setNotBefore(nowS)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(ring.signer.key);
    return { token, expirationTimestamp: new Date((k8s.warnafter ?? exp) * 1000).toISOString().replace(/\.\d+Z$/, 'Z') };
  }

  /**
   * The user a token is, or undefined: it must be ours (issuer, a key of the ring), for the API
   * (audience), unexpired, and its ServiceAccount and bound object must still be the ones it
   * was issued for.
   */
  async authenticate(token: string): Promise<UserInfo | undefined> {
    if (token.split('.').length !== 3) return undefined;
    let kid: string | undefined;
    try {
      // Another issuer's token (an OIDC one) is not ours to look up keys for.
      if (decodeJwt(token).iss !== this.issuer) return undefined;
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return undefined;
    }
    if (!kid) return undefined;
    let ring = await this.keys();
    // A key made by another API process since we last read the ring.
    if (!ring.verifiers.has(kid)) {
      await this.load();
      ring = await this.keys();
    }
    const key = ring.verifiers.get(kid);
    if (!key) return undefined;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key, { issuer: this.issuer, audience: this.issuer, algorithms: [ALG], currentDate: new Date(this.now()) }));
    } catch {
      return undefined;
    }
    const k8s = payload['kubernetes.io'] as KubernetesClaims | undefined;
    if (!k8s?.namespace || !k8s.serviceaccount?.name) return undefined;
    if (!(await this.stillThere('serviceaccounts', k8s.namespace, k8s.serviceaccount))) return undefined;
    const extra: Record<string, string[]> = {};
    if (k8s.pod) {
      if (!(await this.stillThere('pods', k8s.namespace, k8s.pod))) return undefined;
      extra['authentication.kubernetes.io/pod-name'] = [k8s.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [k8s.pod.uid];
    }
    if (k8s.secret && !(await this.stillThere('secrets', k8s.namespace, k8s.secret))) return undefined;
    if (k8s.node && !(await this.stillThere('nodes', '', k8s.node))) return undefined;
    if (typeof payload.jti === 'string') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${payload.jti}`];
    return {
      name: `${SA_PREFIX}${k8s.namespace}:${k8s.serviceaccount.name}`,
      uid: k8s.serviceaccount.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${k8s.namespace}`],
      extra,
    };
  }

  /** The published keys: every key of the ring that may still verify a token. */
  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: (await this.keys()).keys.map((k) => k.publicJwk) };
  }

  openidConfiguration() {
    return {
      issuer: this.issuer,
      jwks_uri: this.options.jwksUri ?? `${this.issuer}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [ALG],
    };
  }

  private async stillThere(resource: string, namespace: string, ref: { name: string; uid: string }): Promise<boolean> {
    const object = await this.store.get(resource, namespace, ref.name).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    return !!object && object.metadata.uid === ref.uid && !object.metadata.deletionTimestamp;
  }

  private async keys(): Promise<NonNullable<ServiceAccountTokens['ring']>> {
    // Read again now and then: another API process may have rotated the ring.
    if (!this.ring || this.now() - this.loadedAt > 60_000) await this.load();
    return this.ring!;
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      const ring = (await this.store.get(SIGNING_KEYS_RESOURCE, '', RING_NAME).catch((err) => {
        if (isNotFound(err)) return undefined;
        throw err;
      })) as KeyRing | undefined;
      if (!ring?.keys.length) throw new Error('no service account signing key: call rotate() first');
      const verifiers = new Map<string, CryptoKey>();
      for (const k of ring.keys) verifiers.set(k.kid, (await importJWK(k.publicJwk, ALG)) as CryptoKey);
      const newest = ring.keys.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
      this.ring = { keys: ring.keys, verifiers, signer: { kid: newest.kid, key: (await importJWK(newest.privateJwk, ALG)) as CryptoKey } };
      this.loadedAt = this.now();
    })().finally(() => (this.loading = undefined));
    return this.loading;
  }
}

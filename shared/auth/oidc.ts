/**
 * OpenID Connect for CI pipelines: the API accepts JWTs from the issuers it is configured with
 * (a GitHub Actions or GitLab style issuer), as kube-apiserver's structured authentication
 * configuration (`AuthenticationConfiguration`, its `jwt:` list) describes them: the issuer's
 * URL and audiences, and which claims name the user and its groups, with prefixes. A pipeline
 * then reaches the API with the short-lived token its platform gives it, and no stored secret.
 *
 * The issuer's keys are found through its discovery document and kept; a token signed with a
 * key not yet seen makes them be fetched again (then not for 10 s), so the issuer can rotate
 * its keys at will.
 */
import type { BrowserSignIn } from './browser-sign-in.js';
import { type JSONWebKeySet, createLocalJWKSet, decodeJwt, errors, jwtVerify } from 'jose';
import { request } from 'node:https';
import type { UserInfo } from './authorizer.js';

export interface ClaimMapping {
  claim: string;
  prefix?: string;
}

/** One `jwt:` entry of an AuthenticationConfiguration (the fields Skiff reads). */
export interface JwtIssuerConfig {
  issuer: {
    url: string;
    audiences: string[];
    /** PEM of the CA that signed the issuer's serving certificate, when not a public one. */
    certificateAuthority?: string;
    /** Where the discovery document is, when not under the issuer URL. */
    discoveryURL?: string;
  };
  claimMappings?: { username?: ClaimMapping; groups?: ClaimMapping };
}

export interface OidcOptions {
  /** Keys are fetched again after this long even when every token's key is known (default 1 h). */
  refreshMs?: number;
  now?: () => number;
}

const REFETCH_COOLDOWN_MS = 10_000;
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];

interface KeySet {
  fetchedAt: number;
  verify: ReturnType<typeof createLocalJWKSet>;
}

function getJson(url: string, ca: string | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 10_000, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) return reject(new Error(`${url} answered ${res.statusCode}`));
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url} did not answer`)));
    req.on('error', reject);
    req.end();
  });
}

const discoveryUrl = (issuer: JwtIssuerConfig['issuer']) => issuer.discoveryURL ?? `${issuer.url.replace(/\/$/, '')}/.well-known/openid-configuration`;

/**
 * The dashboard's sign-in with the issuer that has `clientId` among its audiences (an error at
 * once when none has: a misconfigured server should not start). Its endpoints are read from the
 * discovery document at the first ask and kept; a failed read is tried again 30 s later.
 */
export function browserSignIn(issuers: JwtIssuerConfig[], clientId: string): () => Promise<BrowserSignIn> {
  const config = issuers.find((i) => i.issuer.audiences.includes(clientId));
  if (!config) throw new Error(`no issuer of the authentication configuration has the dashboard's client ID ${clientId} among its audiences`);
  // The claims the API maps to a user and groups, asked for (an issuer sends only what is asked).
  const claims = [config.claimMappings?.username?.claim, config.claimMappings?.groups?.claim];
  const scopes = ['openid', ...(claims.includes('email') ? ['email'] : []), ...(claims.includes('groups') ? ['groups'] : []), 'offline_access'];
  let found: Promise<BrowserSignIn> | undefined;
  return () => {
    if (found) return found;
    found = (async () => {
      const doc = (await getJson(discoveryUrl(config.issuer), config.issuer.certificateAuthority)) as {
        authorization_endpoint?: string;
        token_endpoint?: string;
      };
      if (!doc.authorization_endpoint || !doc.token_endpoint)
        throw new Error(`the discovery document of ${config.issuer.url} names no authorization or token endpoint`);
      return { issuer: config.issuer.url, clientId, authorizationEndpoint: doc.authorization_endpoint, tokenEndpoint: doc.token_endpoint, scopes };
    })();
    // Asked again 30 s after a failure, not at every page load (each would wait out the timeout).
    found.catch(() => setTimeout(() => (found = undefined), 30_000).unref());
    return found;
  };
}

class Issuer {
  private keys?: KeySet;
  private fetching?: Promise<KeySet>;
  /** When fetching the keys again last failed to find a token's key. */
  private missedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly config: JwtIssuerConfig,
    private readonly options: Required<OidcOptions>,
  ) {}

  private fetchKeys(): Promise<KeySet> {
    this.fetching ??= (async () => {
      const { url, certificateAuthority } = this.config.issuer;
      const discovery = (await getJson(discoveryUrl(this.config.issuer), certificateAuthority)) as {
        jwks_uri?: string;
      };
      if (!discovery.jwks_uri) throw new Error(`the discovery document of ${url} names no jwks_uri`);
      const jwks = (await getJson(discovery.jwks_uri, certificateAuthority)) as JSONWebKeySet;
      this.keys = { fetchedAt: this.options.now(), verify: createLocalJWKSet(jwks) };
      return this.keys;
    })().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async keySet(): Promise<KeySet> {
    if (!this.keys || this.options.now() - this.keys.fetchedAt > this.options.refreshMs) return this.fetchKeys();
    return this.keys;
  }

  async verify(token: string): Promise<Record<string, unknown> | undefined> {
    const { url, audiences } = this.config.issuer;
    const check = (keys: KeySet) =>
      jwtVerify(token, keys.verify, { issuer: url, audience: audiences, algorithms: ALGORITHMS, currentDate: new Date(this.options.now()) });
    let keys = await this.keySet();
    try {
      return (await check(keys)).payload;
    } catch (err) {
      // A key we have not seen: the issuer may have rotated, so fetch again at once; but after a
      // fetch that did not find it, not again for a while (a token with a made-up key id must
      // not make every request fetch).
      if (!(err instanceof errors.JWKSNoMatchingKey) || this.options.now() - this.missedAt < REFETCH_COOLDOWN_MS) return undefined;
      keys = await this.fetchKeys();
      return check(keys).then(
        (r) => r.payload,
        (again) => {
          if (again instanceof errors.JWKSNoMatchingKey) this.missedAt = this.options.now();
          return undefined;
        },
      );
    }
  }
}

const claimText = (value: unknown) => (typeof value === 'string' ? value : undefined);

export class OidcAuthenticator {
  private readonly issuers = new Map<string, Issuer>();

  constructor(configs: JwtIssuerConfig[], options: OidcOptions = {}) {
    const opts = { refreshMs: options.refreshMs ?? 3600_000, now: options.now ?? Date.now };
    for (const config of configs) this.issuers.set(config.issuer.url, new Issuer(config, opts));
  }

  get size(): number {
    return this.issuers.size;
  }

  /**
   * The user a token names, or undefined when no configured issuer signed it (or it is expired,
   * for another audience, or names a user or group in the reserved `system:` space).
   */
  async authenticate(token: string): Promise<UserInfo | undefined> {
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    const issuer = iss === undefined ? undefined : this.issuers.get(iss);
    if (!issuer) return undefined;
    const claims = await issuer.verify(token).catch(() => undefined);
    if (!claims) return undefined;
    const mappings = issuer.config.claimMappings ?? {};
    const userClaim = mappings.username ?? { claim: 'sub', prefix: `${issuer.config.issuer.url}#` };
    const subject = claimText(claims[userClaim.claim]);
    if (!subject) return undefined;
    const name = `${userClaim.prefix ?? ''}${subject}`;
    if (name.startsWith('system:')) return undefined;
    const groups: string[] = [];
    if (mappings.groups) {
      const raw = claims[mappings.groups.claim];
      for (const g of Array.isArray(raw) ? raw : [raw]) {
        const group = claimText(g);
        if (group && !`${mappings.groups.prefix ?? ''}${group}`.startsWith('system:')) groups.push(`${mappings.groups.prefix ?? ''}${group}`);
      }
    }
    return { name, groups };
  }
}

/** The `jwt:` list of an AuthenticationConfiguration (apiserver.config.k8s.io), checked. */
export function jwtIssuersFrom(config: unknown): JwtIssuerConfig[] {
  const doc = config as { kind?: string; jwt?: JwtIssuerConfig[] } | null;
  if (doc?.kind !== 'AuthenticationConfiguration') throw new Error('the authentication configuration must be an AuthenticationConfiguration');
  const jwt = doc.jwt ?? [];
  for (const [i, entry] of jwt.entries()) {
    const url = entry?.issuer?.url;
    if (typeof url !== 'string' || !url.startsWith('https://')) throw new Error(`jwt[${i}].issuer.url must be an https URL`);
    if (!Array.isArray(entry.issuer.audiences) || entry.issuer.audiences.length === 0)
      throw new Error(`jwt[${i}].issuer.audiences must name at least one audience`);
    const username = entry.claimMappings?.username;
    if (username && username.claim !== 'email' && username.prefix === undefined)
      throw new Error(`jwt[${i}].claimMappings.username.prefix is required when the claim is not email`);
  }
  return jwt;
}

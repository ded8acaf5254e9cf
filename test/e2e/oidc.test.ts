/**
 * A CI pipeline reaches the API with its platform's OIDC token and no stored secret: an issuer
 * started here (HTTPS on loopback, its own CA, a discovery document and a JWKS) signs tokens
 * the way GitHub Actions or GitLab do; the API maps their claims to a user and groups, RBAC
 * decides; the issuer rotates its key mid-test; expired tokens, other audiences, other issuers
 * and forged signatures are refused. Run in both shapes (the AWS shape reads its issuers from
 * SKIFF_AUTHENTICATION_CONFIG).
 */
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTls } from '../../functions/api/tls.js';
import { RBAC_REREAD_MS } from '../../shared/auth/rbac.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { TEST_SHAPE } from '../support/shape.js';

let cluster: TestCluster;
let issuerServer: Server;
let issuer: string;
const dir = mkdtempSync(join(tmpdir(), 'skiff-oidc-'));
/** The keys the issuer publishes, by kid. */
const published = new Map<string, JWK>();
let jwksFetches = 0;

async function newKey(kid: string): Promise<CryptoKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  published.set(kid, { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
  return privateKey;
}

function sign(key: CryptoKey, kid: string, claims: { sub?: string; aud?: string; iss?: string; exp?: number; groups?: string[] } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ groups: claims.groups ?? ['deployers'], repository: 'acme/app' })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(claims.iss ?? issuer)
    .setSubject(claims.sub ?? 'repo:acme/app:ref:refs/heads/main')
    .setAudience(claims.aud ?? 'skiff')
    .setIssuedAt(now - 5)
    .setExpirationTime(claims.exp ?? now + 600)
    .sign(key);
}

let firstKey: CryptoKey;
let secondKey: CryptoKey;

beforeAll(async () => {
  const tls = ensureTls(join(dir, 'pki'));
  issuerServer = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      res.end(
        JSON.stringify({
          issuer,
          jwks_uri: `${issuer}/keys`,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          id_token_signing_alg_values_supported: ['RS256'],
        }),
      );
    else if (req.url === '/keys') {
      jwksFetches++;
      res.end(JSON.stringify({ keys: [...published.values()] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
  issuer = `https://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  firstKey = await newKey('key-1');
  cluster = await startTestCluster({
    jwtIssuers: [
      {
        issuer: { url: issuer, audiences: ['skiff'], certificateAuthority: tls.caCert },
        claimMappings: { username: { claim: 'sub', prefix: 'ci:' }, groups: { claim: 'groups', prefix: 'ci:' } },
      },
    ],
    dashboardClientId: 'skiff',
  });
  await cluster.kubectlOk(['create', 'rolebinding', 'ci-deployers', '--clusterrole=edit', '--group=ci:deployers', '-n', 'default']);
  // The binding is in force everywhere once every reader of the roles and bindings has read them
  // again: at once over SQLite (its change stamps), within RBAC_REREAD_MS in each of the AWS
  // shape's API function environments (DynamoDB has no stamps), as kube-apiserver's RBAC is
  // eventually consistent too. Acting sooner got a 403 once in a CI rehearsal.
  if (TEST_SHAPE === 'aws-local') await new Promise((r) => setTimeout(r, RBAC_REREAD_MS + 250));
});
afterAll(async () => {
  await cluster?.stop();
  await new Promise((r) => issuerServer?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const as = (token: string, args: string[]) => cluster.kubectl([`--token=${token}`, ...args]);
const status = async (token: string) => (await cluster.api('/api/v1/namespaces/default/configmaps', { token })).status;

describe('OIDC for CI pipelines', () => {
  it("maps the token's claims to a user and groups that RBAC knows", async () => {
    const token = await sign(firstKey, 'key-1');
    const who = JSON.parse((await as(token, ['auth', 'whoami', '-o', 'json'])).stdout).status.userInfo;
    expect(who).toEqual({ username: 'ci:repo:acme/app:ref:refs/heads/main', groups: ['ci:deployers', 'system:authenticated'] });
    expect((await as(token, ['create', 'deployment', 'shipped', '--image=busybox'])).code).toBe(0);
    const secrets = await as(token, ['get', 'secrets', '-n', 'kube-system']);
    expect(secrets.stderr).toContain(
      'User "ci:repo:acme/app:ref:refs/heads/main" cannot list resource "secrets" in API group "" in the namespace "kube-system"',
    );
  });

  it('follows the issuer when it rotates its key, fetching its keys again only when it must', async () => {
    // In the AWS shape each of the API function's execution environments keeps the keys it
    // fetched, so how often they are fetched depends on which environment answers: there, the
    // outcomes are asserted, and the counts in the embedded shape (one process).
    const counted = TEST_SHAPE === 'embedded';
    const before = jwksFetches;
    expect(await status(await sign(firstKey, 'key-1'))).toBe(200);
    if (counted) expect(jwksFetches).toBe(before);
    secondKey = await newKey('key-2');
    published.delete('key-1');
    expect(await status(await sign(secondKey, 'key-2'))).toBe(200);
    if (counted) expect(jwksFetches).toBe(before + 1);
    // A made-up key id fetches once more, then not again for a while.
    const stranger = (await generateKeyPair('RS256')).privateKey;
    expect(await status(await sign(stranger, 'key-9'))).toBe(401);
    expect(await status(await sign(stranger, 'key-9'))).toBe(401);
    if (counted) expect(jwksFetches).toBe(before + 2);
  });

  it("names the issuer to the dashboard's sign-in, by its client ID", async () => {
    const config = (await cluster.api('/dashboard/sign-in.json', { token: '' })).json();
    expect(config.oidc).toEqual({
      issuer,
      clientId: 'skiff',
      authorizationEndpoint: `${issuer}/authorize`,
      tokenEndpoint: `${issuer}/token`,
      scopes: ['openid', 'groups', 'offline_access'],
    });
  });

  it('refuses expired tokens, other audiences, other issuers and forged signatures or claims', async () => {
    const key = secondKey;
    const now = Math.floor(Date.now() / 1000);
    expect(await status(await sign(key, 'key-2'))).toBe(200);
    expect(await status(await sign(key, 'key-2', { exp: now - 60 }))).toBe(401);
    expect(await status(await sign(key, 'key-2', { aud: 'someone-else' }))).toBe(401);
    expect(await status(await sign(key, 'key-2', { iss: 'https://issuer.example' }))).toBe(401);
    const forger = (await generateKeyPair('RS256')).privateKey;
    expect(await status(await sign(forger, 'key-2'))).toBe(401);
    const token = await sign(key, 'key-2');
    const [header, payload] = token.split('.');
    const raised = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), groups: ['admins'] })).toString('base64url');
    expect(await status(`${header}.${raised}.${token.split('.')[2]}`)).toBe(401);
  });
});

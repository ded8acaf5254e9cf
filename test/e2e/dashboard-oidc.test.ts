/**
 * Signing in to the dashboard with the cluster's OpenID Connect issuer, in a real Chromium with
 * the dashboard's Content-Security-Policy in force: an issuer started here (HTTPS on loopback, a
 * discovery document, keys, an authorization endpoint where the person is already signed in, a
 * token endpoint that checks PKCE and answers the page across origins) and an API that accepts its
 * tokens, with `dashboardClientId` naming the dashboard's client. The person comes back where they
 * were, RBAC decides what they see, the short-lived ID token is renewed with the refresh token
 * before it ends; an answer the page did not ask for, and an issuer's refusal, are shown as such.
 * It runs on both shapes: on the AWS one the page, the sign-in's settings and the tokens' check
 * are the API function's, and the page's watches stream through the Function URL (the suites'
 * clusters run no relay).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTls } from '../../functions/api/tls.js';
import { browserSignIn } from '../../shared/auth/oidc.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { launchChromium } from '../support/chromium.js';
import { until } from '../support/until.js';

const CLIENT = 'skiff-dashboard';
/** How long the issuer's ID tokens last: the dashboard renews them a minute before they end. */
const TOKEN_SECONDS = 75;
const dir = mkdtempSync(join(tmpdir(), 'skiff-dashboard-oidc-'));
let issuerServer: Server;
let issuer: string;
let key: CryptoKey;
let cluster: TestCluster;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** What the issuer saw: the authorization requests, the token requests by grant. */
const seen = { authorize: [] as URLSearchParams[], grants: [] as string[] };
/** The codes handed out, with what the authorization request bound them to. */
const codes = new Map<string, { challenge: string; nonce: string; redirect: string }>();
const refreshTokens = new Set<string>();
/** Whether the person refuses at the issuer. */
let refuse = false;

const b64url = (b: Buffer) => b.toString('base64url');

function idToken(nonce?: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: 'ada@example.com', groups: ['viewers'], ...(nonce ? { nonce } : {}) })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(issuer)
    .setSubject('ada')
    .setAudience(CLIENT)
    .setIssuedAt(now)
    .setExpirationTime(now + TOKEN_SECONDS)
    .sign(key);
}

async function token(form: URLSearchParams): Promise<{ status: number; body: Record<string, string> }> {
  seen.grants.push(form.get('grant_type') ?? '');
  if (form.get('client_id') !== CLIENT) return { status: 401, body: { error: 'invalid_client' } };
  if (form.get('grant_type') === 'authorization_code') {
    const bound = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    const verifier = form.get('code_verifier') ?? '';
    if (!bound || bound.redirect !== form.get('redirect_uri') || b64url(createHash('sha256').update(verifier).digest()) !== bound.challenge)
      return { status: 400, body: { error: 'invalid_grant', error_description: 'the code or its verifier is wrong' } };
    const refresh = b64url(randomBytes(16));
    refreshTokens.add(refresh);
    return { status: 200, body: { id_token: await idToken(bound.nonce), refresh_token: refresh, token_type: 'Bearer', access_token: 'opaque' } };
  }
  if (form.get('grant_type') === 'refresh_token' && refreshTokens.has(form.get('refresh_token') ?? ''))
    return { status: 200, body: { id_token: await idToken(), token_type: 'Bearer', access_token: 'opaque' } };
  return { status: 400, body: { error: 'invalid_grant' } };
}

beforeAll(async () => {
  const tls = ensureTls(join(dir, 'pki'));
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  issuerServer = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys`, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token` }));
    } else if (url.pathname === '/keys') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else if (url.pathname === '/authorize') {
      // The person is signed in at the issuer already: it answers at once, with a code or a refusal.
      const q = url.searchParams;
      seen.authorize.push(q);
      const back = new URL(q.get('redirect_uri') ?? '');
      back.searchParams.set('state', q.get('state') ?? '');
      if (refuse) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'Ada said no');
      } else {
        const code = b64url(randomBytes(16));
        codes.set(code, { challenge: q.get('code_challenge') ?? '', nonce: q.get('nonce') ?? '', redirect: q.get('redirect_uri') ?? '' });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.href }).end();
    } else if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', async () => {
        const answer = await token(new URLSearchParams(body));
        // A browser app's token endpoint answers across origins (CORS), as public clients need.
        res.writeHead(answer.status, { 'content-type': 'application/json', 'access-control-allow-origin': req.headers.origin ?? '*' });
        res.end(JSON.stringify(answer.body));
      });
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
  issuer = `https://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  cluster = await startTestCluster({
    jwtIssuers: [
      {
        issuer: { url: issuer, audiences: [CLIENT], certificateAuthority: tls.caCert },
        claimMappings: { username: { claim: 'email' }, groups: { claim: 'groups', prefix: 'oidc:' } },
      },
    ],
    dashboardClientId: CLIENT,
  });
  await cluster.kubectlOk(['create', 'clusterrolebinding', 'oidc-viewers', '--clusterrole=view', '--group=oidc:viewers']);
  browser = await launchChromium();
  // The CSP is not bypassed: the page reaches the issuer's token endpoint only because the API's
  // policy names it.
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
  await new Promise((r) => issuerServer?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("the dashboard's sign-in with OpenID Connect", () => {
  it('names the issuer and lets the page reach its token endpoint, and refuses a client ID no issuer has', async () => {
    const config = (await cluster.api('/dashboard/sign-in.json', { token: '' })).json();
    expect(config.oidc).toEqual({
      issuer,
      clientId: CLIENT,
      authorizationEndpoint: `${issuer}/authorize`,
      tokenEndpoint: `${issuer}/token`,
      scopes: ['openid', 'email', 'groups', 'offline_access'],
    });
    const csp = String((await cluster.api('/dashboard/', { token: '' })).headers['content-security-policy']);
    expect(csp).toContain(`connect-src 'self' ${issuer};`);
    expect(() => browserSignIn([], 'someone')).toThrow(/client ID someone/);
  });

  it('signs Ada in at the issuer (code and PKCE) and brings her back where she was, as herself', async () => {
    await page.goto(`${cluster.server.url}/dashboard/namespaces`);
    await page.getByRole('button', { name: `Sign in with ${new URL(issuer).host}` }).click();
    await page.getByRole('table', { name: 'Namespaces' }).getByRole('cell', { name: 'kube-system', exact: true }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dashboard/namespaces');
    expect(new URL(page.url()).search).toBe('');
    expect(await page.locator('header .user').textContent()).toBe('ada@example.com');
    const asked = seen.authorize.at(-1)!;
    expect(asked.get('code_challenge_method')).toBe('S256');
    expect(asked.get('redirect_uri')).toBe(`${cluster.server.url}/dashboard/`);
    expect(seen.grants).toEqual(['authorization_code']);
    // What she may do is RBAC's: a viewer is offered nothing to create.
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Create', exact: true }).click();
    await page.getByText('You may not create objects.').waitFor();
  });

  it('renews the ID token with the refresh token before it ends, and stays signed in', async () => {
    const first = await page.evaluate(() => sessionStorage.getItem('skiff.token'));
    await until('a refresh', async () => seen.grants.includes('refresh_token'), (TOKEN_SECONDS - 60 + 20) * 1000, 250);
    await until('the new token in use', async () => (await page.evaluate(() => sessionStorage.getItem('skiff.token'))) !== first, 10_000, 100);
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Namespaces', exact: true }).click();
    await page.getByRole('table', { name: 'Namespaces' }).getByRole('cell', { name: 'default', exact: true }).waitFor();
    expect(await page.locator('header .user').textContent()).toBe('ada@example.com');
  });

  it("refuses an answer this page did not ask for, and shows the issuer's refusal", async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${cluster.server.url}/dashboard/?code=stolen&state=forged`);
    await page.getByRole('alert').filter({ hasText: 'That sign-in was not started from this page' }).waitFor();
    const grants = seen.grants.length;
    expect(new URL(page.url()).search).toBe('');
    refuse = true;
    await page.getByRole('button', { name: `Sign in with ${new URL(issuer).host}` }).click();
    await page.getByRole('alert').filter({ hasText: 'The issuer refused the sign-in: Ada said no.' }).waitFor();
    // Neither answer was taken to the token endpoint.
    expect(seen.grants.length).toBe(grants);
    expect(await page.evaluate(() => sessionStorage.getItem('skiff.token'))).toBeNull();
  });
});

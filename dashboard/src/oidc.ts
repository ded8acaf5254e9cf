/**
 * Sign-in with the cluster's OpenID Connect issuer, as a browser app does it: the authorization
 * code flow with PKCE for a public client (no secret in the page). The API tells the page which
 * issuer and client (`/dashboard/sign-in.json`, from the operator's `--dashboard-client-id`: an
 * audience of one of the issuers the API accepts tokens from); the page sends the person to the
 * issuer, takes the code it comes back with to the issuer's token endpoint, and signs in to the
 * API with the ID token, as `kubectl` with an OIDC plugin does. A refresh token, when the issuer
 * gives one, gets a new ID token before the old one expires.
 */

import type { BrowserSignIn as OidcSignIn } from '../../shared/auth/browser-sign-in.js';

export type { OidcSignIn };

/** What a sign-in in progress keeps while the person is at the issuer (this tab only). */
const PENDING_KEY = 'skiff.oidc.pending';
const REFRESH_KEY = 'skiff.oidc.refresh';

/** The issuer the API names for the dashboard's sign-in, if any. */
export async function oidcSignIn(): Promise<OidcSignIn | undefined> {
  const res = await fetch('/dashboard/sign-in.json', { headers: { accept: 'application/json' } }).catch(() => undefined);
  if (!res?.ok) return undefined;
  return ((await res.json()) as { oidc?: OidcSignIn }).oidc;
}

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const random = () => base64url(crypto.getRandomValues(new Uint8Array(32)));
const redirectUri = () => `${location.origin}/dashboard/`;

/** Sends the person to the issuer; they come back to `/dashboard/?code=...&state=...`. */
export async function startOidcSignIn(config: OidcSignIn): Promise<void> {
  const verifier = random();
  const state = random();
  const nonce = random();
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, nonce, config, back: location.pathname }));
  const url = new URL(config.authorizationEndpoint);
  const params = {
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: config.scopes.join(' '),
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  location.assign(url.href);
}

function claimsOf(idToken: string): { iss?: string; aud?: string | string[]; nonce?: string; exp?: number } {
  const part = idToken.split('.')[1] ?? '';
  const json = atob(
    part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '='),
  );
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
}

/** The ID token the issuer's token endpoint answers (its refresh token kept for later, in this tab). */
async function tokenRequest(config: OidcSignIn, form: Record<string, string>): Promise<string> {
  const res = await fetch(config.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ client_id: config.clientId, ...form }),
  });
  const body = (await res.json().catch(() => ({}))) as { id_token?: string; refresh_token?: string; error?: string; error_description?: string };
  if (!res.ok || !body.id_token)
    throw new Error(`The issuer refused the sign-in: ${body.error_description ?? body.error ?? `${res.status} ${res.statusText}`}.`);
  const claims = claimsOf(body.id_token);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== config.issuer || !audiences.includes(config.clientId)) throw new Error('The issuer answered with a token for another issuer or client.');
  if (body.refresh_token) sessionStorage.setItem(REFRESH_KEY, JSON.stringify({ config, token: body.refresh_token }));
  return body.id_token;
}

/**
 * When the page is the issuer's answer (`?code=` or `?error=`), the ID token it is worth (and the
 * address is put back as it was before the sign-in); otherwise undefined. A state that is not
 * this tab's own sign-in's is refused: the answer was not asked for here.
 */
export async function finishOidcSignIn(): Promise<string | undefined> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return undefined;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null') as {
    verifier: string;
    state: string;
    nonce: string;
    config: OidcSignIn;
    back: string;
  } | null;
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', pending?.back ?? location.pathname);
  if (!pending || params.get('state') !== pending.state) throw new Error('That sign-in was not started from this page: sign in again.');
  if (error) throw new Error(`The issuer refused the sign-in: ${params.get('error_description') ?? error}.`);
  const idToken = await tokenRequest(pending.config, {
    grant_type: 'authorization_code',
    code: code ?? '',
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  if (claimsOf(idToken).nonce !== pending.nonce) throw new Error('The issuer answered with a token from another sign-in.');
  return idToken;
}

/** A new ID token from the refresh token this tab holds, or undefined when it holds none. */
export async function refreshOidc(): Promise<string | undefined> {
  const held = JSON.parse(sessionStorage.getItem(REFRESH_KEY) ?? 'null') as { config: OidcSignIn; token: string } | null;
  if (!held) return undefined;
  return tokenRequest(held.config, { grant_type: 'refresh_token', refresh_token: held.token });
}

/** When the token expires (ms since the epoch), if it is a JWT that says. */
export function expiryOf(token: string): number | undefined {
  try {
    const exp = claimsOf(token).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function forgetOidc(): void {
  sessionStorage.removeItem(REFRESH_KEY);
  sessionStorage.removeItem(PENDING_KEY);
}

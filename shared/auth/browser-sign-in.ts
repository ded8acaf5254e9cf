/**
 * What the dashboard needs to sign a person in with an issuer the API trusts: the authorization
 * code flow with PKCE, the dashboard a public client whose ID is one of the issuer's audiences.
 * The API answers it at `/dashboard/sign-in.json` (shared/auth/oidc.ts `browserSignIn`); the page
 * reads it (dashboard/src/oidc.ts). Nothing secret: a public client's ID and public endpoints.
 */
export interface BrowserSignIn {
  issuer: string;
  clientId: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  scopes: string[];
}

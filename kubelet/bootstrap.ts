/**
 * A worker's first start with a bootstrap token (what the cloud adapters give a new remote
 * worker): the token, good for one thing only, is exchanged for the node's own credential
 * (`POST /api/v1/nodes/<name>/credential`), which is kept in `credentialFile` (0600) and used
 * from then on, also by later starts. The bootstrap token is not needed again. A kubelet that
 * names the addresses it serves on also gets its serving material (a log-server credential the
 * API keeps, and a certificate the cluster CA signed for those addresses), kept beside the
 * credential in `<credentialFile>.serving.json` (0600).
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomically } from '../shared/files.js';
import { ApiClient } from './api-client.js';

export interface BootstrapOptions {
  server: string;
  /** The API server's CA (PEM). */
  ca?: string;
  nodeName: string;
  /** Where the node's credential is (or will be) kept. */
  credentialFile: string;
  /** The bootstrap token (`<id>.<secret>`), used only when there is no credential yet. */
  bootstrapToken?: string;
  /** The addresses the kubelet serves logs on: asked, the API also makes its serving material. */
  servingAddresses?: string[];
}

export interface ServingMaterial {
  token: string;
  certificate: string;
  key: string;
}

const servingFile = (credentialFile: string) => `${credentialFile}.serving.json`;

/** The serving material the exchange gave, if it gave any. */
export function keptServing(credentialFile: string): ServingMaterial | undefined {
  const path = servingFile(credentialFile);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ServingMaterial) : undefined;
}

export async function nodeCredential(options: BootstrapOptions): Promise<string> {
  const kept = existsSync(options.credentialFile) ? readFileSync(options.credentialFile, 'utf8').trim() : '';
  if (kept) return kept;
  if (!options.bootstrapToken) throw new Error(`no credential in ${options.credentialFile} and no bootstrap token to get one`);
  const client = new ApiClient({ server: options.server, token: options.bootstrapToken, ca: options.ca });
  try {
    const request = options.servingAddresses?.length
      ? { apiVersion: 'skiff.io/v1', kind: 'NodeCredentialRequest', spec: { addresses: options.servingAddresses } }
      : {};
    const answer = await client.request<{ status?: { token?: string; serving?: ServingMaterial } }>(
      'POST',
      `/api/v1/nodes/${encodeURIComponent(options.nodeName)}/credential`,
      request,
    );
    const token = answer.status?.token;
    if (!token) throw new Error('the API answered no credential');
    if (answer.status?.serving) writeFileAtomically(servingFile(options.credentialFile), JSON.stringify(answer.status.serving));
    writeFileAtomically(options.credentialFile, token);
    return token;
  } finally {
    client.close();
  }
}

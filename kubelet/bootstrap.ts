/**
 * A worker's first start with a bootstrap token (what the cloud adapters give a new remote
 * worker): the token, good for one thing only, is exchanged for the node's own credential
 * (`POST /api/v1/nodes/<name>/credential`), which is kept in `credentialFile` (0600) and used
 * from then on, also by later starts. The bootstrap token is not needed again.
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
}

export async function nodeCredential(options: BootstrapOptions): Promise<string> {
  const kept = existsSync(options.credentialFile) ? readFileSync(options.credentialFile, 'utf8').trim() : '';
  if (kept) return kept;
  if (!options.bootstrapToken) throw new Error(`no credential in ${options.credentialFile} and no bootstrap token to get one`);
  const client = new ApiClient({ server: options.server, token: options.bootstrapToken, ca: options.ca });
  try {
    const answer = await client.request<{ status?: { token?: string } }>('POST', `/api/v1/nodes/${encodeURIComponent(options.nodeName)}/credential`, {});
    const token = answer.status?.token;
    if (!token) throw new Error('the API answered no credential');
    writeFileAtomically(options.credentialFile, token);
    return token;
  } finally {
    client.close();
  }
}

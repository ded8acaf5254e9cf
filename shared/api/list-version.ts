/**
 * A list's resourceVersion and resourceVersionMatch, by Kubernetes' rules: none or "0" is the
 * newest state; a revision with NotOlderThan (the default) is the newest state once the store
 * has reached it; Exact is the snapshot at that revision. A revision the store has not reached
 * within a few seconds is 504 Too large resource version.
 */
import type { Store } from '../store/types.js';
import { ApiError, badRequest } from './status.js';

/** How long a list waits for a resourceVersion the store has not reached (kube-apiserver: 3 s). */
const TOO_LARGE_WAIT_MS = 3_000;

/** Checks a list's resourceVersion options; the revision to read for Exact, else undefined. */
export async function readRevision(
  store: Store,
  rv: string | undefined,
  match: string | undefined,
  continueToken: string | undefined,
): Promise<number | undefined> {
  if (match !== undefined && match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
    throw badRequest(`resourceVersionMatch: Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`);
  }
  if (match && !rv) throw badRequest('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
  if (match && continueToken) throw badRequest('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided');
  if (!rv || rv === '0') {
    if (match === 'Exact') throw badRequest('resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    return undefined;
  }
  if (continueToken) throw badRequest('specifying resource version is not allowed when using continue');
  if (!/^\d+$/.test(rv) || !Number.isSafeInteger(Number(rv))) throw badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
  const wanted = Number(rv);
  await waitForRevision(store, wanted);
  return match === 'Exact' ? wanted : undefined;
}

/** Waits briefly for the store to reach `revision`, as kube-apiserver's watch cache does. */
async function waitForRevision(store: Store, revision: number): Promise<void> {
  const deadline = Date.now() + TOO_LARGE_WAIT_MS;
  let current = await store.currentRevision();
  while (current < revision && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    current = await store.currentRevision();
  }
  if (current < revision) {
    throw new ApiError(504, 'Timeout', `Too large resource version: ${revision}, current: ${current}`, {
      causes: [{ type: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: 1,
    });
  }
}

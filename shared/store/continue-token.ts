/**
 * List continuation tokens: the revision the first page was read at and the last key served,
 * so every later page is consistent with the first. Opaque to clients (base64url JSON).
 */
import { InvalidError } from './errors.js';

export interface ContinueToken {
  /** Revision of the whole list. */
  revision: number;
  /** Namespace of the last item served. */
  namespace: string;
  /** Name of the last item served. */
  name: string;
}

export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 1, r: token.revision, ns: token.namespace, n: token.name })).toString('base64url');
}

/** Throws `InvalidError` for anything that is not a token this store issued. */
export function decodeContinue(text: string): ContinueToken {
  try {
    const raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (raw.v === 1 && Number.isSafeInteger(raw.r) && typeof raw.ns === 'string' && typeof raw.n === 'string') {
      return { revision: raw.r as number, namespace: raw.ns, name: raw.n };
    }
  } catch {
    /* fall through */
  }
  throw new InvalidError('continue key is not valid: it must come from a previous list of the same resource');
}

/** Orders keys as lists return them: by namespace, then name. */
export function compareKeys(aNs: string, aName: string, bNs: string, bName: string): number {
  if (aNs !== bNs) return aNs < bNs ? -1 : 1;
  if (aName !== bName) return aName < bName ? -1 : 1;
  return 0;
}

/**
 * How the API answers over HTTP, in one place: JSON bodies as kube-apiserver encodes them,
 * encoded lists (gzipped when asked), errors as a `metav1.Status`, Warning headers, and the
 * two things only the embedded server's socket can give (the raw path, a cut-off).
 */
import type { Context } from 'hono';
import { ApiError, toApiError } from '../../shared/api/status.js';
import { GZIP_MIN_BYTES, acceptsGzip, gzipped, type Bytes, type EncodedBody } from './list-cache.js';

export const JSON_TYPE = 'application/json';

/** A JSON body as kube-apiserver's encoder writes it: ending with a newline. */
export function jsonText(c: Context, text: string, status = 200, headers: Record<string, string> = {}): Response {
  // @hono/node-server writes the head of a string body as UTF-8, which would encode a header
  // holding raw UTF-8 bytes (a Warning naming a field `名前`) twice: such an answer goes as bytes.
  const latin1 = Object.values(headers).some((v) => /[^\x00-\x7f]/.test(v));
  return c.body(latin1 ? (Buffer.from(`${text}\n`) as Bytes) : `${text}\n`, status as 200, { 'content-type': JSON_TYPE, ...headers });
}

/** A value as JSON (see `jsonText`). */
export function json(c: Context, body: unknown, status = 200, extraHeaders: Record<string, string> = {}): Response {
  return jsonText(c, JSON.stringify(body), status, extraHeaders);
}

/** An encoded JSON body, gzipped when it is large and the client accepts gzip (as kubectl does). */
export function encodedJson(c: Context, encoded: EncodedBody): Response {
  if (encoded.body.byteLength >= GZIP_MIN_BYTES && acceptsGzip(c.req.header('accept-encoding'))) {
    return c.body(gzipped(encoded), 200, { 'content-type': JSON_TYPE, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
  }
  return c.body(encoded.body, 200, { 'content-type': JSON_TYPE });
}

/**
 * Any error as the Status kube-apiserver would answer; only an unexpected 500 is logged (with its
 * stack), not one answered on purpose (an eviction of a pod under two budgets).
 */
export function errorResponse(c: Context, err: unknown): Response {
  const apiError = toApiError(err);
  if (apiError.code === 500 && !(err instanceof ApiError)) console.error('[api] internal error:', err);
  return json(c, apiError.toStatus(), apiError.code);
}

/**
 * The Warning header (RFC 7234: `299 - "text"`, comma-separated), as kube-apiserver writes it:
 * the text a quoted-string (`"` and `\` escaped with a backslash), in UTF-8 on the wire, so
 * client-go and kubectl print a field named `名前` as `名前`. Header values travel as Latin-1,
 * so the UTF-8 bytes are handed over as one Latin-1 character each; control characters, which
 * a header may not hold, become spaces. Bounded as kube-apiserver's warning recorder bounds it:
 * each warning once, and past 4 KiB in all each is cut to 256 characters and the rest left out.
 */
export function warningHeaders(warnings: string[]): Record<string, string> {
  const TOTAL = 4096;
  const ITEM = 256;
  const quote = (text: string) => `"${text.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/["\\]/g, (c) => `\\${c}`)}"`;
  const unique = [...new Set(warnings.filter((w) => w.length > 0))];
  let quoted = unique.map(quote);
  if (quoted.reduce((n, q) => n + q.length, 0) > TOTAL) {
    quoted = [];
    let written = 0;
    for (const w of unique) {
      if (written >= TOTAL) break;
      const q = quote([...w].slice(0, ITEM).join(''));
      quoted.push(q);
      written += q.length;
    }
  }
  if (!quoted.length) return {};
  return { warning: Buffer.from(quoted.map((q) => `299 - ${q}`).join(', '), 'utf8').toString('latin1') };
}

/** The request path as the client sent it, before URL parsing folded `.` and `..` segments away. */
export function rawPath(c: Context): string | undefined {
  const env = c.env as { incoming?: { url?: string }; event?: { rawPath?: string; path?: string } } | undefined;
  const raw = env?.incoming?.url ?? env?.event?.rawPath ?? env?.event?.path;
  return raw?.split('?')[0];
}

/** Cuts the client's connection (the embedded server's socket; nothing to cut in a Lambda). */
export function cutOff(c: Context): () => void {
  return () => (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming?.socket?.destroy();
}

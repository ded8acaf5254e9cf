/**
 * A watch of what is not stored but versioned by time (metrics.skiff.dev NodeHistory, whose
 * resourceVersion is its newest sample's time in ms): the API reads it again on a clock and
 * sends what moved since the version the client gave, so a client follows it as it follows any
 * watch (events, bookmarks, resume from the last version seen) and never polls. Read as often as
 * the objects are sampled (half their interval, 15 s at most); an object no longer read (its
 * node gone, or its kubelet not answering) is sent as DELETED.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expired } from '../../shared/api/status.js';
import type { KubeObject } from '../../shared/store/object.js';

export interface ComputedWatchRequest {
  kind: string;
  apiVersion: string;
  /** The objects now, each with its resourceVersion and (optionally) `intervalSeconds`. */
  read: () => Promise<KubeObject[]>;
  resourceVersion?: string;
  timeoutSeconds?: number;
  allowBookmarks: boolean;
  /** The longest wait between reads (default 15 s). */
  maxPeriodMs?: number;
  /** How an object is sent (a Table row for kubectl, say); absent: as it is. */
  present?: (object: KubeObject) => unknown;
}

const encoder = new TextEncoder();
const DEFAULT_MAX_PERIOD_MS = 15_000;

export function computedWatchResponse(req: ComputedWatchRequest): Response {
  const abort = new AbortController();
  const frame = (type: string, object: unknown) => encoder.encode(`${JSON.stringify({ type, object })}\n`);
  const stream = new ReadableStream<Uint8Array>({
    start: (controller) => {
      const timer = setTimeout(() => abort.abort(), Math.max(1, req.timeoutSeconds ?? 1800) * 1000);
      timer.unref?.();
      void follow(req, abort.signal, (type, object) => {
        if (!abort.signal.aborted) controller.enqueue(type ? frame(type, object) : encoder.encode('\n'));
      }).finally(() => {
        clearTimeout(timer);
        try {
          controller.close();
        } catch {
          // Already closed (the client went).
        }
      });
    },
    cancel: () => abort.abort(),
  });
  return new Response(stream, {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'x-content-type-options': 'nosniff' },
  });
}

/** Reads and sends until the signal; `send` without a type sends a keep-alive newline. */
async function follow(req: ComputedWatchRequest, signal: AbortSignal, send: (type?: string, object?: unknown) => void): Promise<void> {
  const given = req.resourceVersion;
  let from = 0;
  if (given !== undefined && given !== '' && given !== '0') {
    from = Number(given);
    if (!Number.isSafeInteger(from) || from < 0) {
      send('ERROR', expired(`invalid resource version: ${given}`).toStatus());
      return;
    }
  }
  // Without a version the client has nothing: what is there now comes as ADDED.
  const fresh = from === 0;
  /** Name -> the version last sent (or, resuming, last seen). */
  const known = new Map<string, number>();
  const longest = req.maxPeriodMs ?? DEFAULT_MAX_PERIOD_MS;
  let periodMs = longest;
  while (!signal.aborted) {
    let items: KubeObject[] | undefined;
    try {
      items = await req.read();
    } catch {
      // The next read may do better; the client keeps what it has.
    }
    if (signal.aborted) return;
    let sent = false;
    if (items) {
      const now = new Set<string>();
      for (const item of items) {
        const name = item.metadata.name ?? '';
        const version = Number(item.metadata.resourceVersion ?? 0);
        now.add(name);
        const before = known.get(name);
        if (before === undefined ? fresh || version > from : version > before) {
          send(before === undefined && fresh ? 'ADDED' : 'MODIFIED', req.present ? req.present(item) : item);
          sent = true;
        }
        known.set(name, Math.max(version, before ?? 0));
        from = Math.max(from, version);
        const interval = Number((item as { intervalSeconds?: number }).intervalSeconds);
        if (interval > 0) periodMs = Math.min(longest, Math.max(200, (interval * 1000) / 2));
      }
      for (const [name] of known) {
        if (now.has(name)) continue;
        known.delete(name);
        const gone: KubeObject = { kind: req.kind, apiVersion: req.apiVersion, metadata: { name, resourceVersion: String(from) } };
        send('DELETED', req.present ? req.present(gone) : gone);
        sent = true;
      }
      if (req.allowBookmarks) {
        send('BOOKMARK', { kind: req.kind, apiVersion: req.apiVersion, metadata: { resourceVersion: String(from) } });
        sent = true;
      }
    }
    if (!sent) send();
    await sleep(periodMs, undefined, { signal }).catch(() => undefined);
  }
}

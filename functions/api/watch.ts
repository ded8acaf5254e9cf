/**
 * Watch responses: newline-delimited WatchEvents streamed as they happen. Starts with
 * synthetic ADDED events for the current state when no resourceVersion is given (or "0"),
 * sends BOOKMARKs when asked, ends after timeoutSeconds, and reports a compacted
 * resourceVersion as an ERROR event carrying a 410 Expired Status, as kube-apiserver does.
 */
import { groupVersion, type ResourceInfo } from '../../shared/api/resources.js';
import { expired } from '../../shared/api/status.js';
import { toTable } from '../../shared/api/tables.js';
import { GoneError, isStoreError } from '../../shared/store/errors.js';
import type { KubeObject } from '../../shared/store/object.js';
import type { Store, WatchEvent } from '../../shared/store/types.js';
import { objectJson } from './serialize.js';

/**
 * What a watcher may have queued and unread: past this the watch waits for its reader, and a
 * reader that takes nothing for `stallMs` is cut off (it resumes from its last resourceVersion,
 * as clients do), so a watcher that stops reading cannot grow the server without bound.
 */
export const WATCH_BUFFER_BYTES = 4 * 1024 * 1024;
const STALL_MS = 10_000;

/** Thrown into a watch whose reader stopped taking events. */
export class SlowWatcherError extends Error {}

export interface WatchRequest {
  info: ResourceInfo;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
  allowBookmarks: boolean;
  asTable: boolean;
  bookmarkIntervalMs: number;
  /**
   * Closes the client's connection. A stalled watch's stream cannot end while the server waits
   * for the socket to drain, so the connection itself is cut (absent: the stream errors only).
   */
  cutOff?: () => void;
  /** Overrides of the buffer bound and the stall time (tests). */
  bufferBytes?: number;
  stallMs?: number;
}

const encoder = new TextEncoder();

export function watchResponse(store: Store, req: WatchRequest): Response {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let drained: (() => void) | undefined;
  const stallMs = req.stallMs ?? STALL_MS;
  abort.signal.addEventListener('abort', () => drained?.(), { once: true });
  const frame = (type: string, object: unknown) => encoder.encode(`${JSON.stringify({ type, object })}\n`);
  const objectFrame = (type: string, object: KubeObject) =>
    req.asTable
      ? frame(type, toTable(req.info.kind, [object], { includeObject: 'Metadata', resourceVersion: object.metadata.resourceVersion }))
      : encoder.encode(`{"type":"${type}","object":${objectJson(object)}}\n`);

  /** Queues a frame; when the queue is full, waits for the reader, or cuts a stalled one off. */
  const send = async (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
    controller.enqueue(bytes);
    if ((controller.desiredSize ?? 1) > 0) return;
    const taken = await new Promise<boolean>((resolve) => {
      const stall = setTimeout(() => resolve(false), stallMs);
      drained = () => {
        clearTimeout(stall);
        resolve(true);
      };
    });
    drained = undefined;
    if (!taken) throw new SlowWatcherError(`the watcher read nothing for ${stallMs} ms with ${req.bufferBytes ?? WATCH_BUFFER_BYTES} bytes queued`);
  };

  const run = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
    const timeoutMs = Math.max(1, req.timeoutSeconds ?? 1800) * 1000;
    timer = setTimeout(() => abort.abort(), timeoutMs);
    timer.unref?.();
    const close = () => {
      try {
        controller.close();
      } catch {
        /* already closed */
      }
    };
    try {
      let from: number;
      const rv = req.resourceVersion;
      if (rv === undefined || rv === '' || rv === '0') {
        const listed = await store.list(req.info.storeKey, { namespace: req.namespace, labelSelector: req.labelSelector, fieldSelector: req.fieldSelector });
        for (const item of listed.items) await send(controller, objectFrame('ADDED', item));
        from = listed.revision;
      } else {
        from = Number(rv);
        if (!Number.isSafeInteger(from) || from < 0) {
          controller.enqueue(frame('ERROR', expired(`invalid resource version: ${rv}`).toStatus()));
          return close();
        }
      }
      const events = store.watch(req.info.storeKey, {
        fromRevision: from,
        namespace: req.namespace,
        labelSelector: req.labelSelector,
        fieldSelector: req.fieldSelector,
        bookmarkIntervalMs: req.allowBookmarks ? req.bookmarkIntervalMs : undefined,
        signal: abort.signal,
      });
      for await (const event of events as AsyncIterable<WatchEvent>) {
        if (abort.signal.aborted) break;
        if (event.type === 'BOOKMARK') {
          await send(
            controller,
            frame('BOOKMARK', { kind: req.info.kind, apiVersion: groupVersion(req.info), metadata: { resourceVersion: String(event.revision) } }),
          );
        } else {
          await send(controller, objectFrame(event.type, event.object));
        }
      }
    } catch (err) {
      if (err instanceof SlowWatcherError) {
        // Drop what is queued and close the connection: the client lists or resumes anew.
        clearTimeout(timer);
        abort.abort();
        controller.error(err);
        req.cutOff?.();
        return;
      }
      if (err instanceof GoneError || isStoreError(err, 'Gone')) {
        controller.enqueue(frame('ERROR', expired(`too old resource version: ${req.resourceVersion} (${(err as GoneError).compacted})`).toStatus()));
      } else if (!abort.signal.aborted) {
        controller.enqueue(
          frame('ERROR', {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: (err as Error).message,
            reason: 'InternalError',
            code: 500,
          }),
        );
      }
    } finally {
      clearTimeout(timer);
    }
    close();
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // Not awaited: the stream is readable (and its headers sent) while events still come.
        void run(controller);
      },
      pull() {
        drained?.();
      },
      cancel() {
        clearTimeout(timer);
        abort.abort();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: req.bufferBytes ?? WATCH_BUFFER_BYTES }),
  );
  return new Response(stream, {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'x-content-type-options': 'nosniff' },
  });
}

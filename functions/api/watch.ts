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
}

const encoder = new TextEncoder();

export function watchResponse(store: Store, req: WatchRequest): Response {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const frame = (type: string, object: unknown) => encoder.encode(JSON.stringify({ type, object }) + '\n');
  const objectFrame = (type: string, object: KubeObject) =>
    req.asTable
      ? frame(type, toTable(req.info.kind, [object], { includeObject: 'Metadata', resourceVersion: object.metadata.resourceVersion }))
      : encoder.encode(`{"type":"${type}","object":${objectJson(object)}}\n`);

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
          for (const item of listed.items) controller.enqueue(objectFrame('ADDED', item));
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
            controller.enqueue(frame('BOOKMARK', { kind: req.info.kind, apiVersion: groupVersion(req.info), metadata: { resourceVersion: String(event.revision) } }));
          } else {
            controller.enqueue(objectFrame(event.type, event.object));
          }
        }
      } catch (err) {
        if (err instanceof GoneError || isStoreError(err, 'Gone')) {
          controller.enqueue(frame('ERROR', expired(`too old resource version: ${req.resourceVersion} (${(err as GoneError).compacted})`).toStatus()));
        } else if (!abort.signal.aborted) {
          controller.enqueue(frame('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: (err as Error).message, reason: 'InternalError', code: 500 }));
        }
      } finally {
        clearTimeout(timer);
      }
      close();
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      // Not awaited: the stream is readable (and its headers sent) while events still come.
      void run(controller);
    },
    cancel() {
      clearTimeout(timer);
      abort.abort();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'x-content-type-options': 'nosniff' },
  });
}

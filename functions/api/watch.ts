/**
 * Watch responses: newline-delimited WatchEvents streamed as they happen. Starts with
 * synthetic ADDED events for the current state when no resourceVersion is given (or "0"),
 * sends BOOKMARKs when asked, ends after timeoutSeconds, and reports a compacted
 * resourceVersion as an ERROR event carrying a 410 Expired Status, as kube-apiserver does.
 */
import { groupVersion, type ResourceInfo } from '../../shared/api/resources.js';
import { expired } from '../../shared/api/status.js';
import { asServed } from '../../shared/api/versions.js';
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
   * A newline is sent on a watch that has sent nothing for this long (absent: never), so that a
   * front which cuts a silent response (CloudFront's origin response timeout) keeps it open.
   * Watch decoders skip whitespace between events (client-go's JSON framer, client-node's lines).
   */
  keepAliveMs?: number;
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
const NEWLINE = encoder.encode('\n');
type Controller = ReadableStreamDefaultController<Uint8Array>;

export function watchResponse(store: Store, req: WatchRequest): Response {
  return new WatchStream(store, req).response();
}

/** One watch: its stream, its timer, and the wait for a reader that fell behind. */
class WatchStream {
  private readonly abort = new AbortController();
  private timer?: NodeJS.Timeout;
  private keepAlive?: NodeJS.Timeout;
  /** Whether anything was queued since the keep-alive last looked. */
  private sent = false;
  /** Called when the reader takes from a full queue. */
  private drained?: () => void;

  constructor(
    private readonly store: Store,
    private readonly req: WatchRequest,
  ) {
    this.abort.signal.addEventListener('abort', () => this.drained?.(), { once: true });
  }

  response(): Response {
    const stream = new ReadableStream<Uint8Array>(
      {
        // Not awaited: the stream is readable (and its headers sent) while events still come.
        start: (controller) => void this.run(controller),
        pull: () => this.drained?.(),
        cancel: () => {
          clearTimeout(this.timer);
          clearInterval(this.keepAlive);
          this.abort.abort();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: this.req.bufferBytes ?? WATCH_BUFFER_BYTES }),
    );
    return new Response(stream, {
      status: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'x-content-type-options': 'nosniff' },
    });
  }

  private async run(controller: Controller): Promise<void> {
    this.timer = setTimeout(() => this.abort.abort(), Math.max(1, this.req.timeoutSeconds ?? 1800) * 1000);
    this.timer.unref?.();
    if (this.req.keepAliveMs) {
      this.keepAlive = setInterval(() => {
        if (!this.sent && (controller.desiredSize ?? 0) > 0) controller.enqueue(NEWLINE);
        this.sent = false;
      }, this.req.keepAliveMs);
      this.keepAlive.unref?.();
    }
    try {
      const from = await this.start(controller);
      if (from !== undefined) await this.follow(controller, from);
    } catch (err) {
      if (this.fail(controller, err)) return;
    } finally {
      clearTimeout(this.timer);
      clearInterval(this.keepAlive);
    }
    try {
      controller.close();
    } catch {
      // Already closed.
    }
  }

  /** The revision to follow from: a given one, or the current state sent as ADDED events first. */
  private async start(controller: Controller): Promise<number | undefined> {
    const { req } = this;
    const rv = req.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== '0') {
      const from = Number(rv);
      if (Number.isSafeInteger(from) && from >= 0) return from;
      controller.enqueue(this.frame('ERROR', expired(`invalid resource version: ${rv}`).toStatus()));
      return undefined;
    }
    const listed = await this.store.list(req.info.storeKey, { namespace: req.namespace, labelSelector: req.labelSelector, fieldSelector: req.fieldSelector });
    for (const item of listed.items) await this.send(controller, this.objectFrame('ADDED', item));
    return listed.revision;
  }

  private async follow(controller: Controller, from: number): Promise<void> {
    const { req } = this;
    const events = this.store.watch(req.info.storeKey, {
      fromRevision: from,
      namespace: req.namespace,
      labelSelector: req.labelSelector,
      fieldSelector: req.fieldSelector,
      bookmarkIntervalMs: req.allowBookmarks ? req.bookmarkIntervalMs : undefined,
      signal: this.abort.signal,
    });
    for await (const event of events as AsyncIterable<WatchEvent>) {
      if (this.abort.signal.aborted) break;
      const frame =
        event.type === 'BOOKMARK'
          ? this.frame('BOOKMARK', { kind: req.info.kind, apiVersion: groupVersion(req.info), metadata: { resourceVersion: String(event.revision) } })
          : this.objectFrame(event.type, event.object);
      await this.send(controller, frame);
    }
  }

  /** Ends the watch on an error: an ERROR event, or (a stalled reader) a cut. True when cut. */
  private fail(controller: Controller, err: unknown): boolean {
    if (err instanceof SlowWatcherError) {
      // Drop what is queued and close the connection: the client lists or resumes anew.
      clearTimeout(this.timer);
      this.abort.abort();
      controller.error(err);
      this.req.cutOff?.();
      return true;
    }
    if (err instanceof GoneError || isStoreError(err, 'Gone')) {
      const status = expired(`too old resource version: ${this.req.resourceVersion} (${(err as GoneError).compacted})`).toStatus();
      controller.enqueue(this.frame('ERROR', status));
    } else if (!this.abort.signal.aborted) {
      const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: (err as Error).message, reason: 'InternalError', code: 500 };
      controller.enqueue(this.frame('ERROR', status));
    }
    return false;
  }

  /** Queues a frame; when the queue is full, waits for the reader, or cuts a stalled one off. */
  private async send(controller: Controller, bytes: Uint8Array): Promise<void> {
    controller.enqueue(bytes);
    this.sent = true;
    if ((controller.desiredSize ?? 1) > 0) return;
    const stallMs = this.req.stallMs ?? STALL_MS;
    const taken = await new Promise<boolean>((resolve) => {
      const stall = setTimeout(() => resolve(false), stallMs);
      this.drained = () => {
        clearTimeout(stall);
        resolve(true);
      };
    });
    this.drained = undefined;
    if (!taken) throw new SlowWatcherError(`the watcher read nothing for ${stallMs} ms with ${this.req.bufferBytes ?? WATCH_BUFFER_BYTES} bytes queued`);
  }

  private frame(type: string, object: unknown): Uint8Array {
    return encoder.encode(`${JSON.stringify({ type, object })}\n`);
  }

  private objectFrame(type: string, stored: KubeObject): Uint8Array {
    const object = asServed(this.req.info, stored);
    if (!this.req.asTable) return encoder.encode(`{"type":"${type}","object":${objectJson(object)}}\n`);
    return this.frame(type, toTable(this.req.info, [object], { includeObject: 'Metadata', resourceVersion: object.metadata.resourceVersion }));
  }
}

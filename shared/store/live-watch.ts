/**
 * A watch over a driver's change log: catch up from the stored log, then follow live events
 * that the driver publishes after each commit, with no gap and no duplicate at the hand-over.
 *
 * The driver supplies `readLog` (stored entries in a revision range) and a `feed` to which it
 * publishes every committed batch in revision order. A consumer that falls too far behind
 * does not grow memory without bound: its buffer is dropped and it reads the log again.
 */
import { GoneError } from './errors.js';
import { filterChange, type ObjectFilter } from './filter.js';
import type { ChangeEvent, WatchEvent } from './types.js';

export type BatchListener = (events: ChangeEvent[]) => void;

/** Where a driver publishes each committed batch, in revision order. */
export class ChangeFeed {
  private readonly listeners = new Set<BatchListener>();

  publish(events: ChangeEvent[]): void {
    if (events.length === 0) return;
    for (const listener of this.listeners) listener(events);
  }

  listen(listener: BatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }
}

export interface LogSource {
  feed: ChangeFeed;
  /** The newest committed revision, read synchronously with registering on the feed. */
  head(): number;
  /** The oldest revision a watch may start from. */
  compacted(): number;
  /** Stored changes with from < revision <= to, for `resource` (all when undefined), oldest first, at most `limit`. */
  readLog(from: number, to: number, resource: string | undefined, limit: number): Promise<ChangeEvent[]> | ChangeEvent[];
}

export interface LiveWatchOptions {
  resource: string | undefined;
  fromRevision: number;
  filter: ObjectFilter;
  bookmarkIntervalMs?: number;
  signal?: AbortSignal;
  /** Events buffered for a slow consumer before it falls back to reading the log. */
  maxBuffered?: number;
  /** Entries read from the log per query while catching up. */
  pageSize?: number;
}

export async function* liveWatch(source: LogSource, options: LiveWatchOptions): AsyncGenerator<WatchEvent> {
  const { resource, filter, signal } = options;
  const maxBuffered = options.maxBuffered ?? 20_000;
  const pageSize = options.pageSize ?? 1000;
  if (options.fromRevision < source.compacted()) throw new GoneError(options.fromRevision, source.compacted());

  let buffer: ChangeEvent[] = [];
  let overflowed = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  // Register before reading the head, in the same synchronous step: every commit after `head`
  // reaches the buffer, every commit up to it is in the log.
  const unlisten = source.feed.listen((events) => {
    if (overflowed) return;
    const before = buffer.length;
    for (const event of events) if (resource === undefined || event.resource === resource) buffer.push(event);
    if (buffer.length === before) return; // other resources' changes: nothing to wake for
    if (buffer.length > maxBuffered) {
      overflowed = true;
      buffer = [];
    }
    notify();
  });
  const onAbort = () => notify();
  signal?.addEventListener('abort', onAbort);
  let last = options.fromRevision;
  let target = source.head();
  // Bookmarks keep their own clock: events (ours or other resources') never push one back, so a
  // watcher on a busy cluster gets them at the interval too.
  const interval = options.bookmarkIntervalMs;
  let bookmarkDue = interval ? Date.now() + interval : Infinity;
  const bookmark = (): WatchEvent => {
    bookmarkDue = Date.now() + interval!;
    // Only a revision whose changes were all delivered: past `last` only when nothing waits.
    return { type: 'BOOKMARK', revision: buffer.length === 0 && !overflowed ? Math.max(last, source.head()) : last };
  };

  try {
    for (;;) {
      // Catch up from the log up to `target`.
      while (last < target) {
        if (last < source.compacted()) throw new GoneError(last, source.compacted());
        const page = await source.readLog(last, target, resource, pageSize);
        if (page.length === 0) break;
        for (const event of page) {
          last = event.revision;
          const visible = filterChange(filter, event);
          if (visible) yield visible;
          if (signal?.aborted) return;
        }
        if (page.length < pageSize) break;
      }
      last = Math.max(last, target);
      // Follow live events.
      for (;;) {
        if (signal?.aborted) return;
        if (overflowed) {
          overflowed = false;
          target = source.head();
          break; // back to the log
        }
        if (Date.now() >= bookmarkDue) {
          yield bookmark();
          continue;
        }
        if (buffer.length > 0) {
          const batch = buffer;
          buffer = [];
          for (const event of batch) {
            if (event.revision <= last) continue;
            last = event.revision;
            const visible = filterChange(filter, event);
            if (visible) yield visible;
            if (signal?.aborted) return;
            if (overflowed) break;
          }
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = Number.isFinite(bookmarkDue) ? setTimeout(resolve, Math.max(0, bookmarkDue - Date.now())) : undefined;
          wake = () => {
            if (timer) clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  } finally {
    unlisten();
    signal?.removeEventListener('abort', onAbort);
  }
}

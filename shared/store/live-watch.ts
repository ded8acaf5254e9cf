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
  if (options.fromRevision < source.compacted()) throw new GoneError(options.fromRevision, source.compacted());
  // Register on the feed (LogWatch's constructor) before reading the head, in the same
  // synchronous step: every commit after `head` reaches the buffer, every commit up to it is
  // in the log.
  const watch = new LogWatch(source, options);
  let target = source.head();
  try {
    for (;;) {
      if (!(yield* watch.catchUp(target))) return;
      const behind = yield* watch.follow();
      if (behind === undefined) return;
      target = behind;
    }
  } finally {
    watch.close();
  }
}

/**
 * One watch's state between the log and the feed: what the feed has buffered for it, the last
 * revision it delivered and its bookmark clock. Apart from `liveWatch` so that the two phases,
 * catching up and following, read as one step each.
 */
class LogWatch {
  private buffer: ChangeEvent[] = [];
  private overflowed = false;
  private wake: (() => void) | undefined;
  private last: number;
  // Bookmarks keep their own clock: events (ours or other resources') never push one back, so a
  // watcher on a busy cluster gets them at the interval too.
  private bookmarkDue: number;
  private readonly maxBuffered: number;
  private readonly pageSize: number;
  private readonly unlisten: () => void;
  private readonly onAbort = () => this.notify();

  constructor(
    private readonly source: LogSource,
    private readonly options: LiveWatchOptions,
  ) {
    const { resource } = options;
    this.maxBuffered = options.maxBuffered ?? 20_000;
    this.pageSize = options.pageSize ?? 1000;
    this.last = options.fromRevision;
    this.bookmarkDue = options.bookmarkIntervalMs ? Date.now() + options.bookmarkIntervalMs : Infinity;
    this.unlisten = source.feed.listen((events) => {
      if (this.overflowed) return;
      const before = this.buffer.length;
      for (const event of events) if (resource === undefined || event.resource === resource) this.buffer.push(event);
      if (this.buffer.length === before) return; // other resources' changes: nothing to wake for
      if (this.buffer.length > this.maxBuffered) {
        this.overflowed = true;
        this.buffer = [];
      }
      this.notify();
    });
    options.signal?.addEventListener('abort', this.onAbort);
  }

  close(): void {
    this.unlisten();
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private bookmark(): WatchEvent {
    this.bookmarkDue = Date.now() + this.options.bookmarkIntervalMs!;
    // Only a revision whose changes were all delivered: past `last` only when nothing waits.
    return { type: 'BOOKMARK', revision: this.buffer.length === 0 && !this.overflowed ? Math.max(this.last, this.source.head()) : this.last };
  }

  /** Yields the stored changes up to `target`; false when the watch was aborted meanwhile. */
  async *catchUp(target: number): AsyncGenerator<WatchEvent, boolean> {
    const { source, pageSize } = this;
    const { resource, filter, signal } = this.options;
    while (this.last < target) {
      if (this.last < source.compacted()) throw new GoneError(this.last, source.compacted());
      const page = await source.readLog(this.last, target, resource, pageSize);
      if (page.length === 0) break;
      for (const event of page) {
        this.last = event.revision;
        const visible = filterChange(filter, event);
        if (visible) yield visible;
        if (signal?.aborted) return false;
      }
      if (page.length < pageSize) break;
    }
    this.last = Math.max(this.last, target);
    return true;
  }

  /**
   * Yields live events and bookmarks until the buffer overflowed, then returns the head to catch
   * up to from the log; undefined when the watch was aborted.
   */
  async *follow(): AsyncGenerator<WatchEvent, number | undefined> {
    const { filter, signal } = this.options;
    for (;;) {
      if (signal?.aborted) return undefined;
      if (this.overflowed) {
        this.overflowed = false;
        return this.source.head(); // back to the log
      }
      if (Date.now() >= this.bookmarkDue) {
        yield this.bookmark();
        continue;
      }
      if (this.buffer.length > 0) {
        const batch = this.buffer;
        this.buffer = [];
        for (const event of batch) {
          if (event.revision <= this.last) continue;
          this.last = event.revision;
          const visible = filterChange(filter, event);
          if (visible) yield visible;
          if (signal?.aborted) return undefined;
          if (this.overflowed) break;
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(this.bookmarkDue) ? setTimeout(resolve, Math.max(0, this.bookmarkDue - Date.now())) : undefined;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/**
 * `Store.watch` and `Store.subscribe` for a driver whose history is a change log and a feed:
 * both drivers answer them the same way, by `liveWatch` over their `LogSource`, so they supply
 * only that source. Apart from the drivers so that the way watch options reach `liveWatch`, and
 * where a subscription starts, cannot drift between them.
 */
import { compileFilter } from './filter.js';
import { liveWatch, type LogSource } from './live-watch.js';
import { subscribeVia } from './subscription.js';
import type { ChangeListener, SubscribeOptions, Subscription, WatchEvent, WatchOptions } from './types.js';

export abstract class LogStore {
  /** The driver's log and feed, and its head and compacted revisions as they move. */
  protected abstract logSource(): LogSource;

  watch(resource: string, options: WatchOptions): AsyncIterableIterator<WatchEvent> {
    return this.watchAll(resource, options);
  }

  subscribe(listener: ChangeListener, options: SubscribeOptions = {}): Subscription {
    const source = this.logSource();
    return subscribeVia((from, signal) => this.watchAll(undefined, { fromRevision: from, signal }), options.fromRevision ?? source.head(), listener);
  }

  private watchAll(resource: string | undefined, options: WatchOptions): AsyncGenerator<WatchEvent> {
    const filter = compileFilter(options);
    return liveWatch(this.logSource(), {
      resource,
      filter,
      fromRevision: options.fromRevision,
      bookmarkIntervalMs: options.bookmarkIntervalMs,
      signal: options.signal,
    });
  }
}

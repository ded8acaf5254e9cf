/**
 * `Store.subscribe` built on a driver's watch of every resource: changes are handed to the
 * listener in batches (whatever arrived together), in revision order, at least once. A
 * listener that throws gets the same batch again after `retryDelayMs`.
 */
import { GoneError } from './errors.js';
import type { ChangeEvent, ChangeListener, Subscription, WatchEvent } from './types.js';

export type OpenWatch = (fromRevision: number, signal: AbortSignal) => AsyncGenerator<WatchEvent>;

const YIELDED = Symbol('yielded');

/** Resolves after pending I/O callbacks, i.e. once whatever was ready has been taken. */
const afterReady = () => new Promise<typeof YIELDED>((resolve) => setImmediate(() => resolve(YIELDED)));

export function subscribeVia(
  open: OpenWatch,
  fromRevision: number,
  listener: ChangeListener,
  options: { maxBatch?: number; retryDelayMs?: number } = {},
): Subscription {
  const abort = new AbortController();
  const maxBatch = options.maxBatch ?? 1000;
  const retryDelayMs = options.retryDelayMs ?? 100;
  let last = fromRevision;

  const deliver = async (batch: ChangeEvent[]) => {
    while (!abort.signal.aborted) {
      try {
        await listener(batch);
        last = batch[batch.length - 1].revision;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, retryDelayMs));
      }
    }
  };

  const run = async () => {
    while (!abort.signal.aborted) {
      const iterator = open(last, abort.signal);
      try {
        let batch: ChangeEvent[] = [];
        let next = iterator.next();
        for (;;) {
          let step = await Promise.race([next, afterReady()]);
          if (step === YIELDED) {
            if (batch.length) await deliver(batch);
            batch = [];
            step = await next;
          }
          if (step.done || abort.signal.aborted) break;
          if (step.value.type !== 'BOOKMARK') batch.push(step.value);
          if (batch.length >= maxBatch) {
            await deliver(batch);
            batch = [];
          }
          next = iterator.next();
        }
        if (batch.length && !abort.signal.aborted) await deliver(batch);
      } catch (err) {
        // Fell behind compaction: what was trimmed cannot be replayed; go on from what exists.
        // Consumers (controllers) resync on start, so they recover the state itself.
        if (err instanceof GoneError) last = err.compacted;
        else await new Promise((r) => setTimeout(r, retryDelayMs));
      }
    }
  };
  void run();
  return { close: () => abort.abort() };
}

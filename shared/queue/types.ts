/**
 * The `Queue` port: where a controller puts a key it must come back to later. The semantics
 * are SQS's, so the in-process driver (`memory.ts`) and the SQS driver behave alike:
 *
 * - at least once: a message may be delivered more than once; handlers must be idempotent
 *   (controllers are: `reconcile(key)` reads state and writes only what is missing);
 * - a delay of up to 15 minutes per message (`MAX_DELAY_MS`); longer is refused;
 * - a handler that throws gets the message again after a visibility timeout, up to
 *   `maxReceives` deliveries; then the message moves to the dead-letter list.
 */

/** SQS's limit on DelaySeconds. */
export const MAX_DELAY_MS = 15 * 60 * 1000;

export interface QueueMessage {
  /** What to reconcile, e.g. `deployment/default/web`. */
  key: string;
  /** 1 on the first delivery, growing with each redelivery. */
  receiveCount: number;
  /** When the message was first enqueued (ms since the epoch). */
  enqueuedAt: number;
}

export interface DeadLetter extends QueueMessage {
  /** The last handler error's message. */
  error: string;
}

export type QueueHandler = (message: QueueMessage) => Promise<void>;

export interface Consumer {
  /** Stops delivering; resolves when in-flight handlers have finished. */
  close(): Promise<void>;
}

export interface Queue {
  /**
   * Puts `key` on the queue, delivered no sooner than `delayMs` from now. Throws `RangeError`
   * for a negative delay or one over `MAX_DELAY_MS`.
   */
  enqueue(key: string, options?: { delayMs?: number }): Promise<void>;

  /** Delivers messages to `handler`, at most `concurrency` at once (default 1). */
  consume(handler: QueueHandler, options?: { concurrency?: number }): Consumer;

  /** Messages that exhausted their deliveries, oldest first. */
  deadLetters(): Promise<DeadLetter[]>;

  close(): Promise<void>;
}

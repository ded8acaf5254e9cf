/**
 * The in-process `Queue` driver for the embedded and simulation shapes: timers instead of
 * SQS, with SQS's delivery semantics (see types.ts). Nothing survives a restart, which is
 * fine: controllers resync every object when they start.
 */
import { MAX_DELAY_MS, type Consumer, type DeadLetter, type Queue, type QueueHandler, type QueueMessage } from './types.js';

export interface MemoryQueueOptions {
  /** Deliveries before a message is dead-lettered (SQS redrive `maxReceiveCount`). */
  maxReceives?: number;
  /** How long a failed message stays invisible before its next delivery. */
  visibilityTimeoutMs?: number;
  /** Clock, for tests with fake timers. */
  now?: () => number;
}

interface Pending {
  message: QueueMessage;
  dueAt: number;
}

export class MemoryQueue implements Queue {
  private readonly maxReceives: number;
  private readonly visibilityTimeoutMs: number;
  private readonly now: () => number;
  /** Ready and delayed messages; kept sorted by dueAt (stable for equal times). */
  private pending: Pending[] = [];
  private readonly dead: DeadLetter[] = [];
  private handler?: QueueHandler;
  private concurrency = 1;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(options: MemoryQueueOptions = {}) {
    this.maxReceives = options.maxReceives ?? 5;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  async enqueue(key: string, options: { delayMs?: number } = {}): Promise<void> {
    const delayMs = options.delayMs ?? 0;
    if (!(delayMs >= 0 && delayMs <= MAX_DELAY_MS)) {
      throw new RangeError(`delay must be between 0 and ${MAX_DELAY_MS} ms, got ${delayMs}`);
    }
    if (this.closed) throw new Error('queue is closed');
    const now = this.now();
    this.insert({ message: { key, receiveCount: 0, enqueuedAt: now }, dueAt: now + delayMs });
    this.pump();
  }

  consume(handler: QueueHandler, options: { concurrency?: number } = {}): Consumer {
    if (this.handler) throw new Error('the memory queue has one consumer at a time');
    this.handler = handler;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.pump();
    return {
      close: async () => {
        this.handler = undefined;
        clearTimeout(this.timer);
        await this.drained();
      },
    };
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return [...this.dead];
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
    clearTimeout(this.timer);
    await this.drained();
    this.pending = [];
  }

  /** How many messages wait (ready or delayed): for tests and metrics. */
  get size(): number {
    return this.pending.length;
  }

  private insert(entry: Pending): void {
    let i = this.pending.length;
    while (i > 0 && this.pending[i - 1].dueAt > entry.dueAt) i--;
    this.pending.splice(i, 0, entry);
  }

  private drained(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /** Starts what is due, up to the concurrency, and arms a timer for the next due message. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const handler = this.handler;
    if (!handler || this.closed) return;
    const now = this.now();
    while (this.inFlight < this.concurrency && this.pending.length > 0 && this.pending[0].dueAt <= now) {
      const entry = this.pending.shift()!;
      this.deliver(handler, entry.message);
    }
    if (this.pending.length > 0 && this.inFlight < this.concurrency) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, this.pending[0].dueAt - now));
      this.timer.unref?.();
    }
  }

  private deliver(handler: QueueHandler, queued: QueueMessage): void {
    const message = { ...queued, receiveCount: queued.receiveCount + 1 };
    this.inFlight++;
    handler(message)
      .catch((err: unknown) => {
        const error = err instanceof Error ? err.message : String(err);
        if (message.receiveCount >= this.maxReceives) this.dead.push({ ...message, error });
        else this.insert({ message, dueAt: this.now() + this.visibilityTimeoutMs });
      })
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
        this.pump();
      });
  }
}

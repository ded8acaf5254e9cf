/**
 * The embedded control plane's controller runtime: subscribes to the store, routes each batch
 * to controllers' keys, and reconciles with per-key serialization (a key changed while it is
 * being reconciled runs again after), deduplication (a key waiting runs once), bounded
 * concurrency, and delayed requeue and retries through the `Queue` port.
 */
import { workqueueAdds, workqueueDepth, workqueueRetries, workqueueWork } from '../metrics.js';
import { MAX_DELAY_MS, type Queue } from '../queue/types.js';
import type { Store, Subscription } from '../store/types.js';
import { parseRequeueKey, requeueKey, route } from './dispatch.js';
import type { Controller } from './types.js';

export interface ManagerOptions {
  /** Reconciles running at once, per controller. */
  concurrency?: number;
  /** First retry delay after a failed reconcile; doubles up to 30 s. */
  retryBaseMs?: number;
  log?: (line: string) => void;
}

class KeyQueue {
  private readonly waiting = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private active = 0;
  private readonly failures = new Map<string, number>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly controller: Controller,
    private readonly concurrency: number,
    private readonly onRequeue: (key: string, afterMs: number) => void,
    private readonly retryBaseMs: number,
    private readonly log: (line: string) => void,
  ) {}

  add(key: string): void {
    workqueueAdds.inc({ name: this.controller.name });
    if (this.running.has(key)) this.dirty.add(key);
    else this.waiting.add(key);
    this.pump();
  }

  get idle(): boolean {
    return this.waiting.size === 0 && this.running.size === 0;
  }

  whenIdle(): Promise<void> {
    return this.idle ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    while (this.active < this.concurrency && this.waiting.size > 0) {
      const key = this.waiting.values().next().value as string;
      this.waiting.delete(key);
      this.running.add(key);
      this.active++;
      void this.run(key);
    }
    workqueueDepth.set({ name: this.controller.name }, this.waiting.size);
    if (this.idle) for (const r of this.idleWaiters.splice(0)) r();
  }

  private async run(key: string): Promise<void> {
    const done = workqueueWork.startTimer({ name: this.controller.name });
    try {
      const result = await this.controller.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.onRequeue(key, result.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(30_000, this.retryBaseMs * 2 ** (n - 1));
      workqueueRetries.inc({ name: this.controller.name });
      this.log(`${this.controller.name} ${key}: ${err instanceof Error ? err.message : String(err)} (retry in ${delay} ms)`);
      this.onRequeue(key, delay);
    } finally {
      done();
      this.running.delete(key);
      this.active--;
      if (this.dirty.delete(key)) this.waiting.add(key);
      this.pump();
    }
  }
}

export class ControllerManager {
  private readonly queues = new Map<string, KeyQueue>();
  private subscription?: Subscription;
  private consumer?: { close(): Promise<void> };

  constructor(
    private readonly store: Store,
    private readonly queue: Queue,
    private readonly controllers: Controller[],
    options: ManagerOptions = {},
  ) {
    const log = options.log ?? (() => undefined);
    for (const c of controllers) {
      this.queues.set(
        c.name,
        new KeyQueue(
          c,
          options.concurrency ?? 8,
          (key, afterMs) => void this.queue.enqueue(requeueKey(c.name, key), { delayMs: Math.min(afterMs, MAX_DELAY_MS) }),
          options.retryBaseMs ?? 200,
          log,
        ),
      );
    }
  }

  /** Subscribes from the current revision, then resyncs every key of every controller. */
  async start(): Promise<void> {
    const from = await this.store.currentRevision();
    this.subscription = this.store.subscribe(
      (events) => {
        for (const [controller, keys] of route(events, this.controllers)) {
          const q = this.queues.get(controller.name)!;
          for (const k of keys) q.add(k);
        }
      },
      { fromRevision: from },
    );
    this.consumer = this.queue.consume(
      async (message) => {
        const named = parseRequeueKey(message.key);
        if (named) this.queues.get(named.controller)?.add(named.key);
      },
      { concurrency: 16 },
    );
    for (const c of this.controllers) for (const key of await c.allKeys()) this.queues.get(c.name)!.add(key);
  }

  /** Resolves when no reconcile is waiting or running (for tests and benchmarks). */
  async settled(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.whenIdle()));
  }

  async stop(): Promise<void> {
    this.subscription?.close();
    await this.consumer?.close();
    await this.settled();
  }
}

/**
 * The one contract suite of the `Queue` port: every driver's test file calls `queueContract`
 * with a factory. Delays are short and real so the suite also fits drivers with a network.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_DELAY_MS, type Queue, type QueueMessage } from '../../shared/queue/types.js';

export interface QueueUnderTest {
  queue: Queue;
  cleanup: () => Promise<void>;
}

/** The driver must be made with maxReceives 3 and a visibility timeout of about 50 ms. */
export function queueContract(name: string, makeQueue: () => Promise<QueueUnderTest>): void {
  describe(`Queue contract: ${name}`, () => {
    let current: QueueUnderTest | undefined;
    const open = async () => (current = await makeQueue()).queue;
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    function collect(queue: Queue, handle?: (m: QueueMessage) => Promise<void>) {
      const seen: { key: string; at: number; receiveCount: number }[] = [];
      const consumer = queue.consume(
        async (m) => {
          seen.push({ key: m.key, at: Date.now(), receiveCount: m.receiveCount });
          await handle?.(m);
        },
        { concurrency: 4 },
      );
      return { seen, consumer };
    }

    async function until(check: () => boolean, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error('timed out waiting');
        await new Promise((r) => setTimeout(r, 10));
      }
    }

    it('delivers an enqueued key to the consumer', async () => {
      const queue = await open();
      const { seen } = collect(queue);
      await queue.enqueue('deployment/default/web');
      await until(() => seen.length === 1);
      expect(seen[0]).toMatchObject({ key: 'deployment/default/web', receiveCount: 1 });
    });

    it('holds a delayed message back until its delay has passed', async () => {
      const queue = await open();
      const { seen } = collect(queue);
      const start = Date.now();
      await queue.enqueue('later', { delayMs: 200 });
      await queue.enqueue('now');
      await until(() => seen.length === 2);
      expect(seen.map((s) => s.key)).toEqual(['now', 'later']);
      expect(seen[1].at - start).toBeGreaterThanOrEqual(190);
    });

    it('refuses delays over 15 minutes and negative ones', async () => {
      const queue = await open();
      await expect(queue.enqueue('k', { delayMs: MAX_DELAY_MS + 1 })).rejects.toThrow(RangeError);
      await expect(queue.enqueue('k', { delayMs: -1 })).rejects.toThrow(RangeError);
      await expect(queue.enqueue('k', { delayMs: MAX_DELAY_MS })).resolves.toBeUndefined();
    });

    it('redelivers a message whose handler failed, then dead-letters it after maxReceives', async () => {
      const queue = await open();
      const { seen } = collect(queue, async (m) => {
        if (m.key === 'poison') throw new Error('cannot reconcile');
      });
      await queue.enqueue('poison');
      await queue.enqueue('fine');
      await until(() => seen.filter((s) => s.key === 'poison').length === 3);
      await until(() => seen.length >= 4);
      let dead = await queue.deadLetters();
      for (let i = 0; i < 100 && dead.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        dead = await queue.deadLetters();
      }
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ key: 'poison', receiveCount: 3, error: 'cannot reconcile' });
      expect(seen.filter((s) => s.key === 'poison').map((s) => s.receiveCount)).toEqual([1, 2, 3]);
      expect(seen.filter((s) => s.key === 'fine')).toHaveLength(1);
    });

    it('succeeds on a redelivery after a passing failure (at least once)', async () => {
      const queue = await open();
      let failures = 0;
      const { seen } = collect(queue, async () => {
        if (failures++ === 0) throw new Error('transient');
      });
      await queue.enqueue('flaky');
      await until(() => seen.length === 2);
      await new Promise((r) => setTimeout(r, 150));
      expect(seen.map((s) => s.receiveCount)).toEqual([1, 2]);
      expect(await queue.deadLetters()).toEqual([]);
    });

    it('delivers every one of many messages', async () => {
      const queue = await open();
      const { seen } = collect(queue);
      const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((k, i) => queue.enqueue(k, { delayMs: i % 3 === 0 ? 30 : 0 })));
      await until(() => new Set(seen.map((s) => s.key)).size === keys.length);
      expect(new Set(seen.map((s) => s.key))).toEqual(new Set(keys));
    });

    it('stops delivering once the consumer is closed', async () => {
      const queue = await open();
      const { seen, consumer } = collect(queue);
      await consumer.close();
      await queue.enqueue('after-close', { delayMs: 10 });
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toEqual([]);
    });
  });
}

/**
 * Every port is chosen by a factory from a name or URL: the queue (memory, SQS), the runtime
 * (process, docker). A driver made by its factory works; a name the factory does not know is a
 * clear error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../kubelet/runtime/factory.js';
import { createQueue } from '../../shared/queue/factory.js';
import type { Queue, QueueMessage } from '../../shared/queue/types.js';
import { startFakeSqs, type FakeSqs } from '../../emulators/sqs.js';

let sqs: FakeSqs;
beforeAll(async () => {
  sqs = await startFakeSqs();
  // The SDK's default credential chain reads these; the loopback endpoint accepts any.
  process.env.AWS_ACCESS_KEY_ID ??= 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'secret';
});
afterAll(() => sqs.close());

async function roundTrip(queue: Queue): Promise<QueueMessage> {
  const got = new Promise<QueueMessage>((resolve) => {
    const consumer = queue.consume(async (message) => {
      resolve(message);
      void consumer.close();
    });
  });
  await queue.enqueue('replicaset/default/web');
  const message = await got;
  await queue.close();
  return message;
}

describe('port factories', () => {
  it('createQueue: memory:// and sqs:// each make a queue that delivers', async () => {
    expect((await roundTrip(await createQueue('memory://?maxReceives=3'))).key).toBe('replicaset/default/web');
    const url = sqs.driverUrl(sqs.createQueue('factory-work'), sqs.createQueue('factory-dead'), { maxReceives: '3', waitTimeSeconds: '1' });
    expect((await roundTrip(await createQueue(url))).key).toBe('replicaset/default/web');
    await expect(createQueue('kafka://x')).rejects.toThrow('unknown queue URL');
    await expect(createQueue('sqs://q')).rejects.toThrow('deadLetter');
  });

  it('createRuntime: process and docker by name, anything else refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-factory-'));
    try {
      const processRuntime = createRuntime('process', { dataDir: dir, node: 'n1' });
      expect(processRuntime.name).toBe('process');
      expect(await processRuntime.list()).toEqual([]);
      expect(createRuntime('docker', { dataDir: dir, node: 'n1', dockerSocket: join(dir, 'none.sock') }).name).toBe('docker');
      expect(() => createRuntime('containerd', { dataDir: dir, node: 'n1' })).toThrow('unknown runtime "containerd"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { MemoryQueue } from '../../shared/queue/memory.js';
import { queueContract } from './queue.contract.js';

queueContract('memory', async () => {
  const queue = new MemoryQueue({ maxReceives: 3, visibilityTimeoutMs: 50 });
  return { queue, cleanup: () => queue.close() };
});

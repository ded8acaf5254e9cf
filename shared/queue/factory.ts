/**
 * The one place that chooses a `Queue` driver, from a URL:
 *   memory://?maxReceives=1000000                     timers in this process (embedded, simulation)
 *   sqs://<queue URL>?deadLetter=<DLQ URL>&maxReceives=5&waitTimeSeconds=20&endpoint=http://127.0.0.1:9324&region=us-east-1
 * (the queue URLs inside are URL-encoded). Nothing else in the code base branches on the driver.
 */
import type { Queue } from './types.js';

const int = (params: URLSearchParams, name: string) => (params.has(name) ? Number(params.get(name)) : undefined);

export async function createQueue(url: string): Promise<Queue> {
  if (url === 'memory://' || url.startsWith('memory://?')) {
    const params = new URLSearchParams(url.slice('memory://'.length));
    const { MemoryQueue } = await import('./memory.js');
    return new MemoryQueue({ maxReceives: int(params, 'maxReceives'), visibilityTimeoutMs: int(params, 'visibilityTimeoutMs') });
  }
  if (url.startsWith('sqs://')) {
    const [target, query = ''] = url.slice('sqs://'.length).split('?');
    const params = new URLSearchParams(query);
    const deadLetter = params.get('deadLetter');
    if (!target || !deadLetter) throw new Error(`queue URL "${url}" needs the queue's URL and ?deadLetter=<dead-letter queue URL>`);
    const [{ SQSClient }, { SqsQueue }] = await Promise.all([import('@aws-sdk/client-sqs'), import('./sqs.js')]);
    const client = new SQSClient({ endpoint: params.get('endpoint') ?? undefined, region: params.get('region') ?? undefined });
    return new SqsQueue({
      client,
      queueUrl: decodeURIComponent(target),
      deadLetterQueueUrl: deadLetter,
      maxReceives: int(params, 'maxReceives'),
      waitTimeSeconds: int(params, 'waitTimeSeconds'),
    });
  }
  throw new Error(`unknown queue URL "${url}": use memory:// or sqs://<queue URL>?deadLetter=<URL>`);
}

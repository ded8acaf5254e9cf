/**
 * The queues: `Requeue` carries the controllers' delayed work (grace periods, retries,
 * deadlines) to the queue function, with a dead-letter queue after a few failed receives;
 * `StreamFailures` takes the stream records that exhausted their retries, so a poison record
 * never blocks its shard.
 */
import { settings } from './settings';

export function queues() {
  const deadLetters = new sst.aws.Queue('RequeueDeadLetters', { transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600 } } });
  const requeue = new sst.aws.Queue('Requeue', {
    // SQS's advice: at least six times the consumer's timeout, so a slow batch is not redelivered.
    visibilityTimeout: `${settings.controllerTimeoutSeconds * 6} seconds`,
    dlq: { queue: deadLetters.arn, retry: settings.queueMaxReceives },
  });
  const streamFailures = new sst.aws.Queue('StreamFailures', { transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600 } } });
  return { requeue, deadLetters, streamFailures };
}

export type Queues = ReturnType<typeof queues>;

/** The queue as the functions' SKIFF_QUEUE_URL names it. */
export function queueUrl(q: Queues) {
  return $interpolate`sqs://${q.requeue.url}?deadLetter=${q.deadLetters.url}&maxReceives=${settings.queueMaxReceives}`;
}

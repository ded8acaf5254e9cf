/**
 * The SQS driver of the Queue port through the Queue contract, with the real AWS SDK talking to
 * an SQS endpoint on loopback (test/support/fake-sqs.ts) that holds requests to the shapes and
 * limits of the SQS API reference; and what the driver sends, checked against those shapes.
 */
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsQueue } from '../../shared/queue/sqs.js';
import { startFakeSqs, type FakeSqs } from '../../emulators/sqs.js';
import { queueContract } from './queue.contract.js';

let sqs: FakeSqs;
let n = 0;
beforeAll(async () => {
  sqs = await startFakeSqs();
});
afterAll(() => sqs.close());

const client = () =>
  new SQSClient({ region: 'us-east-1', endpoint: sqs.endpoint, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 });

function open(maxReceives = 3) {
  const id = ++n;
  const c = client();
  const queue = new SqsQueue({
    client: c,
    queueUrl: sqs.createQueue(`work-${id}`),
    deadLetterQueueUrl: sqs.createQueue(`dead-${id}`),
    maxReceives,
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: 30,
  });
  return {
    queue,
    cleanup: async () => {
      await queue.close();
      c.destroy();
    },
  };
}

queueContract('sqs (real SDK, SQS endpoint on loopback)', async () => open());

describe('SQS driver', () => {
  it('sends what the SQS API documents: DelaySeconds in whole seconds, JSON body, the receive count asked for', async () => {
    const { queue, cleanup } = open();
    const from = sqs.requests.length;
    await queue.enqueue('deployment/default/web', { delayMs: 1500 });
    const consumer = queue.consume(async () => undefined);
    await new Promise((r) => setTimeout(r, 2500));
    await consumer.close();
    await cleanup();
    const sent = sqs.requests.slice(from);
    const send = sent.find((r) => r.action === 'SendMessage')!;
    expect(send.params.DelaySeconds).toBe(2);
    expect(JSON.parse(String(send.params.MessageBody))).toMatchObject({ key: 'deployment/default/web' });
    const receive = sent.find((r) => r.action === 'ReceiveMessage')!;
    expect(receive.params).toMatchObject({ MaxNumberOfMessages: 1, WaitTimeSeconds: 1, VisibilityTimeout: 30 });
    expect(receive.params.MessageSystemAttributeNames).toContain('ApproximateReceiveCount');
    expect(sent.some((r) => r.action === 'DeleteMessage')).toBe(true);
  });

  it('the endpoint refuses what SQS refuses: a delay over 900 s, and a stale receipt handle', async () => {
    const c = client();
    const url = sqs.createQueue('limits');
    await expect(c.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', DelaySeconds: 901 }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: 'Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.',
    });
    const { DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
    await expect(c.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'not-a-handle' }))).rejects.toMatchObject({ name: 'ReceiptHandleIsInvalid' });
    c.destroy();
  });
});

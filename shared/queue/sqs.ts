/**
 * The SQS driver of the `Queue` port, for the cloud shape: controllers in Lambdas put keys on
 * an SQS queue with a delay, and a consumer (an SQS event source mapping in production, or
 * `consume` here) hands them back. The semantics are SQS's own, so they match the port:
 *
 * - a delay is `DelaySeconds`, whole seconds up to 900: a sub-second delay rounds up;
 * - a message whose handler fails is made visible again at once (`ChangeMessageVisibility`
 *   to 0) and comes back with a higher `ApproximateReceiveCount`;
 * - on the last allowed delivery's failure the driver moves the message to the dead-letter
 *   queue with the error as a message attribute, then deletes it. The queue's RedrivePolicy
 *   (`maxReceiveCount` the same) is the backstop for a consumer that dies mid-message.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { MAX_DELAY_MS, type Consumer, type DeadLetter, type Queue, type QueueHandler, type QueueMessage } from './types.js';

export interface SqsQueueOptions {
  client: SQSClient;
  queueUrl: string;
  deadLetterQueueUrl: string;
  /** Deliveries before a message is dead-lettered (default 5, as the RedrivePolicy). */
  maxReceives?: number;
  /** Long-poll wait of each receive (default 20 s, SQS's longest). */
  waitTimeSeconds?: number;
  /** How long a received message stays hidden while its handler runs (default 30 s). */
  visibilityTimeoutSeconds?: number;
}

interface Body {
  key: string;
  enqueuedAt: number;
}

export class SqsQueue implements Queue {
  private readonly maxReceives: number;
  private readonly consumers = new Set<Consumer>();

  constructor(private readonly options: SqsQueueOptions) {
    this.maxReceives = options.maxReceives ?? 5;
  }

  async enqueue(key: string, options: { delayMs?: number } = {}): Promise<void> {
    const delayMs = options.delayMs ?? 0;
    if (!(delayMs >= 0) || delayMs > MAX_DELAY_MS) throw new RangeError(`delay ${delayMs} ms is outside 0..${MAX_DELAY_MS} ms (SQS allows up to 15 minutes)`);
    const body: Body = { key, enqueuedAt: Date.now() };
    await this.options.client.send(
      new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: JSON.stringify(body), DelaySeconds: Math.ceil(delayMs / 1000) }),
    );
  }

  consume(handler: QueueHandler, options: { concurrency?: number } = {}): Consumer {
    const concurrency = Math.max(1, options.concurrency ?? 1);
    const abort = new AbortController();
    const inFlight = new Set<Promise<void>>();
    const loop = async () => {
      while (!abort.signal.aborted) {
        while (inFlight.size >= concurrency) await Promise.race(inFlight);
        let messages: Message[] = [];
        try {
          const res = await this.options.client.send(
            new ReceiveMessageCommand({
              QueueUrl: this.options.queueUrl,
              MaxNumberOfMessages: Math.min(10, concurrency - inFlight.size),
              WaitTimeSeconds: this.options.waitTimeSeconds ?? 20,
              VisibilityTimeout: this.options.visibilityTimeoutSeconds ?? 30,
              MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
            }),
            { abortSignal: abort.signal },
          );
          messages = res.Messages ?? [];
        } catch {
          if (abort.signal.aborted) return;
          // SQS unreachable or throttling: look again shortly.
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        for (const m of messages) {
          const p = this.handle(handler, m).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
      }
    };
    const running = loop();
    const consumer: Consumer = {
      close: async () => {
        abort.abort();
        await running;
        await Promise.all(inFlight);
        this.consumers.delete(consumer);
      },
    };
    this.consumers.add(consumer);
    return consumer;
  }

  private async handle(handler: QueueHandler, m: Message): Promise<void> {
    const body = JSON.parse(m.Body ?? '{}') as Body;
    const message: QueueMessage = { key: body.key, enqueuedAt: body.enqueuedAt, receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1) };
    const { client, queueUrl, deadLetterQueueUrl } = this.options;
    try {
      await handler(message);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (message.receiveCount < this.maxReceives) {
        await client
          .send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }))
          .catch(() => undefined);
        return;
      }
      await client.send(
        new SendMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MessageBody: m.Body,
          MessageAttributes: {
            error: { DataType: 'String', StringValue: error.slice(0, 4096) || '(no message)' },
            receiveCount: { DataType: 'Number', StringValue: String(message.receiveCount) },
          },
        }),
      );
    }
    await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }

  /** What the dead-letter queue holds, oldest first: one look (up to 10), hiding nothing. */
  async deadLetters(): Promise<DeadLetter[]> {
    const res = await this.options.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    return (res.Messages ?? [])
      .map((m) => {
        const body = JSON.parse(m.Body ?? '{}') as Body;
        return {
          key: body.key,
          enqueuedAt: body.enqueuedAt,
          receiveCount: Number(m.MessageAttributes?.receiveCount?.StringValue ?? 0),
          error: m.MessageAttributes?.error?.StringValue ?? '',
        };
      })
      .sort((a, b) => a.enqueuedAt - b.enqueuedAt);
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.close()));
  }
}

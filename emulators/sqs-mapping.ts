/**
 * Lambda's event-source mapping for an SQS queue, on this machine (an emulator:
 * emulators/README.md): long-polls the queue (ReceiveMessage, up to `batchSize` messages,
 * 1 to 10 as Lambda's standard-queue limit without a batching window), invokes the function
 * with Lambda's SQS event, and deletes the messages it handled. With ReportBatchItemFailures,
 * the messages the response names stay on the queue and come back after their visibility
 * timeout; a function error leaves the whole batch there. The queue's RedrivePolicy (or the
 * driver's dead-letter move) decides when a message stops coming back.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface LambdaSqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, unknown>;
  md5OfBody?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

export type SqsFunction = (event: { Records: LambdaSqsRecord[] }) => Promise<{ batchItemFailures?: { itemIdentifier: string }[] } | undefined | void>;

export interface SqsMappingOptions {
  client: SQSClient;
  queueUrl: string;
  fn: SqsFunction;
  batchSize?: number;
  /** How long a received message stays hidden before it comes back (the queue's, by default 30 s). */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait (Lambda uses 20 s). */
  waitTimeSeconds?: number;
  region?: string;
}

export class SqsMapping {
  readonly stats = { invocations: 0, deleted: 0, failed: 0, functionErrors: 0 };
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private readonly arn: string;

  constructor(private readonly o: SqsMappingOptions) {
    const size = o.batchSize ?? 10;
    if (!Number.isInteger(size) || size < 1 || size > 10)
      throw new RangeError(`BatchSize ${size} is outside what Lambda allows without a batching window (1 to 10)`);
    const name = o.queueUrl.slice(o.queueUrl.lastIndexOf('/') + 1);
    this.arn = `arn:aws:sqs:${o.region ?? 'us-east-1'}:111122223333:${name}`;
  }

  start(): this {
    this.loop = (async () => {
      while (!this.abort.signal.aborted) {
        try {
          await this.once();
        } catch {
          if (!this.abort.signal.aborted) await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async once(): Promise<void> {
    const { client, queueUrl } = this.o;
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: this.o.batchSize ?? 10,
        WaitTimeSeconds: this.o.waitTimeSeconds ?? 1,
        ...(this.o.visibilityTimeoutSeconds !== undefined ? { VisibilityTimeout: this.o.visibilityTimeoutSeconds } : {}),
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.abort.signal },
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return;
    const records: LambdaSqsRecord[] = messages.map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? '',
      attributes: (m.Attributes ?? {}) as Record<string, string>,
      messageAttributes: m.MessageAttributes ?? {},
      md5OfBody: m.MD5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: this.arn,
      awsRegion: this.o.region ?? 'us-east-1',
    }));
    this.stats.invocations++;
    let failed: Set<string>;
    try {
      const response = await this.o.fn({ Records: records });
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      // An identifier that names no message of the batch: the whole batch failed.
      if ([...failed].some((id) => !records.some((r) => r.messageId === id))) failed = new Set(records.map((r) => r.messageId));
    } catch {
      this.stats.functionErrors++;
      failed = new Set(records.map((r) => r.messageId));
    }
    this.stats.failed += failed.size;
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length === 0) return;
    await client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })) }));
    this.stats.deleted += done.length;
  }
}

/**
 * Lambda's event-source mapping for a DynamoDB stream, on this machine (an emulator:
 * emulators/README.md). It reads the table's real stream (DynamoDB Local's, through the
 * Streams API: DescribeStream, GetShardIterator, GetRecords) and invokes a function with the
 * event Lambda delivers, keeping the behaviour Lambda documents for stream sources:
 *
 * - each shard in order, one batch in flight per shard, up to `batchSize` records (1 to
 *   10,000; default 100), gathered for up to `batchingWindowMs` (0 to 300,000);
 * - records in Lambda's JSON shape: `eventSource: 'aws:dynamodb'`, the stream's ARN, binary
 *   attributes as base64, `ApproximateCreationDateTime` in epoch seconds;
 * - with ReportBatchItemFailures, a response naming failed records checkpoints at the lowest
 *   one: the records before it are done, the batch is retried from it; a response naming a
 *   record that is not in the batch fails the whole batch;
 * - a function error (a throw, a timeout) retries the whole batch, or with
 *   `bisectBatchOnFunctionError` splits it in two and retries each half (a split does not count
 *   against the retries);
 * - after `maximumRetryAttempts` (-1, the default, is no limit; else 0 to 10,000) the batch's
 *   description goes to the on-failure destination and the shard moves on past it; records
 *   older than `maximumRecordAgeSeconds` (-1, or 60 to 604,800) go the same way unprocessed.
 */
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamApiRecord,
} from '@aws-sdk/client-dynamodb-streams';

/** A record as Lambda's event carries it. */
export interface LambdaStreamRecord {
  eventID?: string;
  eventName?: string;
  eventVersion: string;
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  eventSourceARN: string;
  dynamodb: Record<string, unknown> & { SequenceNumber: string };
}

export type StreamFunction = (event: {
  Records: LambdaStreamRecord[];
}) => Promise<{ batchItemFailures?: { itemIdentifier?: string | null }[] } | undefined | void>;

/** What Lambda sends an on-failure destination for a stream batch it gave up on. */
export interface StreamFailure {
  requestContext: { condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded'; approximateInvokeCount: number; functionError?: string };
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
  timestamp: string;
}

export interface StreamMappingOptions {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  fn: StreamFunction;
  batchSize?: number;
  batchingWindowMs?: number;
  maximumRetryAttempts?: number;
  bisectBatchOnFunctionError?: boolean;
  maximumRecordAgeSeconds?: number;
  /** FunctionResponseTypes: ReportBatchItemFailures (default on: Skiff's functions answer them). */
  reportBatchItemFailures?: boolean;
  onFailure?: (failure: StreamFailure) => Promise<void> | void;
  startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** How often an idle shard is polled (Lambda: four times a second). */
  pollIntervalMs?: number;
  /** First wait before a retry; doubles up to 5 s. */
  retryDelayMs?: number;
  region?: string;
}

function inRange(name: string, value: number, ok: boolean): void {
  if (!Number.isInteger(value) || !ok) throw new RangeError(`${name} ${value} is outside what Lambda allows`);
}

/** GetRecords' shape -> Lambda's: binary values as base64, times in epoch seconds. */
function base64Binaries(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(base64Binaries);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, base64Binaries(v)]));
  return value;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

interface Held {
  record: LambdaStreamRecord;
  arrivedAt: number;
}

export class StreamMapping {
  readonly stats = { invocations: 0, functionErrors: 0, partialFailures: 0, bisections: 0, sentToOnFailure: 0, delivered: 0 };
  private readonly abort = new AbortController();
  private readonly shards = new Map<string, Promise<void>>();
  private discovery?: Promise<void>;
  private readonly o: Required<Omit<StreamMappingOptions, 'onFailure'>> & Pick<StreamMappingOptions, 'onFailure'>;
  private busy = 0;

  constructor(options: StreamMappingOptions) {
    this.o = {
      batchSize: 100,
      batchingWindowMs: 0,
      maximumRetryAttempts: -1,
      bisectBatchOnFunctionError: false,
      maximumRecordAgeSeconds: -1,
      reportBatchItemFailures: true,
      startingPosition: 'TRIM_HORIZON',
      pollIntervalMs: 250,
      retryDelayMs: 100,
      region: 'us-east-1',
      ...options,
    };
    const o = this.o;
    inRange('BatchSize', o.batchSize, o.batchSize >= 1 && o.batchSize <= 10_000);
    inRange('MaximumBatchingWindowInSeconds', o.batchingWindowMs, o.batchingWindowMs >= 0 && o.batchingWindowMs <= 300_000);
    inRange('MaximumRetryAttempts', o.maximumRetryAttempts, o.maximumRetryAttempts >= -1 && o.maximumRetryAttempts <= 10_000);
    inRange(
      'MaximumRecordAgeInSeconds',
      o.maximumRecordAgeSeconds,
      o.maximumRecordAgeSeconds === -1 || (o.maximumRecordAgeSeconds >= 60 && o.maximumRecordAgeSeconds <= 604_800),
    );
  }

  /** Starts reading every shard, and looks for new ones (a split) every few seconds. */
  start(): this {
    this.discovery = (async () => {
      while (!this.abort.signal.aborted) {
        try {
          const described = await this.o.streams.send(new DescribeStreamCommand({ StreamArn: this.o.streamArn }));
          for (const shard of described.StreamDescription?.Shards ?? []) {
            const id = shard.ShardId!;
            if (!this.shards.has(id)) this.shards.set(id, this.readShard(id));
          }
        } catch {
          // The next look tries again.
        }
        await sleep(2000, this.abort.signal);
      }
    })();
    return this;
  }

  /** True while a batch is being handled (tests wait for false). */
  get working(): boolean {
    return this.busy > 0;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.discovery;
    await Promise.all(this.shards.values());
  }

  private async readShard(shardId: string): Promise<void> {
    const { streams, streamArn } = this.o;
    let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: this.o.startingPosition })))
      .ShardIterator;
    const held: Held[] = [];
    while (!this.abort.signal.aborted && (iterator || held.length)) {
      if (iterator && held.length < this.o.batchSize) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(1000, this.o.batchSize - held.length) }));
        iterator = page.NextShardIterator;
        for (const r of page.Records ?? []) held.push({ record: this.toLambda(r), arrivedAt: Date.now() });
        if ((page.Records ?? []).length && held.length < this.o.batchSize) continue;
      }
      const windowOpen = held.length > 0 && held.length < this.o.batchSize && Date.now() - held[0].arrivedAt < this.o.batchingWindowMs;
      if (held.length === 0 || windowOpen) {
        await sleep(windowOpen ? Math.min(this.o.pollIntervalMs, this.o.batchingWindowMs) : this.o.pollIntervalMs, this.abort.signal);
        continue;
      }
      const batch = held.splice(0, this.o.batchSize);
      this.busy++;
      try {
        await this.handle(shardId, batch);
      } finally {
        this.busy--;
      }
    }
  }

  private toLambda(r: StreamApiRecord): LambdaStreamRecord {
    const dynamodb = base64Binaries(r.dynamodb ?? {}) as LambdaStreamRecord['dynamodb'];
    const created = r.dynamodb?.ApproximateCreationDateTime;
    if (created instanceof Date) dynamodb.ApproximateCreationDateTime = Math.floor(created.getTime() / 1000);
    return {
      eventID: r.eventID,
      eventName: r.eventName,
      eventVersion: r.eventVersion ?? '1.1',
      eventSource: 'aws:dynamodb',
      // The function's region, as Lambda reports it (DynamoDB Local says `ddblocal`).
      awsRegion: this.o.region,
      eventSourceARN: this.o.streamArn,
      dynamodb,
    };
  }

  /** One batch to the end: success, retries from the failed record, bisection, or the on-failure destination. */
  private async handle(shardId: string, batch: Held[]): Promise<void> {
    const work: { records: Held[]; attempts: number }[] = [{ records: this.fresh(shardId, batch), attempts: 0 }];
    let delay = this.o.retryDelayMs;
    while (work.length && !this.abort.signal.aborted) {
      const item = work[0];
      if (item.records.length === 0) {
        work.shift();
        continue;
      }
      const outcome = await this.invoke(item.records);
      if (outcome.ok) {
        this.stats.delivered += item.records.length;
        work.shift();
        delay = this.o.retryDelayMs;
        continue;
      }
      if (outcome.from !== undefined) {
        // Checkpoint at the lowest failed record: what came before it is done.
        this.stats.delivered += outcome.from;
        item.records = item.records.slice(outcome.from);
      } else if (this.o.bisectBatchOnFunctionError && item.records.length > 1) {
        this.stats.bisections++;
        const half = Math.ceil(item.records.length / 2);
        work.splice(0, 1, { records: item.records.slice(0, half), attempts: item.attempts }, { records: item.records.slice(half), attempts: item.attempts });
        continue;
      }
      item.attempts++;
      if (this.o.maximumRetryAttempts >= 0 && item.attempts > this.o.maximumRetryAttempts) {
        await this.giveUp(shardId, item.records, 'RetryAttemptsExhausted', item.attempts, outcome.error);
        work.shift();
        continue;
      }
      await sleep(delay, this.abort.signal);
      delay = Math.min(5000, delay * 2);
      item.records = this.fresh(shardId, item.records);
    }
  }

  /** The records still young enough; the others go to the on-failure destination. */
  private fresh(shardId: string, records: Held[]): Held[] {
    if (this.o.maximumRecordAgeSeconds < 0) return records;
    const limit = Date.now() - this.o.maximumRecordAgeSeconds * 1000;
    const created = (h: Held) => Number(h.record.dynamodb.ApproximateCreationDateTime ?? h.arrivedAt / 1000) * 1000;
    const old = records.filter((h) => created(h) < limit);
    if (old.length) void this.giveUp(shardId, old, 'RecordAgeExceeded', 0);
    return records.filter((h) => created(h) >= limit);
  }

  private async invoke(records: Held[]): Promise<{ ok: true } | { ok: false; from?: number; error?: string }> {
    this.stats.invocations++;
    let response: Awaited<ReturnType<StreamFunction>>;
    try {
      response = await this.o.fn({ Records: records.map((h) => h.record) });
    } catch (err) {
      this.stats.functionErrors++;
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    const failures = this.o.reportBatchItemFailures ? (response?.batchItemFailures ?? []) : [];
    if (failures.length === 0) return { ok: true };
    this.stats.partialFailures++;
    const positions = failures.map((f) => records.findIndex((h) => f.itemIdentifier && h.record.dynamodb.SequenceNumber === f.itemIdentifier));
    // An identifier that names no record of the batch: the whole batch failed.
    if (positions.some((p) => p < 0)) return { ok: false, from: 0, error: 'batchItemFailures names a record not in the batch' };
    return { ok: false, from: Math.min(...positions) };
  }

  private async giveUp(
    shardId: string,
    records: Held[],
    condition: StreamFailure['requestContext']['condition'],
    attempts: number,
    error?: string,
  ): Promise<void> {
    this.stats.sentToOnFailure += records.length;
    const at = (h: Held) => new Date(Number(h.record.dynamodb.ApproximateCreationDateTime ?? h.arrivedAt / 1000) * 1000).toISOString();
    await this.o.onFailure?.({
      requestContext: { condition, approximateInvokeCount: attempts, ...(error ? { functionError: error } : {}) },
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: records[0].record.dynamodb.SequenceNumber,
        endSequenceNumber: records[records.length - 1].record.dynamodb.SequenceNumber,
        approximateArrivalOfFirstRecord: at(records[0]),
        approximateArrivalOfLastRecord: at(records[records.length - 1]),
        batchSize: records.length,
        streamArn: this.o.streamArn,
      },
      timestamp: new Date().toISOString(),
    });
  }
}

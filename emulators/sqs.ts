/**
 * An SQS endpoint on loopback (an emulator: emulators/README.md): no local SQS engine exists, so
 * this speaks SQS's JSON protocol (`X-Amz-Target: AmazonSQS.<Action>`) to the real AWS SDK
 * over real HTTP, for the actions the driver uses. It checks requests against what the SQS API
 * reference documents (required fields, DelaySeconds 0..900, MaxNumberOfMessages 1..10,
 * VisibilityTimeout 0..43200, WaitTimeSeconds 0..20, body size and characters, receipt
 * handles) and answers in the documented shapes, with the documented error codes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredMessage {
  id: string;
  body: string;
  attributes: Record<string, { DataType: string; StringValue?: string }>;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  receipt?: string;
}

interface FakeQueue {
  name: string;
  url: string;
  visibilityTimeout: number;
  messages: StoredMessage[];
}

class SqsError extends Error {
  constructor(
    readonly code: string,
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new SqsError('InvalidParameterValue', 'com.amazonaws.sqs#InvalidParameterValue', message);
const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

function intIn(params: Record<string, unknown>, name: string, min: number, max: number, fallback: number): number {
  const v = params[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`Value ${String(v)} for parameter ${name} is invalid. Reason: ${name} must be >= ${min} and <= ${max}.`);
  return v;
}

export interface FakeSqs {
  endpoint: string;
  /** Every request the fake answered: action and parameters, as the SDK sent them. */
  requests: { action: string; params: Record<string, unknown> }[];
  createQueue(name: string): string;
  /** The queue driver's URL (`createQueue`, `SKIFF_QUEUE_URL`) for a queue here and its dead-letter queue. */
  driverUrl(queueUrl: string, deadLetterUrl: string, params?: Record<string, string>): string;
  close(): Promise<void>;
}

export async function startFakeSqs(): Promise<FakeSqs> {
  const queues = new Map<string, FakeQueue>();
  const requests: FakeSqs['requests'] = [];
  let endpoint = '';

  const queueOf = (params: Record<string, unknown>): FakeQueue => {
    if (typeof params.QueueUrl !== 'string')
      throw new SqsError('MissingParameter', 'com.amazonaws.sqs#MissingParameter', 'The request must contain the parameter QueueUrl.');
    const q = queues.get(params.QueueUrl);
    if (!q) throw new SqsError('AWS.SimpleQueueService.NonExistentQueue', 'com.amazonaws.sqs#QueueDoesNotExist', 'The specified queue does not exist.');
    return q;
  };
  const inFlight = (q: FakeQueue, receipt: unknown): StoredMessage => {
    if (typeof receipt !== 'string' || !receipt)
      throw new SqsError('MissingParameter', 'com.amazonaws.sqs#MissingParameter', 'The request must contain the parameter ReceiptHandle.');
    const m = q.messages.find((x) => x.receipt === receipt);
    if (!m)
      throw new SqsError(
        'ReceiptHandleIsInvalid',
        'com.amazonaws.sqs#ReceiptHandleIsInvalid',
        `The input receipt handle "${receipt}" is not a valid receipt handle.`,
      );
    return m;
  };

  const actions: Record<string, (params: Record<string, unknown>, signal: AbortSignal) => Promise<unknown> | unknown> = {
    CreateQueue(params) {
      const name = String(params.QueueName ?? '');
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw invalid('Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
      return { QueueUrl: createQueue(name) };
    },
    SendMessage(params) {
      const q = queueOf(params);
      const body = params.MessageBody;
      if (typeof body !== 'string' || body.length === 0)
        throw new SqsError('MissingParameter', 'com.amazonaws.sqs#MissingParameter', 'The request must contain the parameter MessageBody.');
      if (Buffer.byteLength(body) > 262_144) throw invalid('One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.');
      // eslint-disable-next-line no-control-regex
      if (/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.test(body))
        throw new SqsError('InvalidMessageContents', 'com.amazonaws.sqs#InvalidMessageContents', 'Invalid characters found.');
      const delay = intIn(params, 'DelaySeconds', 0, 900, 0);
      const attributes = (params.MessageAttributes ?? {}) as StoredMessage['attributes'];
      for (const [name, a] of Object.entries(attributes)) {
        if (!/^(String|Number|Binary)(\..+)?$/.test(a.DataType ?? ''))
          throw invalid(
            `The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
          );
        if (a.DataType.startsWith('Number') && !Number.isFinite(Number(a.StringValue)))
          throw invalid(`Can't cast the value of message (user) attribute '${name}' to a number.`);
      }
      const m: StoredMessage = { id: randomUUID(), body, attributes, sentAt: Date.now(), visibleAt: Date.now() + delay * 1000, receiveCount: 0 };
      q.messages.push(m);
      return { MessageId: m.id, MD5OfMessageBody: md5(body) };
    },
    async ReceiveMessage(params, signal) {
      const q = queueOf(params);
      const max = intIn(params, 'MaxNumberOfMessages', 1, 10, 1);
      const visibility = intIn(params, 'VisibilityTimeout', 0, 43_200, q.visibilityTimeout);
      const wait = intIn(params, 'WaitTimeSeconds', 0, 20, 0);
      const deadline = Date.now() + wait * 1000;
      for (;;) {
        const now = Date.now();
        const ready = q.messages.filter((m) => m.visibleAt <= now).slice(0, max);
        if (ready.length || now >= deadline || signal.aborted) {
          const wantAttributes = [...((params.MessageSystemAttributeNames as string[]) ?? []), ...((params.AttributeNames as string[]) ?? [])];
          const all = wantAttributes.includes('All');
          const wantMessageAttributes = (params.MessageAttributeNames as string[]) ?? [];
          return {
            Messages: ready.map((m) => {
              m.receiveCount++;
              m.receipt = `${m.id}#${randomUUID()}`;
              m.visibleAt = now + visibility * 1000;
              const system: Record<string, string> = {
                ApproximateReceiveCount: String(m.receiveCount),
                SentTimestamp: String(m.sentAt),
                ApproximateFirstReceiveTimestamp: String(m.sentAt),
              };
              const attributes = Object.fromEntries(Object.entries(system).filter(([k]) => all || wantAttributes.includes(k)));
              const messageAttributes = Object.fromEntries(
                Object.entries(m.attributes).filter(([k]) => wantMessageAttributes.includes('All') || wantMessageAttributes.includes(k)),
              );
              return {
                MessageId: m.id,
                ReceiptHandle: m.receipt,
                MD5OfBody: md5(m.body),
                Body: m.body,
                ...(Object.keys(attributes).length ? { Attributes: attributes } : {}),
                ...(Object.keys(messageAttributes).length ? { MessageAttributes: messageAttributes } : {}),
              };
            }),
          };
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    DeleteMessage(params) {
      const q = queueOf(params);
      const m = inFlight(q, params.ReceiptHandle);
      q.messages.splice(q.messages.indexOf(m), 1);
      return {};
    },
    DeleteMessageBatch(params) {
      const q = queueOf(params);
      const entries = params.Entries as { Id?: unknown; ReceiptHandle?: unknown }[] | undefined;
      if (!Array.isArray(entries) || entries.length === 0)
        throw new SqsError(
          'AWS.SimpleQueueService.EmptyBatchRequest',
          'com.amazonaws.sqs#EmptyBatchRequest',
          'There should be at least one SendMessageBatchRequestEntry in the request.',
        );
      if (entries.length > 10)
        throw new SqsError(
          'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
          'com.amazonaws.sqs#TooManyEntriesInBatchRequest',
          'Maximum number of entries per request are 10.',
        );
      const ids = entries.map((e) => String(e.Id ?? ''));
      if (ids.some((id) => !/^[A-Za-z0-9_-]{1,80}$/.test(id)))
        throw new SqsError(
          'AWS.SimpleQueueService.InvalidBatchEntryId',
          'com.amazonaws.sqs#InvalidBatchEntryId',
          'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
        );
      if (new Set(ids).size !== ids.length)
        throw new SqsError(
          'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
          'com.amazonaws.sqs#BatchEntryIdsNotDistinct',
          'Two or more batch entries in the request have the same Id.',
        );
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
      for (const e of entries) {
        try {
          const m = inFlight(q, e.ReceiptHandle);
          q.messages.splice(q.messages.indexOf(m), 1);
          Successful.push({ Id: String(e.Id) });
        } catch (err) {
          const sqsErr = err as SqsError;
          Failed.push({ Id: String(e.Id), Code: sqsErr.code, Message: sqsErr.message, SenderFault: true });
        }
      }
      return { Successful, Failed };
    },
    ChangeMessageVisibility(params) {
      const q = queueOf(params);
      const m = inFlight(q, params.ReceiptHandle);
      if (m.visibleAt <= Date.now())
        throw new SqsError('AWS.SimpleQueueService.MessageNotInflight', 'com.amazonaws.sqs#MessageNotInflight', 'The message referred to is not in flight.');
      m.visibleAt = Date.now() + intIn(params, 'VisibilityTimeout', 0, 43_200, 0) * 1000;
      return {};
    },
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    req.on('data', (c) => chunks.push(c as Buffer));
    req.on('end', async () => {
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), ...headers });
        res.end(JSON.stringify(body));
      };
      try {
        const target = String(req.headers['x-amz-target'] ?? '');
        const action = target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : '';
        if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.0'))
          throw new SqsError('InvalidAction', 'com.amazonaws.sqs#InvalidAction', 'Requests must be POSTs in the AWS JSON 1.0 protocol.');
        if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 '))
          throw new SqsError('MissingAuthenticationToken', 'com.amazonaws.sqs#MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
        const handler = actions[action];
        if (!handler) throw new SqsError('InvalidAction', 'com.amazonaws.sqs#InvalidAction', `The action ${action} is not valid for this endpoint.`);
        const params = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        requests.push({ action, params });
        reply(200, await handler(params, abort.signal));
      } catch (err) {
        const e = err instanceof SqsError ? err : new SqsError('InternalError', 'com.amazonaws.sqs#InternalError', String(err), 500);
        reply(e.status, { __type: e.type, message: e.message }, { 'x-amzn-query-error': `${e.code};Sender` });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function createQueue(name: string): string {
    const url = `${endpoint}/000000000000/${name}`;
    if (!queues.has(url)) queues.set(url, { name, url, visibilityTimeout: 30, messages: [] });
    return url;
  }

  return {
    endpoint,
    requests,
    createQueue,
    driverUrl: (queueUrl, deadLetterUrl, params = {}) =>
      `sqs://${encodeURIComponent(queueUrl)}?${new URLSearchParams({ deadLetter: deadLetterUrl, ...params, endpoint, region: 'us-east-1' })}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A CloudWatch Logs endpoint on loopback (an emulator: emulators/README.md), speaking the JSON
 * 1.1 protocol (`X-Amz-Target: Logs_20140328.<Action>`) for what the awslogs driver and a
 * reader of task logs use: CreateLogGroup, CreateLogStream, PutLogEvents, GetLogEvents,
 * DescribeLogStreams, DeleteLogStream and DeleteLogGroup. It keeps the documented limits of
 * PutLogEvents: at most 10,000 events and 1,048,576 bytes a batch (each event's UTF-8 bytes
 * plus 26), events in time order within 24 hours. GetLogEvents pages with forward and backward
 * tokens (at most 10,000 events), and answers the token it was given when nothing is newer.
 *
 * The ECS emulator writes its tasks' output here as the awslogs driver would (`append`).
 */
import { AwsJsonError, type JsonParams, type JsonService, serveJson11 } from './json-service.js';

const MAX_BATCH_EVENTS = 10_000;
const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD = 26;
const DAY_MS = 24 * 3600_000;

export interface LogEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
}

export interface LogsEmulator extends JsonService {
  /** Group -> stream -> events, as stored. */
  readonly groups: ReadonlyMap<string, Map<string, LogEvent[]>>;
  /** Adds lines to a stream (creating group and stream), as the awslogs driver does. */
  append(group: string, stream: string, lines: string[], at?: number): void;
}

const notFound = (what: string) => new AwsJsonError('ResourceNotFoundException', `The specified ${what} does not exist.`);
const invalid = (message: string) => new AwsJsonError('InvalidParameterException', message);

function required(params: JsonParams, name: string): string {
  const v = params[name];
  if (typeof v !== 'string' || !v) throw invalid(`1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`);
  return v;
}

/** Checks a PutLogEvents batch against the documented limits. */
function checkBatch(events: { timestamp?: unknown; message?: unknown }[]): void {
  if (events.length === 0 || events.length > MAX_BATCH_EVENTS)
    throw invalid(`1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and ${MAX_BATCH_EVENTS}`);
  let bytes = 0;
  for (const [i, e] of events.entries()) {
    if (typeof e.timestamp !== 'number' || typeof e.message !== 'string' || !e.message)
      throw invalid(`Log event ${i} needs a timestamp and a non-empty message.`);
    if (i > 0 && e.timestamp < (events[i - 1].timestamp as number))
      throw invalid('Log events in a single PutLogEvents request must be in chronological order.');
    bytes += Buffer.byteLength(e.message) + EVENT_OVERHEAD;
  }
  if (bytes > MAX_BATCH_BYTES) throw invalid(`Upload too large: ${bytes} bytes exceeds limit of ${MAX_BATCH_BYTES}`);
  if ((events.at(-1)!.timestamp as number) - (events[0].timestamp as number) > DAY_MS)
    throw invalid('The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');
}

/** One page of GetLogEvents from `events`, as CloudWatch Logs answers it. */
function page(events: LogEvent[], params: JsonParams) {
  const limit = typeof params.limit === 'number' ? params.limit : MAX_BATCH_EVENTS;
  if (limit < 1 || limit > MAX_BATCH_EVENTS) throw invalid(`limit must be between 1 and ${MAX_BATCH_EVENTS}`);
  const start = typeof params.startTime === 'number' ? params.startTime : -Infinity;
  const end = typeof params.endTime === 'number' ? params.endTime : Infinity;
  const token = typeof params.nextToken === 'string' ? params.nextToken : undefined;
  const inRange = (e: LogEvent) => e.timestamp >= start && e.timestamp < end;
  let from: number;
  let to: number;
  if (token) {
    const m = /^([fb])\/(\d+)$/.exec(token);
    if (!m) throw invalid('The specified nextToken is invalid.');
    const at = Number(m[2]);
    [from, to] = m[1] === 'f' ? [at, Math.min(events.length, at + limit)] : [Math.max(0, at - limit), at];
  } else if (params.startFromHead === true) [from, to] = [0, Math.min(events.length, limit)];
  else [from, to] = [Math.max(0, events.length - limit), events.length];
  const chosen = events.slice(from, to).filter(inRange);
  return {
    events: chosen.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
    nextForwardToken: `f/${to}`,
    nextBackwardToken: `b/${from}`,
  };
}

export async function startLogsEmulator(): Promise<LogsEmulator> {
  const groups = new Map<string, Map<string, LogEvent[]>>();
  const group = (params: JsonParams) => {
    const g = groups.get(required(params, 'logGroupName'));
    if (!g) throw notFound('log group');
    return g;
  };
  const stream = (params: JsonParams) => {
    const s = group(params).get(required(params, 'logStreamName'));
    if (!s) throw notFound('log stream');
    return s;
  };
  const service = await serveJson11({
    targetPrefix: 'Logs_20140328',
    internalError: 'ServiceUnavailableException',
    actions: {
      CreateLogGroup(params) {
        const name = required(params, 'logGroupName');
        if (groups.has(name)) throw new AwsJsonError('ResourceAlreadyExistsException', 'The specified log group already exists');
        groups.set(name, new Map());
      },
      DeleteLogGroup(params) {
        group(params);
        groups.delete(params.logGroupName as string);
      },
      CreateLogStream(params) {
        const g = group(params);
        const name = required(params, 'logStreamName');
        if (g.has(name)) throw new AwsJsonError('ResourceAlreadyExistsException', 'The specified log stream already exists');
        g.set(name, []);
      },
      DeleteLogStream(params) {
        stream(params);
        group(params).delete(params.logStreamName as string);
      },
      DescribeLogStreams(params) {
        const prefix = typeof params.logStreamNamePrefix === 'string' ? params.logStreamNamePrefix : '';
        const found = [...group(params)].filter(([name]) => name.startsWith(prefix));
        return {
          logStreams: found.map(([name, events]) => ({
            logStreamName: name,
            ...(events.length ? { firstEventTimestamp: events[0].timestamp, lastEventTimestamp: events.at(-1)!.timestamp } : {}),
            storedBytes: 0,
          })),
        };
      },
      PutLogEvents(params) {
        const events = stream(params);
        const batch = (Array.isArray(params.logEvents) ? params.logEvents : []) as { timestamp: number; message: string }[];
        checkBatch(batch);
        const now = Date.now();
        for (const e of batch) events.push({ timestamp: e.timestamp, message: e.message, ingestionTime: now });
        return { nextSequenceToken: String(events.length) };
      },
      GetLogEvents: (params) => page(stream(params), params),
    },
  });
  return {
    ...service,
    groups,
    append(groupName, streamName, lines, at = Date.now()) {
      let g = groups.get(groupName);
      if (!g) groups.set(groupName, (g = new Map()));
      let s = g.get(streamName);
      if (!s) g.set(streamName, (s = []));
      for (const line of lines) s.push({ timestamp: at, message: line, ingestionTime: Date.now() });
    },
  };
}

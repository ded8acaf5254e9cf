/**
 * One Lambda execution environment (a child process of `lambda-runner.ts`): loads the
 * function's module once (its cold start), then runs each invocation it is sent with Lambda's
 * context object. `awslambda.streamifyResponse` and `HttpResponseStream.from` are provided as
 * the Node.js runtime provides them: a streaming function's bytes go back as written, the
 * metadata prelude (JSON, then eight NUL bytes) first.
 */
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const STREAMING = Symbol.for('skiff.lambda.streaming');

interface Invoke {
  type: 'invoke';
  id: string;
  event: unknown;
  deadline: number;
  functionName: string;
  memoryMb: number;
}

type Handler = ((event: unknown, context: unknown) => Promise<unknown>) & { [STREAMING]?: boolean };
type StreamingHandler = (event: unknown, stream: Writable, context: unknown) => Promise<void>;

const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

(globalThis as Record<string, unknown>).awslambda = {
  streamifyResponse(fn: StreamingHandler) {
    (fn as unknown as Handler)[STREAMING] = true;
    return fn;
  },
  HttpResponseStream: {
    from(stream: Writable, metadata: unknown) {
      stream.write(Buffer.concat([Buffer.from(JSON.stringify(metadata)), Buffer.alloc(8)]));
      return stream;
    },
  },
};

const [modulePath, exportName = 'handler'] = process.argv.slice(2);
const loaded = import(pathToFileURL(modulePath).href).then((m: Record<string, unknown>) => m[exportName] as Handler);

function contextFor(message: Invoke) {
  return {
    awsRequestId: message.id,
    functionName: message.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:111122223333:function:${message.functionName}`,
    memoryLimitInMB: String(message.memoryMb),
    logGroupName: `/aws/lambda/${message.functionName}`,
    logStreamName: `local/${process.pid}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
}

process.on('message', async (message: Invoke) => {
  if (message.type !== 'invoke') return;
  const { id } = message;
  try {
    const handler = await loaded;
    if (typeof handler !== 'function') throw new Error(`the module exports no function "${exportName}"`);
    const context = contextFor(message);
    if (handler[STREAMING]) {
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          void send({ type: 'chunk', id, chunk: Buffer.from(chunk).toString('base64') }).then(() => done());
        },
      });
      await (handler as unknown as StreamingHandler)(message.event, stream, context);
      if (!stream.writableEnded) stream.end();
      await new Promise<void>((resolve) => (stream.writableFinished ? resolve() : stream.once('finish', () => resolve())));
      await send({ type: 'end', id });
    } else {
      await send({ type: 'result', id, result: await handler(message.event, context) });
    }
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    await send({ type: 'error', id, error: { errorType: e.name, errorMessage: e.message } });
  }
});

void loaded.then(
  () => send({ type: 'ready' }),
  (err: Error) => send({ type: 'init-error', error: { errorType: err.name, errorMessage: err.message } }),
);

/**
 * One Lambda execution environment (a child process of `lambda-runner.ts`), in plain
 * JavaScript so that a bundled function starts as on Lambda, with no TypeScript loader (one is
 * added only for a function given as TypeScript source). Loads the function's module once (its
 * cold start, timed as Lambda's "Init Duration"), then runs each invocation it is sent with
 * Lambda's context object. `awslambda.streamifyResponse` and `HttpResponseStream.from` are
 * provided as the Node.js runtime provides them: a streaming function's bytes go back as
 * written, the metadata prelude (JSON, then eight NUL bytes) first.
 */
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const STREAMING = Symbol.for('skiff.lambda.streaming');

/** @param {unknown} message */
const send = (message) => new Promise((resolve) => process.send(message, () => resolve(undefined)));

globalThis.awslambda = {
  /** @param {Function} fn */
  streamifyResponse(fn) {
    fn[STREAMING] = true;
    return fn;
  },
  HttpResponseStream: {
    /** @param {Writable} stream @param {unknown} metadata */
    from(stream, metadata) {
      stream.write(Buffer.concat([Buffer.from(JSON.stringify(metadata)), Buffer.alloc(8)]));
      return stream;
    },
  },
};

const [modulePath, exportName = 'handler'] = process.argv.slice(2);
const initStarted = performance.now();
const loaded = import(pathToFileURL(modulePath).href).then((m) => m[exportName]);

/** @param {{ id: string, deadline: number, functionName: string, memoryMb: number }} message */
function contextFor(message) {
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

process.on('message', async (message) => {
  if (message.type !== 'invoke') return;
  const { id } = message;
  try {
    const handler = await loaded;
    if (typeof handler !== 'function') throw new Error(`the module exports no function "${exportName}"`);
    const context = contextFor(message);
    if (handler[STREAMING]) {
      const stream = new Writable({
        write(chunk, _encoding, done) {
          void send({ type: 'chunk', id, chunk: Buffer.from(chunk).toString('base64') }).then(() => done());
        },
      });
      await handler(message.event, stream, context);
      if (!stream.writableEnded) stream.end();
      await new Promise((resolve) => (stream.writableFinished ? resolve(undefined) : stream.once('finish', () => resolve(undefined))));
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
  () => send({ type: 'ready', initMs: performance.now() - initStarted }),
  (err) => send({ type: 'init-error', error: { errorType: err.name, errorMessage: err.message } }),
);

/**
 * A Lambda function on this machine (an emulator: emulators/README.md). Each execution
 * environment is a child process (`lambda-instance.mjs`) that loads the function's module once,
 * its cold start, and then serves one invocation at a time, as Lambda's do:
 *
 * - `concurrency` environments at most (reserved concurrency); an invocation past it waits;
 * - an invocation past `timeoutMs` kills its environment (`Task timed out after N seconds`),
 *   and the next one starts cold;
 * - `coldStartEvery` recycles an environment after that many invocations (1: every invocation
 *   is a cold start), so a function that kept state between invocations would show it;
 * - the event and a context object with `getRemainingTimeInMillis`; a streaming function
 *   (`awslambda.streamifyResponse`) answers a byte stream, its metadata prelude first.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const INSTANCE = join(dirname(fileURLToPath(import.meta.url)), 'lambda-instance.mjs');

export interface LambdaFunctionOptions {
  name: string;
  /** The module's path and the export to call (default `handler`). */
  module: string;
  exportName?: string;
  timeoutMs: number;
  memoryMb?: number;
  concurrency?: number;
  coldStartEvery?: number;
  env?: Record<string, string>;
}

const pick = (env: NodeJS.ProcessEnv, names: string[]) => Object.fromEntries(names.filter((n) => env[n] !== undefined).map((n) => [n, env[n]!]));

export class LambdaError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

interface Environment {
  child: ChildProcess;
  ready: Promise<void>;
  served: number;
  busy: boolean;
}

type Reply =
  | { type: 'chunk'; chunk: string }
  | { type: 'end' }
  | { type: 'result'; result: unknown }
  | { type: 'error'; error: { errorType: string; errorMessage: string } };

export class LambdaFunction {
  /** `durationMs`: each invocation's duration from the environment's readiness to its end (what Lambda bills, init aside). */
  readonly stats = { invocations: 0, coldStarts: 0, timeouts: 0, initMs: [] as number[], durationMs: [] as number[] };
  private readonly environments = new Set<Environment>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(private readonly o: LambdaFunctionOptions) {}

  /** A buffered invocation: the handler's return value. */
  async invoke(event: unknown): Promise<unknown> {
    let result: unknown;
    await this.run(event, (reply) => {
      if (reply.type === 'result') result = reply.result;
    });
    return result;
  }

  /** A streaming invocation: the bytes the function writes (prelude included), as they come. */
  invokeStream(event: unknown): Readable {
    const out = new PassThrough();
    this.run(event, (reply) => {
      if (reply.type === 'chunk') out.write(Buffer.from(reply.chunk, 'base64'));
    }).then(
      () => out.end(),
      (err: Error) => out.destroy(err),
    );
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Invocations waiting for an environment are refused, not given one started after the close.
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all([...this.environments].map((e) => this.discard(e)));
  }

  private async run(event: unknown, onReply: (reply: Reply) => void): Promise<void> {
    const env = await this.acquire();
    this.stats.invocations++;
    const id = randomUUID();
    let began = 0;
    try {
      await env.ready;
      began = performance.now();
      // The timeout counts from the handler's start, as Lambda's (a cold start's init is apart).
      const deadline = Date.now() + this.o.timeoutMs;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.stats.timeouts++;
          void this.discard(env);
          reject(new LambdaError('Sandbox.Timedout', `Task timed out after ${(this.o.timeoutMs / 1000).toFixed(2)} seconds`));
        }, this.o.timeoutMs);
        const listener = (message: Reply & { id?: string }) => {
          if (message.id !== id) return;
          if (message.type === 'error') {
            finish();
            reject(new LambdaError(message.error.errorType, message.error.errorMessage));
          } else {
            onReply(message);
            if (message.type === 'end' || message.type === 'result') {
              finish();
              resolve();
            }
          }
        };
        const exited = () => {
          finish();
          reject(new LambdaError('Runtime.ExitError', `the environment of ${this.o.name} exited during the invocation`));
        };
        const finish = () => {
          clearTimeout(timer);
          env.child.off('message', listener);
          env.child.off('exit', exited);
        };
        env.child.on('message', listener);
        env.child.once('exit', exited);
        env.child.send({ type: 'invoke', id, event, deadline, functionName: this.o.name, memoryMb: this.o.memoryMb ?? 1024 });
      });
    } finally {
      if (began) this.stats.durationMs.push(performance.now() - began);
      this.release(env);
    }
  }

  private async acquire(): Promise<Environment> {
    for (;;) {
      if (this.closed) throw new LambdaError('ResourceNotFoundException', `function ${this.o.name} is closed`);
      const idle = [...this.environments].find((e) => !e.busy);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (this.environments.size < (this.o.concurrency ?? 10)) {
        const env = this.start();
        env.busy = true;
        return env;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(env: Environment): void {
    env.busy = false;
    env.served++;
    if (this.o.coldStartEvery && env.served >= this.o.coldStartEvery) void this.discard(env);
    this.waiting.shift()?.();
  }

  private start(): Environment {
    this.stats.coldStarts++;
    const child = fork(INSTANCE, [this.o.module, this.o.exportName ?? 'handler'], {
      // A TypeScript source needs a loader; a bundle starts as it would on Lambda, without one.
      execArgv: this.o.module.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [],
      // A clean environment, as Lambda's, but for what finds the tools and marks a test run's processes.
      env: {
        ...pick(process.env, ['PATH', 'HOME', 'SKIFF_TEST_RUN']),
        AWS_LAMBDA_FUNCTION_NAME: this.o.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.o.memoryMb ?? 1024),
        AWS_REGION: 'us-east-1',
        // Lambda runs Node 22; the SDK's warning about this machine's Node 20 is not the function's.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...this.o.env,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: { type: string; initMs?: number; error?: { errorType: string; errorMessage: string } }) => {
        if (m.type === 'ready') {
          this.stats.initMs.push(m.initMs ?? 0);
          resolve();
        }
        if (m.type === 'init-error') reject(new LambdaError(`Runtime.${m.error!.errorType}`, m.error!.errorMessage));
      });
      child.once('exit', (code) => reject(new LambdaError('Runtime.ExitError', `the environment of ${this.o.name} exited with ${code} before it was ready`)));
    });
    ready.catch(() => undefined);
    const env: Environment = { child, ready, served: 0, busy: false };
    this.environments.add(env);
    child.once('exit', () => {
      this.environments.delete(env);
      this.waiting.shift()?.();
    });
    return env;
  }

  private async discard(env: Environment): Promise<void> {
    this.environments.delete(env);
    if (env.child.exitCode !== null || env.child.signalCode !== null) return;
    const gone = new Promise((resolve) => env.child.once('exit', resolve));
    env.child.kill('SIGKILL');
    await gone;
  }
}

/**
 * DynamoDB Local, the real engine the AWS shape runs on here (emulators/README.md): the jar
 * shipped inside the npm package amplify-dynamodb-simulator, on a free loopback port (or the
 * one asked for), in memory for the tests and benchmarks or in a folder for `--shape
 * aws-local`, stopped after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { freePort } from './free-port.js';

export interface DynamoDbLocal {
  endpoint: string;
  /** The store URL of `table` here (`createStore`, `SKIFF_STORE_URL`). */
  storeUrl(table: string): string;
  /** The ARN of `table`'s stream, for the stream event-source mapping. */
  streamArn(table: string): Promise<string>;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Keep the tables in this folder (kept across restarts) instead of in memory. */
  dbPath?: string;
  port?: number;
}

/** The store URL of `table` behind a local `endpoint` (DynamoDB Local, or a meter in front of it). */
export function localStoreUrl(table: string, endpoint: string): string {
  return `dynamodb://${table}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1`;
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const emulator = join(dirname(createRequire(import.meta.url).resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
  const port = options.port || (await freePort());
  const proc: ChildProcess = spawn(
    'java',
    [
      '-Xmx1g',
      `-Djava.library.path=${join(emulator, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(emulator, 'DynamoDBLocal.jar'),
      ...(options.dbPath ? ['-dbPath', options.dbPath, '-sharedDb'] : ['-inMemory']),
      '-port',
      String(port),
      '-disableTelemetry',
    ],
    { cwd: emulator, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  let failed: Error | undefined;
  proc.once('error', (err) => (failed = err));
  proc.stdout?.on('data', (d) => (log = (log + String(d)).slice(-4000)));
  proc.stderr?.on('data', (d) => (log = (log + String(d)).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (failed) {
      throw new Error(
        (failed as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'DynamoDB Local needs Java 17, and `java` is not on the PATH (on Debian: apt-get install openjdk-17-jre-headless)'
          : `DynamoDB Local did not start: ${failed.message}`,
      );
    }
    if (proc.exitCode !== null) throw new Error(`DynamoDB Local exited with ${proc.exitCode}:\n${log}`);
    try {
      // Any HTTP answer means it listens (it answers 400 to a bare GET).
      await fetch(endpoint);
      break;
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`DynamoDB Local did not answer within 60 s:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    endpoint,
    storeUrl: (table) => localStoreUrl(table, endpoint),
    async streamArn(table) {
      const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      try {
        return (await client.send(new DescribeTableCommand({ TableName: table }))).Table!.LatestStreamArn!;
      } finally {
        client.destroy();
      }
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

/**
 * `skiff up --shape aws-local` (`npm start -- --shape aws-local`): the AWS shape on this
 * machine. The four functions run as they run in the cloud, each in the Lambda runner
 * (execution environments as child processes, with cold starts and timeouts), behind local
 * stand-ins for what AWS puts around them (emulators/):
 *
 * - the table in DynamoDB Local, kept in `<data-dir>/dynamodb`, and its real stream read by the
 *   stream event-source mapping into the stream function;
 * - the SQS emulator for delayed work, and its mapping into the queue function;
 * - a tick every 10 seconds into the tick function;
 * - the API function behind a Function URL front on HTTPS (the cluster CA in `<data-dir>/pki`).
 *
 * Local workers (kubelet processes) join as in the embedded shape. What is not here yet: pod
 * logs through the API function, and tokens and cluster state kept in the table rather than
 * handed to the API function at start (issue 12).
 */
import { join, resolve } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { mkdirSync } from 'node:fs';
import { startDynamoDbLocal } from '../emulators/dynamodb-local.js';
import { startFunctionUrl } from '../emulators/function-url.js';
import { LambdaFunction } from '../emulators/lambda-runner.js';
import { SqsMapping } from '../emulators/sqs-mapping.js';
import { startFakeSqs } from '../emulators/sqs.js';
import { StreamMapping } from '../emulators/stream-mapping.js';
import { writeKubeconfig } from '../functions/api/kubeconfig.js';
import { ensureTls } from '../functions/api/tls.js';
import { dockerAvailable } from '../kubelet/runtime/docker.js';
import { LocalCloudProvider } from '../kubelet/local-provider.js';
import { TokenFile } from '../shared/auth/token-file.js';
import { openDynamoStore } from '../shared/store/dynamodb.js';
import type { Running, UpOptions } from './up.js';

const TABLE = 'skiff-state';
const ADMIN = { user: 'skiff-admin', groups: ['system:masters'] };
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function upAwsLocal(options: UpOptions, log: (line: string) => void = console.log): Promise<Running> {
  const dataDir = resolve(options.dataDir);
  // The emulated services are reached with the SDK from this process too; Lambda would run Node 22.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  mkdirSync(join(dataDir, 'dynamodb'), { recursive: true, mode: 0o700 });
  const started = Date.now();
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const dynamo = await startDynamoDbLocal({ dbPath: join(dataDir, 'dynamodb') });
    stops.push(() => dynamo.stop());
    // The table is the infrastructure's to make: here, once, before any function runs.
    await (await openDynamoStore({ tableName: TABLE, endpoint: dynamo.endpoint, region: 'us-east-1', createTable: true })).close();
    log(`dynamodb  ${dynamo.endpoint} (table ${TABLE}, kept in ${join(dataDir, 'dynamodb')})`);

    const sqs = await startFakeSqs();
    stops.push(() => sqs.close());
    const queueUrl = sqs.createQueue('skiff-work');
    const deadLetter = sqs.createQueue('skiff-dead-letter');
    log(`sqs       ${sqs.endpoint} (skiff-work, skiff-dead-letter)`);

    // Tokens the API function knows: the admin's and one per node, made before it starts.
    const tokenFile = new TokenFile(join(dataDir, 'tokens.json'));
    const admin = tokenFile.issue(ADMIN.user, ADMIN.groups, { replace: true, description: 'the admin kubeconfig (aws-local)' }).token;
    const names = Array.from({ length: options.nodes }, (_, i) => `local-${i}`);
    const nodeTokens = new Map(names.map((name) => [`system:node:${name}`, tokenFile.issue(`system:node:${name}`, ['system:nodes'], { replace: true }).token]));

    const common = {
      SKIFF_STORE_URL: `dynamodb://${TABLE}?endpoint=${encodeURIComponent(dynamo.endpoint)}&region=us-east-1`,
      SKIFF_QUEUE_URL: `sqs://${encodeURIComponent(queueUrl)}?deadLetter=${encodeURIComponent(deadLetter)}&endpoint=${encodeURIComponent(sqs.endpoint)}&region=us-east-1`,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    };
    const fn = (name: string, module: string, timeoutMs: number, env: Record<string, string> = {}) => {
      const f = new LambdaFunction({ name, module: resolve(module), timeoutMs, env: { ...common, ...env } });
      stops.push(() => f.close());
      return f;
    };
    const api = fn('skiff-api', 'functions/api/lambda.ts', 900_000, { SKIFF_TOKENS: JSON.stringify(tokenFile.list()) });
    const stream = fn('skiff-stream', 'functions/stream/handler.ts', 60_000);
    const queue = fn('skiff-queue', 'functions/queue/handler.ts', 60_000);
    const tick = fn('skiff-tick', 'functions/tick/handler.ts', 60_000);

    const tls = ensureTls(join(dataDir, 'pki'));
    const url = await startFunctionUrl(api, { tls, port: options.port, host: options.host });
    stops.push(() => url.close());
    const kubeconfigPath = join(dataDir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, { server: url.url, caCert: tls.caCert, token: admin });
    log(`api       ${url.url} (a Function URL front on the API function)`);

    const dynamoClient = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials });
    const streamArn = (await dynamoClient.send(new DescribeTableCommand({ TableName: TABLE }))).Table!.LatestStreamArn!;
    dynamoClient.destroy();
    const streams = new DynamoDBStreamsClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials });
    const streamMapping = new StreamMapping({
      streams,
      streamArn,
      fn: (event) => stream.invoke(event) as ReturnType<ConstructorParameters<typeof StreamMapping>[0]['fn']>,
      startingPosition: 'LATEST',
      bisectBatchOnFunctionError: true,
    }).start();
    stops.push(async () => {
      await streamMapping.stop();
      streams.destroy();
    });
    const sqsClient = new SQSClient({ endpoint: sqs.endpoint, region: 'us-east-1', credentials });
    const queueMapping = new SqsMapping({
      client: sqsClient,
      queueUrl,
      fn: (event) => queue.invoke(event) as ReturnType<ConstructorParameters<typeof SqsMapping>[0]['fn']>,
      visibilityTimeoutSeconds: 30,
    }).start();
    stops.push(async () => {
      await queueMapping.stop();
      sqsClient.destroy();
    });
    const ticker = setInterval(() => void tick.invoke({ source: 'aws.events', 'detail-type': 'Scheduled Event' }).catch(() => undefined), 10_000);
    stops.push(async () => clearInterval(ticker));
    log(`functions skiff-api, skiff-stream (DynamoDB stream), skiff-queue (SQS), skiff-tick (every 10 s) (ready in ${Date.now() - started} ms)`);

    let provider: LocalCloudProvider | undefined;
    let runtime: 'process' | 'docker' | undefined;
    if (options.nodes > 0) {
      const socket = options.dockerSocket ?? '/var/run/docker.sock';
      runtime = options.runtime === 'auto' ? ((await dockerAvailable(socket)) ? 'docker' : 'process') : options.runtime;
      provider = new LocalCloudProvider({
        server: url.url,
        caFile: join(dataDir, 'pki', 'ca.crt'),
        servingCaDir: join(dataDir, 'pki'),
        dataDir,
        runtime,
        dockerSocket: runtime === 'docker' ? socket : undefined,
        issueToken: (user) => {
          const token = nodeTokens.get(user);
          if (!token) throw new Error(`aws-local made no token for ${user}`);
          return token;
        },
        leaseIntervalMs: options.leaseIntervalMs,
        backoffInitialMs: options.backoffInitialMs,
        log: (line) => log(`kubelet   ${line}`),
      });
      const p = provider;
      stops.push(() => p.close());
      await Promise.all(names.map((name) => p.create({ name, instanceType: 'local', zone: 'local' })));
      log(`nodes     ${names.join(', ')} (runtime ${runtime})`);
    }

    log('');
    log('Skiff is up, in the AWS shape on this machine. Try:');
    log(`  export KUBECONFIG=${kubeconfigPath}`);
    log('  kubectl get nodes');
    log('');
    let stopping: Promise<void> | undefined;
    return {
      url: url.url,
      kubeconfigPath,
      provider,
      runtime,
      stop: () =>
        (stopping ??= (async () => {
          log('stopping  kubelets, mappings, functions, emulators');
          await stopAll();
          log('stopped');
        })()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

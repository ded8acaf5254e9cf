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
 * - the API function behind a Function URL on HTTPS (the cluster CA in `<data-dir>/pki`);
 * - the stream relay (functions/api/relay.ts) as a process of its own, as its Fargate task, for
 *   exec, attach, port-forward and the `kubernetes` Service;
 * - the CloudFront emulator in front of both, as in the cloud: the kubeconfig's server.
 *
 * Local workers (kubelet processes) join as in the embedded shape. Tokens are kept in the table,
 * as in the cloud, with the cluster CA's certificate and each kubelet's log credential, so
 * `kubectl logs` goes through the API function to the kubelet.
 */
import { writeDashboard } from '../dashboard/build.js';
import { spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { mkdirSync, readFileSync } from 'node:fs';
import { type CapacityMeter, startCapacityMeter } from '../emulators/capacity-meter.js';
import { localStoreUrl, startDynamoDbLocal } from '../emulators/dynamodb-local.js';
import { freePort } from '../emulators/free-port.js';
import { startCloudFront } from '../emulators/cloudfront.js';
import { startFunctionUrl } from '../emulators/function-url.js';
import { LambdaFunction } from '../emulators/lambda-runner.js';
import { type SqsFunction, SqsMapping } from '../emulators/sqs-mapping.js';
import { type FakeSqs, startFakeSqs } from '../emulators/sqs.js';
import { type StreamFunction, StreamMapping } from '../emulators/stream-mapping.js';
import { writeKubeconfig } from '../functions/api/kubeconfig.js';
import { settings as deployed, streamPathPatterns } from '../infra/settings.js';
import { ensureTls } from '../functions/api/tls.js';
import { dockerAvailable } from '../kubelet/runtime/docker.js';
import { putClusterCa } from '../shared/auth/cluster-state.js';
import type { CloudProvider } from '../shared/cloud/types.js';
import { StoreTokens } from '../shared/auth/store-tokens.js';
import { createStore } from '../shared/store/factory.js';
import { openDynamoStore } from '../shared/store/dynamodb.js';
import type { Store } from '../shared/store/types.js';
import { type Cloud, startCloud, type WorkerProvider, type Workers } from './aws-local-workers.js';
import type { Running, UpOptions } from './up.js';

/** The shape's settings beyond `skiff up`'s: tests shorten watches, bookmarks and the tick. */
export interface AwsLocalOptions extends UpOptions {
  maxWatchSeconds?: number;
  watchBookmarkIntervalMs?: number;
  /** How often the tick function runs (default 10 s; the cloud's schedule is every minute). */
  tickIntervalMs?: number;
  /** Keep the table in memory rather than in `<data-dir>/dynamodb` (tests: faster, nothing kept). */
  inMemory?: boolean;
  /** Meter DynamoDB's consumed capacity (the cost model's bench). */
  meter?: boolean;
  /** Where the workers run: kubelet child processes (default), EC2 emulator instances, or ECS emulator tasks. */
  provider?: WorkerProvider;
  /** With a cloud provider: the controllers add nodes for pending pods and remove empty ones. */
  provision?: boolean;
  /** How long an empty provisioned node is kept (default 30 s). */
  consolidateSeconds?: number;
  /**
   * Run the stream relay (default true). Without it, a pod's streams are refused as a Function
   * URL alone refuses them, and no `kubernetes` Service is kept: for clusters with no kubelet
   * (the test suites' simulated nodes), which have no stream to serve.
   */
  relay?: boolean;
  /** Build the dashboard for the API function to serve (default: with the relay, as a user's cluster). */
  dashboard?: boolean;
}

export interface AwsLocalRunning extends Running {
  /** The table as a store URL (DynamoDB Local's endpoint in it), for a process beside the functions. */
  storeUrl: string;
  adminToken: string;
  caCert: string;
  /** What was used, for the cost model: DynamoDB capacity (with `meter`), each function's invocations, SQS requests. */
  usage: { meter?: CapacityMeter; functions: Record<string, LambdaFunction['stats']>; sqsRequests: FakeSqs['requests'] };
}

const TABLE = 'skiff-state';
const ADMIN = { user: 'skiff-admin', groups: ['system:masters'] };
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** What was started, stopped in reverse order. */
class Stack {
  private readonly stops: (() => Promise<void>)[] = [];
  push(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }
  async stopAll(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop().catch(() => undefined);
  }
}

interface Services {
  /** What every function is given: where the table and the queue are, and credentials for them. */
  env: Record<string, string>;
  dynamoEndpoint: string;
  sqsEndpoint: string;
  queueUrl: string;
  streamArn: string;
  meter?: CapacityMeter;
  sqs: FakeSqs;
}

/** DynamoDB Local with the table (made once, before any function runs: the infrastructure's job), and the SQS emulator. */
async function startServices(dataDir: string, options: AwsLocalOptions, stack: Stack, log: (line: string) => void): Promise<Services> {
  const dbPath = options.inMemory ? undefined : join(dataDir, 'dynamodb');
  if (dbPath) mkdirSync(dbPath, { recursive: true, mode: 0o700 });
  const dynamo = await startDynamoDbLocal({ dbPath });
  stack.push(() => dynamo.stop());
  // With a meter, every DynamoDB call of the functions and of this process goes through it.
  const meter = options.meter ? await startCapacityMeter(dynamo.endpoint) : undefined;
  if (meter) stack.push(() => meter.close());
  const endpoint = meter?.endpoint ?? dynamo.endpoint;
  await (await openDynamoStore({ tableName: TABLE, endpoint: dynamo.endpoint, region: 'us-east-1', createTable: true })).close();
  log(`dynamodb  ${dynamo.endpoint} (table ${TABLE}, ${dbPath ? `kept in ${dbPath}` : 'in memory'})`);
  const sqs = await startFakeSqs();
  stack.push(() => sqs.close());
  const queueUrl = sqs.createQueue('skiff-work');
  const deadLetter = sqs.createQueue('skiff-dead-letter');
  log(`sqs       ${sqs.endpoint} (skiff-work, skiff-dead-letter)`);
  const env = {
    SKIFF_STORE_URL: localStoreUrl(TABLE, endpoint),
    SKIFF_QUEUE_URL: sqs.driverUrl(queueUrl, deadLetter),
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    // `--service-cidr`: every function allocates and answers from the same range.
    ...(process.env.SKIFF_SERVICE_CIDR ? { SKIFF_SERVICE_CIDR: process.env.SKIFF_SERVICE_CIDR } : {}),
  };
  return { env, dynamoEndpoint: endpoint, sqsEndpoint: sqs.endpoint, queueUrl, streamArn: await dynamo.streamArn(TABLE), meter, sqs };
}

const defined = (entries: [string, number | string | undefined][]) =>
  Object.fromEntries(entries.filter((e): e is [string, number | string] => e[1] !== undefined).map(([k, v]) => [k, String(v)]));

/** The API function's settings, as the environment variables it reads. */
function apiEnv(options: AwsLocalOptions): Record<string, string> {
  return defined([
    // Behind the front (with the relay), quiet watches are kept open under its timeout.
    ['SKIFF_WATCH_KEEPALIVE_SECONDS', options.relay === false ? undefined : ORIGIN_TIMEOUT_SECONDS / 2],
    ['SKIFF_MAX_WATCH_SECONDS', options.maxWatchSeconds],
    ['SKIFF_WATCH_BOOKMARK_SECONDS', options.watchBookmarkIntervalMs === undefined ? undefined : options.watchBookmarkIntervalMs / 1000],
    ...authEnv(options),
  ]);
}

/** OIDC issuers and the dashboard's client, as the API function and the relay read them (cloud-app.ts). */
function authEnv(options: AwsLocalOptions): [string, string | undefined][] {
  const config = options.jwtIssuers?.length
    ? JSON.stringify({ apiVersion: 'apiserver.config.k8s.io/v1beta1', kind: 'AuthenticationConfiguration', jwt: options.jwtIssuers })
    : undefined;
  return [
    ['SKIFF_AUTHENTICATION_CONFIG', config],
    ['SKIFF_DASHBOARD_CLIENT_ID', options.dashboardClientId],
  ];
}

/** The controllers' settings (`controllerOptions` in functions/environment.ts reads them). */
function controllerEnv(options: AwsLocalOptions): Record<string, string> {
  return defined([
    ['SKIFF_NODE_GRACE_SECONDS', options.nodeGraceSeconds],
    ['SKIFF_EVICTION_SECONDS', options.evictionSeconds],
  ]);
}

/**
 * The four functions in the runner, and their triggers: the Function URL front for the API,
 * the stream and SQS event-source mappings, a tick every 10 s. Returns the Function URL.
 */
async function startFunctions(
  dataDir: string,
  services: Services,
  options: AwsLocalOptions,
  stack: Stack,
  cloud: Pick<Cloud, 'provisioning' | 'kubeletBundle'> = { provisioning: {} },
  port?: number,
): Promise<{ url: string; caCert: string; functions: AwsLocalRunning['usage']['functions'] }> {
  const fn = (name: string, module: string, timeoutMs: number, env: Record<string, string> = {}) => {
    const f = new LambdaFunction({ name, module: resolve(module), timeoutMs, env: { ...services.env, ...env } });
    stack.push(() => f.close());
    return f;
  };
  const bundle: Record<string, string> = cloud.kubeletBundle ? { SKIFF_KUBELET_BUNDLE: cloud.kubeletBundle } : {};
  // The dashboard, built as the deploy builds it, where a user will open it (in the test suites'
  // clusters, only where asked). Built beside the rest of the start, and there once it is up.
  let dashboardBuilt: Promise<void> = Promise.resolve();
  if (options.dashboard ?? options.relay !== false) {
    bundle.SKIFF_DASHBOARD_DIR = join(dataDir, 'dashboard');
    dashboardBuilt = writeDashboard(bundle.SKIFF_DASHBOARD_DIR).catch((err: Error) => console.error(`dashboard: not built: ${err.message}`));
  }
  // Ten environments at most (the emulator's default): each is a process that loads the whole API,
  // and thirty-two starting at once under twenty pods' worth of kubelet traffic starved this
  // machine's two cores past the tests' timeouts. A stream whose client has gone runs on to its
  // end, as on AWS, so the dashboard keeps its streamed watches short (informer.ts).
  const api = fn('skiff-api', 'functions/api/lambda.ts', 900_000, { ...apiEnv(options), ...bundle });
  const controllers = { ...controllerEnv(options), ...cloud.provisioning };
  const stream = fn('skiff-stream', 'functions/stream/handler.ts', 60_000, controllers);
  const queue = fn('skiff-queue', 'functions/queue/handler.ts', 60_000, controllers);
  const tick = fn('skiff-tick', 'functions/tick/handler.ts', 60_000, controllers);

  const tls = ensureTls(join(dataDir, 'pki'));
  // The front's default origin, on an address of its own; or, with no relay, the front itself on the port.
  const front = await startFunctionUrl(api, { tls, host: options.host, port });
  stack.push(() => front.close());

  const streams = new DynamoDBStreamsClient({ endpoint: services.dynamoEndpoint, region: 'us-east-1', credentials });
  const streamMapping = new StreamMapping({
    streams,
    streamArn: services.streamArn,
    fn: (event) => stream.invoke(event) as ReturnType<StreamFunction>,
    startingPosition: 'LATEST',
    bisectBatchOnFunctionError: true,
  }).start();
  stack.push(async () => {
    await streamMapping.stop();
    streams.destroy();
  });
  const sqsClient = new SQSClient({ endpoint: services.sqsEndpoint, region: 'us-east-1', credentials });
  const queueMapping = new SqsMapping({
    client: sqsClient,
    queueUrl: services.queueUrl,
    fn: (event) => queue.invoke(event) as ReturnType<SqsFunction>,
    visibilityTimeoutSeconds: 30,
  }).start();
  stack.push(async () => {
    await queueMapping.stop();
    sqsClient.destroy();
  });
  const ticker = setInterval(
    () => void tick.invoke({ source: 'aws.events', 'detail-type': 'Scheduled Event' }).catch(() => undefined),
    options.tickIntervalMs ?? 10_000,
  );
  stack.push(async () => clearInterval(ticker));
  await dashboardBuilt;
  return { url: front.url, caCert: tls.caCert, functions: { api: api.stats, stream: stream.stats, queue: queue.stats, tick: tick.stats } };
}

/** The front's origin response timeout: CloudFront's most without a quota increase, as infra/front.ts sets it. */
export const ORIGIN_TIMEOUT_SECONDS = 60;

/**
 * The stream relay (functions/api/relay.ts) as a process of its own, as its Fargate task runs it
 * in the cloud, with the functions' environment; resolves with its URL once it listens.
 */
async function startRelayProcess(services: Services, options: AwsLocalOptions, stack: Stack, log: (line: string) => void): Promise<() => Promise<string>> {
  const port = await freePort();
  let output = '';
  let listening: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve) => (listening = resolve));
  // With an IPC channel, which ends when this process does: the relay then stops too.
  const relay = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), resolve('functions/api/relay.ts')], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      PATH: process.env.PATH ?? '',
      ...services.env,
      ...apiEnv(options),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      SKIFF_RELAY_PORT: String(port),
      SKIFF_RELAY_HOST: '127.0.0.1',
      SKIFF_RELAY_ADDRESS: '127.0.0.1',
    },
  });
  const exited = new Promise<number>((done) => relay.once('exit', (code) => done(code ?? 1)));
  const read = (chunk: Buffer) => {
    output += String(chunk);
    const url = /relay listening (\S+)/.exec(output)?.[1];
    if (url) listening(url);
  };
  relay.stdout?.on('data', read);
  relay.stderr?.on('data', read);
  stack.push(async () => {
    if (relay.exitCode !== null || relay.signalCode !== null) return;
    relay.kill('SIGTERM');
    const force = setTimeout(() => relay.kill('SIGKILL'), 5000);
    await exited.finally(() => clearTimeout(force));
  });
  // Started early, it loads while the functions start; it listens once the CA is in the table.
  return async () => {
    const url = await Promise.race([
      ready,
      exited.then((code) => Promise.reject(new Error(`the stream relay exited (${code}) before it listened:\n${output}`))),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the stream relay did not listen within 180 s:\n${output}`)), 180_000).unref()),
    ]);
    log(`relay     ${url} (streams and the kubernetes Service: the API as a long-lived server)`);
    return url;
  };
}

/** One request through the front (GET /readyz), so that an API execution environment is ready; up to a minute. */
async function warmUp(url: string, ca: string): Promise<void> {
  await new Promise<void>((done) => {
    const req = httpsRequest(`${url}/readyz`, { ca, agent: false, timeout: 60_000 }, (res) => {
      res.resume();
      res.on('end', () => done());
    });
    // A failure here is the user's to see at their first request, with its own message.
    req.on('timeout', () => req.destroy());
    req.on('error', () => done());
    req.end();
  });
}

/** The admin's token and one per node, kept in the table (`statictokens`), as `skiff token --store` keeps them. */
async function issueTokens(store: Store, nodes: string[]): Promise<{ admin: string; nodeTokens: Map<string, string> }> {
  const tokens = new StoreTokens(store);
  const admin = (await tokens.issue(ADMIN.user, ADMIN.groups, { replace: true, description: 'the admin kubeconfig (aws-local)' })).token;
  const nodeTokens = new Map<string, string>();
  for (const name of nodes) nodeTokens.set(`system:node:${name}`, (await tokens.issue(`system:node:${name}`, ['system:nodes'], { replace: true })).token);
  return { admin, nodeTokens };
}

export async function upAwsLocal(options: AwsLocalOptions, log: (line: string) => void = console.log): Promise<AwsLocalRunning> {
  const dataDir = resolve(options.dataDir);
  // The emulated services are reached with the SDK from this process too; Lambda would run Node 22.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const started = Date.now();
  const stack = new Stack();
  try {
    const services = await startServices(dataDir, options, stack, log);
    const relayListening = options.relay === false ? undefined : await startRelayProcess(services, options, stack, log);
    // Tokens in the table, as in the cloud: the admin's and one per node, made before the API starts.
    const prefix = { local: 'local', 'aws-ec2': 'ec2', 'aws-ecs': 'ecs' }[options.provider ?? 'local'];
    const names = Array.from({ length: options.nodes }, (_, i) => `${prefix}-${i}`);
    // This process's own view of the table: what it keeps there for the functions to read.
    const state = await createStore(services.env.SKIFF_STORE_URL);
    stack.push(() => state.close());
    const { admin, nodeTokens } = await issueTokens(state, names);
    const socket = options.dockerSocket ?? '/var/run/docker.sock';
    const runtime = options.runtime === 'auto' ? ((await dockerAvailable(socket)) ? 'docker' : 'process') : options.runtime;
    // The API's address is known before it starts: the provisioner's launch scripts name it.
    const port = options.port || (await freePort());
    const apiUrl = `https://${options.host}:${port}`;
    const settings = {
      dataDir,
      apiUrl,
      runtime,
      socket,
      provision: options.provision,
      consolidateSeconds: options.consolidateSeconds,
      clusterCidr: options.clusterCidr,
    };
    const cloud = await startCloud(options.provider ?? 'local', settings, (stop) => stack.push(stop), log);
    // Without the relay there is nothing to route: the Function URL is the front, on the port.
    const { url: functionUrl, caCert, functions } = await startFunctions(dataDir, services, options, stack, cloud, options.relay === false ? port : undefined);
    // The CA's certificate (the API pins kubelets to it) and its key (the API signs the serving
    // certificates of kubelets that join with a bootstrap token), sealed when Secrets are.
    await putClusterCa(state, caCert, readFileSync(join(dataDir, 'pki', 'ca.key'), 'utf8'));
    const relayUrl = await relayListening?.();
    let url = functionUrl;
    if (relayUrl) {
      // The front users and kubelets call, as infra/front.ts makes it: a pod's streams and every
      // WebSocket handshake (a browser's watches) to the relay, the rest to the Function URL.
      const relay = { id: 'relay', url: relayUrl, ca: caCert };
      const cloudFront = await startCloudFront({
        tls: ensureTls(join(dataDir, 'pki')),
        behaviours: streamPathPatterns.map((pathPattern) => ({ pathPattern, origin: relay })),
        defaultOrigin: { id: 'api', url: functionUrl, ca: caCert },
        defaultViewerRequest: readFileSync(deployed.frontRouter, 'utf8'),
        originResponseTimeoutSeconds: ORIGIN_TIMEOUT_SECONDS,
        host: options.host,
        port,
      });
      stack.push(() => cloudFront.close());
      url = cloudFront.url;
    }
    // The API function's first cold start happens now, not in the user's first request.
    await warmUp(url, caCert);
    const kubeconfigPath = join(dataDir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, { server: url, caCert, token: admin });
    log(
      relayUrl
        ? `api       ${url} (a CloudFront front: the API function's Function URL ${functionUrl}, streams and WebSockets to the relay)`
        : `api       ${url} (the API function's Function URL; no relay, so no streams)`,
    );
    log(`dashboard ${url}/dashboard/ (sign in: npm run skiff -- dashboard --data-dir ${dataDir} --store '${services.env.SKIFF_STORE_URL}')`);
    log(`functions skiff-api, skiff-stream (DynamoDB stream), skiff-queue (SQS), skiff-tick (every 10 s) (ready in ${Date.now() - started} ms)`);
    if (cloud.label && options.provision) log(`provision ${cloud.label} nodes are added for pending pods and removed when empty`);

    let provider: CloudProvider | undefined;
    if (options.nodes > 0) {
      const workers: Workers = {
        url,
        caCert,
        dataDir,
        state,
        runtime,
        dockerSocket: socket,
        leaseIntervalMs: options.leaseIntervalMs,
        backoffInitialMs: options.backoffInitialMs,
        volumeSyncSeconds: options.volumeSyncSeconds,
        clusterCidr: options.clusterCidr,
        onStop: (stop) => stack.push(stop),
        log,
      };
      provider = await cloud.startWorkers(workers, names, nodeTokens);
      log(`nodes     ${names.join(', ')} (provider ${provider.name}, runtime ${provider.name === 'aws-ecs' ? 'ecs' : runtime})`);
    }

    log('');
    log('Skiff is up, in the AWS shape on this machine. Try:');
    log(`  export KUBECONFIG=${kubeconfigPath}`);
    log('  kubectl get nodes');
    log('');
    let stopping: Promise<void> | undefined;
    return {
      url,
      kubeconfigPath,
      storeUrl: services.env.SKIFF_STORE_URL,
      adminToken: admin,
      caCert,
      usage: { meter: services.meter, functions, sqsRequests: services.sqs.requests },
      provider,
      runtime,
      stop: () =>
        (stopping ??= (async () => {
          log('stopping  kubelets, mappings, functions, emulators');
          await stack.stopAll();
          log('stopped');
        })()),
    };
  } catch (err) {
    await stack.stopAll();
    throw err;
  }
}

/**
 * The four functions, each with only the permissions it uses:
 * - `Api`: the Kubernetes API (Hono, response streaming), in the VPC so it reaches kubelets for
 *   logs; behind API Gateway REST with streaming (see api-gateway.ts for why not a Function URL);
 * - `Stream`: the table's stream -> the controllers, partial batch responses, retried with
 *   bisection, and the records that exhaust their retries to the failure queue;
 * - `Queue`: delayed work -> reconciles, partial batch responses;
 * - `Tick`: every minute, the time-based checks (node grace, deadlines); daily, a re-encryption
 *   pass over the Secrets.
 */
import type { Network } from './network';
import { provisioning } from './provisioning';
import { queueUrl, type Queues } from './queues';
import { handlers, type Identity, identityEnvironment, settings, tableActions } from './settings';
import type { Storage } from './storage';
import type { Workers } from './workers';

type Grant = { actions: string[]; resources: $util.Input<string>[]; conditions?: { test: string; variable: string; values: $util.Input<string>[] }[] };

/** What every function reaches: the table, and the key Secrets are sealed under. */
function stateAccess(state: Storage) {
  return {
    grants: [
      { actions: tableActions, resources: [state.table.arn] },
      { actions: ['kms:Encrypt', 'kms:Decrypt'], resources: [state.secretsKey.arn] },
    ] as Grant[],
    environment: { SKIFF_STORE_URL: $interpolate`dynamodb://${state.table.name}`, SKIFF_KMS_KEY_ID: state.secretsKey.arn },
  };
}

/** The API function, in the VPC so it reaches kubelets for logs; it serves the kubelet's build to joining workers. */
export function apiFunction(net: Network, state: Storage, identity: Identity = {}) {
  const { grants, environment } = stateAccess(state);
  return new sst.aws.Function('Api', {
    handler: handlers.api,
    runtime: 'nodejs22.x',
    streaming: true,
    timeout: `${settings.apiTimeoutSeconds} seconds`,
    memory: '1024 MB',
    vpc: { privateSubnets: net.vpc.privateSubnets, securityGroups: [net.apiGroup.id] },
    environment: {
      ...environment,
      SKIFF_MAX_WATCH_SECONDS: String(settings.maxWatchSeconds),
      SKIFF_WATCH_KEEPALIVE_SECONDS: String(settings.watchKeepAliveSeconds),
      ...identityEnvironment(identity),
    },
    permissions: grants,
    copyFiles: [
      { from: settings.kubeletBundle, to: 'skiff-kubelet.mjs' },
      { from: settings.dashboardBuild, to: 'dashboard' },
    ],
  });
}

/**
 * The controllers' functions, which also provision the workers: they launch EC2 instances for
 * pods that fit nowhere (functions/provisioning.ts), whose kubelets join through `apiUrl`.
 */
export function controllerFunctions(state: Storage, q: Queues, net: Network, pool: Workers, apiUrl: $util.Input<string>) {
  const access = stateAccess(state);
  const enqueue = { actions: ['sqs:SendMessage'], resources: [q.requeue.arn] };
  const launch = provisioning(net, pool, apiUrl);
  const controller = (handler: string, extra: Grant[] = []) => ({
    handler,
    runtime: 'nodejs22.x' as const,
    timeout: `${settings.controllerTimeoutSeconds} seconds` as const,
    memory: '512 MB' as const,
    environment: { ...access.environment, SKIFF_QUEUE_URL: queueUrl(q), ...launch.environment },
    permissions: [...access.grants, enqueue, ...launch.grants, ...extra],
  });

  const stream = state.table.subscribe('Stream', controller(handlers.stream, [{ actions: ['sqs:SendMessage'], resources: [q.streamFailures.arn] }]), {
    transform: {
      eventSourceMapping: (args) => {
        args.startingPosition = 'TRIM_HORIZON';
        args.batchSize = settings.streamBatchSize;
        args.maximumBatchingWindowInSeconds = settings.streamBatchWindowSeconds;
        args.functionResponseTypes = ['ReportBatchItemFailures'];
        args.bisectBatchOnFunctionError = true;
        args.maximumRetryAttempts = settings.streamRetries;
        args.maximumRecordAgeInSeconds = settings.streamMaxRecordAgeSeconds;
        args.destinationConfig = { onFailure: { destinationArn: q.streamFailures.arn } };
      },
    },
  });

  // Made here and subscribed by ARN, so its name is stable and its queue rights are spelled out.
  const queue = new sst.aws.Function(
    'Queue',
    controller(handlers.queue, [
      { actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], resources: [q.requeue.arn] },
    ]),
  );
  q.requeue.subscribe(queue.arn, { batch: { size: settings.queueBatchSize, partialResponses: true } });

  // One tick function on two schedules: the time-based checks, and the daily re-encryption pass.
  const tick = new sst.aws.Function('Tick', controller(handlers.tick));
  new sst.aws.Cron('TickSchedule', { schedule: settings.tickSchedule, function: tick.arn });
  new sst.aws.Cron('ReencryptSchedule', { schedule: settings.reencryptSchedule, function: tick.arn, event: { reencrypt: true } });

  return { stream, queue, tick };
}

export type Controllers = ReturnType<typeof controllerFunctions>;

/**
 * The numbers the AWS shape is built with, each with its reason, in one place: the component
 * tests assert the infrastructure against these, and docs/aws.md explains them.
 */
/**
 * Who may sign in besides the cluster's own tokens, given at deploy time (sst.config.ts reads them
 * from the deploying shell): OIDC issuers, as an AuthenticationConfiguration's text (CI pipelines'
 * tokens, people's), and the dashboard's client ID at one of them (docs/auth.md).
 */
export interface Identity {
  authenticationConfig?: string;
  dashboardClientId?: string;
}

/** The API's environment for an Identity: what functions/api/cloud-app.ts reads. */
export function identityEnvironment(identity: Identity = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries({ SKIFF_AUTHENTICATION_CONFIG: identity.authenticationConfig, SKIFF_DASHBOARD_CLIENT_ID: identity.dashboardClientId }).filter(
      (e): e is [string, string] => e[1] !== undefined && e[1] !== '',
    ),
  );
}

export const settings = {
  /** Lambda's ceiling; the API's watches and log streams end before it. */
  apiTimeoutSeconds: 900,
  /**
   * A watch ends after this and the client resumes from its resourceVersion. API Gateway closes a
   * regional streaming response that sends nothing for 5 minutes, and a quiet watch sends nothing.
   */
  maxWatchSeconds: 280,
  /** The controllers' functions: a batch of reconciles, well under a minute. */
  controllerTimeoutSeconds: 60,
  /** Stream subscription: Lambda's default batch, a short window so a write wakes a controller fast. */
  streamBatchSize: 100,
  streamBatchWindowSeconds: 1,
  /** A failing record is retried this often (and bisected) before it goes to the failure queue. */
  streamRetries: 5,
  /** Older than this, a record is sent to the failure queue rather than retried: the tick resyncs. */
  streamMaxRecordAgeSeconds: 3600,
  /** Delayed work: a message is tried this often before the dead-letter queue. */
  queueMaxReceives: 5,
  queueBatchSize: 10,
  /** The floor under delayed work: time-based checks (node grace, deadlines) at least this often. */
  tickSchedule: 'rate(1 minute)',
  /** Secrets not sealed under the current KMS key are sealed again this often (a pass reads them all). */
  reencryptSchedule: 'rate(1 day)',
  /** IteratorAge above this (ms) means the controllers lag the API by more than a minute. */
  iteratorAgeAlarmMs: 60_000,
  /** The kubelet's port, reached by the API for logs (and later exec and port-forward). */
  kubeletPort: 10250,
  /** The SSM parameter with the current ECS-optimized Amazon Linux 2023 AMI. */
  workerAmiParameter: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id',
  workerInstanceType: 't3.medium',
  /**
   * The kubelet's one-file build (kubelet/bundle.ts), made by sst.config.ts before the deploy and
   * shipped beside the API function, which serves it to the workers that join: their launch
   * script fetches it and runs it with Node.js.
   */
  kubeletBundle: '.build/skiff-kubelet.mjs',
  /** The dashboard's build, which the API function carries and serves at /dashboard/ (dashboard/build.ts). */
  dashboardBuild: '.build/dashboard',
  /**
   * Where the provisioner launches nodes: EC2 instances, or kubelet tasks on Fargate whose pods
   * are tasks (docs/aws.md). Both providers are configured, so a Migration moves between them.
   */
  workerProvider: 'aws-ec2' as 'aws-ec2' | 'aws-ecs',
  /** The kubelet task's image, for aws-ecs nodes: Node.js and a shell; the launch script fetches the kubelet from the API. */
  kubeletImage: 'public.ecr.aws/docker/library/node:20-alpine',
  /** The workers' task logs (CloudWatch Logs) are kept this long. */
  workerLogRetentionDays: 14,
  /**
   * The front (CloudFront) cuts a response that sends nothing for this long: its origin response
   * timeout, at the most it allows without a quota increase.
   */
  originResponseTimeoutSeconds: 60,
  /** A quiet watch gets a newline this often, well under the front's timeout, so it stays open. */
  watchKeepAliveSeconds: 30,
  /** The stream relay's one-file build (functions/api/relay-bundle.ts), made by sst.config.ts and put in its bucket. */
  relayBundle: '.build/skiff-relay.mjs',
  /** The front's viewer-request function (CloudFront Functions' JavaScript), which the CloudFront emulator runs too. */
  frontRouter: 'infra/front-router.js',
  /** The relay's TLS port (pods, as `kubernetes.default.svc`) and its plain port (the front's VPC origin only). */
  relayPort: 443,
  relayHttpPort: 8080,
  /** The relay's task: Node.js to run it, and the AWS CLI to copy its build from the bucket first. */
  relayImage: 'public.ecr.aws/docker/library/node:20-alpine',
  relayCodeImage: 'public.ecr.aws/aws-cli/aws-cli:latest',
} as const;

/** The paths the front sends to the relay: a pod's streams, which neither API Gateway nor a Function URL carries. */
export const streamPathPatterns = ['exec', 'attach', 'portforward'].map((s) => `/api/v1/namespaces/*/pods/*/${s}`);

/** CloudFront's managed policies: no caching, and every viewer header but Host to the origin. */
export const cloudFrontPolicies = {
  cachingDisabled: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
  allViewerExceptHostHeader: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
};

/** ECS actions that take no resource (IAM has no resource type for them): granted on `*`. */
/** What ECS Exec's agent in a pod's task calls (Session Manager's channels, which take no resource). */
export const ecsExecAgentActions = [
  'ssmmessages:CreateControlChannel',
  'ssmmessages:CreateDataChannel',
  'ssmmessages:OpenControlChannel',
  'ssmmessages:OpenDataChannel',
];

export const ecsActionsOnAnyResource = ['ecs:RegisterTaskDefinition', 'ecs:DeregisterTaskDefinition', 'ecs:DescribeTaskDefinition', 'ecs:ListTaskDefinitions'];

/** The handlers, as paths SST bundles from the repository root. */
export const handlers = {
  api: 'functions/api/lambda.handler',
  stream: 'functions/stream/handler.handler',
  queue: 'functions/queue/handler.handler',
  tick: 'functions/tick/handler.handler',
} as const;

/**
 * What the store does to the table, and nothing more (least privilege). A TransactWriteItems
 * call is authorized action by action (Put, Update, Delete, ConditionCheck).
 */
export const tableActions = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:BatchWriteItem',
];

/**
 * The numbers the AWS shape is built with, each with its reason, in one place: the component
 * tests assert the infrastructure against these, and docs/aws.md explains them.
 */
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
  /**
   * Where the provisioner launches nodes: EC2 instances, or kubelet tasks on Fargate whose pods
   * are tasks (docs/aws.md). Both providers are configured, so a Migration moves between them.
   */
  workerProvider: 'aws-ec2' as 'aws-ec2' | 'aws-ecs',
  /** The kubelet task's image, for aws-ecs nodes: Node.js and a shell; the launch script fetches the kubelet from the API. */
  kubeletImage: 'public.ecr.aws/docker/library/node:20-alpine',
  /** The workers' task logs (CloudWatch Logs) are kept this long. */
  workerLogRetentionDays: 14,
} as const;

/** ECS actions that take no resource (IAM has no resource type for them): granted on `*`. */
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

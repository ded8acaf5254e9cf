/**
 * The ECS and CloudWatch Logs emulators through the real SDK clients over HTTP: the limits AWS
 * documents are enforced, and a task really runs as a container on a private Docker engine,
 * with an address of its own, its exit code, its stop timeout and its logs; ECS Exec opens a
 * Session Manager channel into a running container.
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, GetLogEventsCommand, PutLogEventsCommand, CreateLogStreamCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeTasksCommand,
  ECSClient,
  ExecuteCommandCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, type DockerEngine } from '../../emulators/docker-engine.js';
import type { EcsEmulator } from '../../emulators/ecs.js';
import type { LogsEmulator } from '../../emulators/logs.js';
import { openDataChannel } from '../../kubelet/runtime/ssm-session.js';
import { type EcsCloud, EXECUTION_ROLE, startEcsCloud } from '../support/ecs-cloud.js';
import { until } from '../support/until.js';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let cloud: EcsCloud;
let engine: DockerEngine;
let logs: LogsEmulator;
let ecs: EcsEmulator;
let client: ECSClient;
let logsClient: CloudWatchLogsClient;
const network = { awsvpcConfiguration: { subnets: ['subnet-a'] } };

beforeAll(async () => {
  cloud = await startEcsCloud({
    clusters: ['skiff'],
    subnets: { 'subnet-a': 'us-east-1a', 'subnet-b': 'us-east-1b' },
    launchBucket: { capacity: 12, refillPerSecond: 1 },
  });
  ({ engine, logs, ecs } = cloud);
  client = new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials });
  logsClient = new CloudWatchLogsClient({ endpoint: logs.endpoint, region: 'us-east-1', credentials });
  await logsClient.send(new CreateLogGroupCommand({ logGroupName: '/skiff/test' }));
}, 120_000);

afterAll(async () => {
  await cloud?.close();
});

/** A Fargate task definition of one busybox container running `script`. */
async function definition(family: string, script: string, extra: Record<string, unknown> = {}): Promise<string> {
  const out = await client.send(
    new RegisterTaskDefinitionCommand({
      family,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      executionRoleArn: EXECUTION_ROLE,
      containerDefinitions: [
        {
          name: 'main',
          image: BUSYBOX_IMAGE,
          command: ['sh', '-c', script],
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': '/skiff/test', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'pod' },
          },
          ...extra,
        },
      ],
    }),
  );
  return out.taskDefinition!.taskDefinitionArn!;
}

async function run(taskDefinition: string, extra: Record<string, unknown> = {}): Promise<Task> {
  const out = await client.send(new RunTaskCommand({ cluster: 'skiff', taskDefinition, launchType: 'FARGATE', networkConfiguration: network, ...extra }));
  expect(out.failures).toEqual([]);
  return out.tasks![0];
}

async function described(arn: string): Promise<Task> {
  const out = await client.send(new DescribeTasksCommand({ cluster: 'skiff', tasks: [arn], include: ['TAGS'] }));
  return out.tasks![0];
}

const addressOf = (t: Task) => t.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value;

describe('limits', () => {
  it('refuses a cpu and memory that is no Fargate size, awslogs without an execution role, and awsvpc without subnets', async () => {
    await expect(
      client.send(
        new RegisterTaskDefinitionCommand({
          family: 'bad',
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
          cpu: '256',
          memory: '4096',
          containerDefinitions: [{ name: 'm', image: BUSYBOX_IMAGE }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ClientException', message: expect.stringContaining('No Fargate configuration') });
    await expect(
      client.send(
        new RegisterTaskDefinitionCommand({
          family: 'no-role',
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
          cpu: '256',
          memory: '512',
          containerDefinitions: [{ name: 'm', image: BUSYBOX_IMAGE, logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/g' } } }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ClientException', message: expect.stringContaining('execution role ARN to support log driver awslogs') });
    const arn = await definition('limits', 'true');
    await expect(client.send(new RunTaskCommand({ cluster: 'skiff', taskDefinition: arn, launchType: 'FARGATE' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringContaining('Network Configuration must be provided'),
    });
    await expect(client.send(new RunTaskCommand({ cluster: 'skiff', taskDefinition: arn, count: 11, networkConfiguration: network }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    const big = { containerOverrides: [{ name: 'main', environment: [{ name: 'X', value: 'x'.repeat(8200) }] }] };
    await expect(
      client.send(new RunTaskCommand({ cluster: 'skiff', taskDefinition: arn, overrides: big, networkConfiguration: network })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringContaining('8192'),
    });
    await expect(client.send(new RunTaskCommand({ cluster: 'nope', taskDefinition: arn, networkConfiguration: network }))).rejects.toMatchObject({
      name: 'ClusterNotFoundException',
    });
  });

  it('throttles launches past the Fargate bucket, and a clientToken makes RunTask idempotent', async () => {
    const arn = await definition('bucket', 'sleep 30');
    const first = await client.send(
      new RunTaskCommand({ cluster: 'skiff', taskDefinition: arn, count: 10, networkConfiguration: network, clientToken: 'one', startedBy: 'bucket' }),
    );
    expect(first.tasks).toHaveLength(10);
    const again = await client.send(
      new RunTaskCommand({ cluster: 'skiff', taskDefinition: arn, count: 10, networkConfiguration: network, clientToken: 'one', startedBy: 'bucket' }),
    );
    expect(again.tasks!.map((t) => t.taskArn).sort()).toEqual(first.tasks!.map((t) => t.taskArn).sort());
    await expect(client.send(new RunTaskCommand({ cluster: 'skiff', taskDefinition: arn, count: 10, networkConfiguration: network }))).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    const listed = await client.send(new ListTasksCommand({ cluster: 'skiff', startedBy: 'bucket' }));
    expect(listed.taskArns).toHaveLength(10);
    // Paged as ECS pages: maxResults at a time, on with nextToken.
    const pages: number[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(new ListTasksCommand({ cluster: 'skiff', startedBy: 'bucket', maxResults: 4, nextToken }));
      pages.push(page.taskArns?.length ?? 0);
      nextToken = page.nextToken;
    } while (nextToken);
    expect(pages).toEqual([4, 4, 2]);
    for (const t of first.tasks!) await client.send(new StopTaskCommand({ cluster: 'skiff', task: t.taskArn, reason: 'done' }));
    await until(
      'the tasks to stop',
      async () => (await client.send(new ListTasksCommand({ cluster: 'skiff', startedBy: 'bucket' }))).taskArns?.length === 0,
      30_000,
    );
  }, 60_000);

  it('fails a task at once when no zone of its subnets has capacity', async () => {
    const arn = await definition('scarce', 'sleep 5');
    ecs.insufficientCapacity('us-east-1a');
    try {
      const out = await client.send(new RunTaskCommand({ cluster: 'skiff', taskDefinition: arn, networkConfiguration: network }));
      expect(out.tasks).toEqual([]);
      expect(out.failures?.[0]?.reason).toMatch(/Capacity is unavailable/);
    } finally {
      ecs.insufficientCapacity('us-east-1a', false);
    }
  });
});

describe('tasks', () => {
  it('runs a task with an address of its own that this machine reaches, and its logs in CloudWatch Logs', async () => {
    const arn = await definition('web', 'mkdir -p /w && echo "hello $GREETING" && echo served > /w/index.html && exec httpd -f -p 8080 -h /w');
    const task = await run(arn, { overrides: { containerOverrides: [{ name: 'main', environment: [{ name: 'GREETING', value: 'ecs' }] }] } });
    expect(task.lastStatus).toBe('PROVISIONING');
    await until('the task to run', async () => (await described(task.taskArn!)).lastStatus === 'RUNNING', 30_000);
    const address = addressOf(await described(task.taskArn!));
    expect(address).toMatch(/^10\.2\d\d\./);
    await until('the page to be served', async () => (await fetch(`http://${address}:8080/`).catch(() => undefined))?.ok === true, 10_000);
    expect(await (await fetch(`http://${address}:8080/`)).text()).toBe('served\n');
    const id = task.taskArn!.split('/').at(-1);
    await until(
      'the log line',
      async () => {
        const out = await logsClient.send(new GetLogEventsCommand({ logGroupName: '/skiff/test', logStreamName: `pod/main/${id}`, startFromHead: true }));
        return out.events?.some((e) => e.message === 'hello ecs') === true;
      },
      10_000,
    );
    await client.send(new StopTaskCommand({ cluster: 'skiff', task: task.taskArn }));
    await until('the task to stop', async () => (await described(task.taskArn!)).lastStatus === 'STOPPED', 30_000);
    const stopped = await described(task.taskArn!);
    expect(stopped.stopCode).toBe('UserInitiated');
    expect(ecs.tasks.get(id!)?.containers[0].dockerId).toBeDefined();
    expect(engine.docker(['ps', '-aq', '--filter', `id=${ecs.tasks.get(id!)?.containers[0].dockerId}`]).trim()).toBe('');
  }, 60_000);

  it('reports an exit code that is not zero, and a stop timeout that ends in SIGKILL', async () => {
    const failing = await run(await definition('fails', 'exit 3'));
    await until('the task to stop', async () => (await described(failing.taskArn!)).lastStatus === 'STOPPED', 30_000);
    const done = await described(failing.taskArn!);
    expect(done.containers?.[0].exitCode).toBe(3);
    expect(done.stopCode).toBe('EssentialContainerExited');

    const stubborn = await run(await definition('stubborn', "trap '' TERM; while true; do sleep 1; done", { stopTimeout: 2 }));
    await until('the task to run', async () => (await described(stubborn.taskArn!)).lastStatus === 'RUNNING', 30_000);
    const asked = Date.now();
    await client.send(new StopTaskCommand({ cluster: 'skiff', task: stubborn.taskArn }));
    await until('the task to stop', async () => (await described(stubborn.taskArn!)).lastStatus === 'STOPPED', 30_000);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(1900);
    expect((await described(stubborn.taskArn!)).containers?.[0].exitCode).toBe(137);
  }, 60_000);

  it('fails to start a task whose image is missing or whose log group does not exist', async () => {
    const arn = (
      await client.send(
        new RegisterTaskDefinitionCommand({
          family: 'missing',
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
          cpu: '256',
          memory: '512',
          containerDefinitions: [{ name: 'main', image: 'nowhere.example/none:1' }],
        }),
      )
    ).taskDefinition!.taskDefinitionArn!;
    const task = await run(arn);
    await until('the task to stop', async () => (await described(task.taskArn!)).lastStatus === 'STOPPED', 60_000);
    expect(await described(task.taskArn!)).toMatchObject({ stopCode: 'TaskFailedToStart', stoppedReason: expect.stringContaining('CannotPullContainerError') });

    const noGroup = await run(
      await definition('nogroup', 'true', { logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/none', 'awslogs-stream-prefix': 'x' } } }),
    );
    await until('the task to stop', async () => (await described(noGroup.taskArn!)).lastStatus === 'STOPPED', 30_000);
    expect((await described(noGroup.taskArn!)).stoppedReason).toMatch(/ResourceInitializationError.*log group does not exist/);
  }, 90_000);
});

describe('CloudWatch Logs', () => {
  it('keeps the PutLogEvents limits and pages GetLogEvents with tokens', async () => {
    await logsClient.send(new CreateLogStreamCommand({ logGroupName: '/skiff/test', logStreamName: 'paging' }));
    const put = (logEvents: { timestamp: number; message: string }[]) =>
      logsClient.send(new PutLogEventsCommand({ logGroupName: '/skiff/test', logStreamName: 'paging', logEvents }));
    const now = Date.now();
    await expect(put(Array.from({ length: 10_001 }, (_, i) => ({ timestamp: now, message: `m${i}` })))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(put([{ timestamp: now, message: 'x'.repeat(1_048_576) }])).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      put([
        { timestamp: now, message: 'b' },
        { timestamp: now - 1000, message: 'a' },
      ]),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await put(Array.from({ length: 25 }, (_, i) => ({ timestamp: now + i, message: `line ${i}` })));
    const first = await logsClient.send(new GetLogEventsCommand({ logGroupName: '/skiff/test', logStreamName: 'paging', startFromHead: true, limit: 10 }));
    expect(first.events?.map((e) => e.message)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i}`));
    const second = await logsClient.send(
      new GetLogEventsCommand({ logGroupName: '/skiff/test', logStreamName: 'paging', nextToken: first.nextForwardToken, limit: 10, startFromHead: true }),
    );
    expect(second.events?.[0].message).toBe('line 10');
    const last = await logsClient.send(new GetLogEventsCommand({ logGroupName: '/skiff/test', logStreamName: 'paging', limit: 5 }));
    expect(last.events?.map((e) => e.message)).toEqual(['line 20', 'line 21', 'line 22', 'line 23', 'line 24']);
    await expect(logsClient.send(new GetLogEventsCommand({ logGroupName: '/skiff/test', logStreamName: 'nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});

describe('ECS Exec', () => {
  it('opens a session only into a running task run with ECS Exec and a task role, interactively, its token good once', async () => {
    const arn = await definition('exec-plain', 'exec sleep 60');
    const plain = await run(arn, { enableExecuteCommand: true });
    const withRole = await client.send(
      new RegisterTaskDefinitionCommand({
        family: 'exec-role',
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        taskRoleArn: 'arn:aws:iam::123456789012:role/pod',
        containerDefinitions: [{ name: 'main', image: BUSYBOX_IMAGE, command: ['sh', '-c', 'exec sleep 60'] }],
      }),
    );
    const task = await run(withRole.taskDefinition!.taskDefinitionArn!, { enableExecuteCommand: true });
    for (const t of [plain, task])
      await until(
        'the task running',
        async () => (await client.send(new DescribeTasksCommand({ cluster: 'skiff', tasks: [t.taskArn!] }))).tasks?.[0]?.lastStatus === 'RUNNING',
        30_000,
      );
    const exec = (taskArn: string, extra: Record<string, unknown> = {}) =>
      client.send(new ExecuteCommandCommand({ cluster: 'skiff', task: taskArn, command: 'echo hi', interactive: true, ...extra }));
    await expect(exec(task.taskArn!, { interactive: false })).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: /Interactive is the only mode/,
    });
    // No task role: its agent cannot open channels, so it is not running.
    await expect(exec(plain.taskArn!)).rejects.toMatchObject({ name: 'InvalidParameterException', message: /agent isn’t running/ });
    const described = (await client.send(new DescribeTasksCommand({ cluster: 'skiff', tasks: [task.taskArn!] }))).tasks![0];
    expect(described.enableExecuteCommand).toBe(true);
    expect(described.containers?.[0].managedAgents).toEqual([expect.objectContaining({ name: 'ExecuteCommandAgent', lastStatus: 'RUNNING' })]);
    const out = await exec(task.taskArn!);
    expect(out).toMatchObject({
      containerName: 'main',
      interactive: true,
      session: { streamUrl: expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/data-channel\//) },
    });
    const channel = await openDataChannel({ streamUrl: out.session!.streamUrl!, tokenValue: out.session!.tokenValue! });
    let text = '';
    channel.output.on('data', (b: Buffer) => (text += b.toString()));
    await channel.closed;
    expect(text).toBe('hi\r\n');
    // The token opened its channel; it opens no other.
    await expect(openDataChannel({ streamUrl: out.session!.streamUrl!, tokenValue: out.session!.tokenValue! })).rejects.toThrow();
    for (const t of [plain, task]) await client.send(new StopTaskCommand({ cluster: 'skiff', task: t.taskArn! }));
  }, 60_000);
});

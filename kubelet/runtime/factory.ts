/**
 * The one place a `Runtime` is chosen, by name: `process` (containers as host processes under
 * the node's data directory), `docker` (the Docker Engine API, the node's containers labelled
 * with its name) or `ecs` (each pod an ECS task on Fargate). The kubelet and the `local`
 * cloud provider (which cleans up after a kubelet that died) both ask here.
 *
 * The `ecs` runtime reads its place from the environment: `SKIFF_ECS_CLUSTER`,
 * `SKIFF_ECS_SUBNETS` and `SKIFF_ECS_SECURITY_GROUPS` (comma-separated), `SKIFF_ECS_EXECUTION_ROLE`
 * (the role ECS pulls and logs with), `SKIFF_ECS_POD_ROLE` (the pods' tasks' role, for ECS Exec), `SKIFF_ECS_LOG_GROUP`,
 * `SKIFF_ECS_FILES_IMAGE` (what fills pod volumes in a task) and `AWS_REGION`; the SDK's own `AWS_ENDPOINT_URL_ECS` and `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`
 * point it at other endpoints (the emulators).
 */
import { join } from 'node:path';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { DockerRuntime } from './docker.js';
import { EcsRuntime } from './ecs.js';
import { ProcessRuntime } from './process.js';
import type { Runtime } from './types.js';

export const RUNTIMES = ['process', 'docker', 'ecs'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export interface RuntimeOptions {
  /** The node's data directory (the process runtime keeps its containers under it). */
  dataDir: string;
  /** The node's name (the docker runtime labels its containers with it). */
  node: string;
  dockerSocket?: string;
  /** Where the ecs runtime reads its cluster and subnets (default this process's). */
  env?: NodeJS.ProcessEnv;
}

export function createRuntime(name: string, options: RuntimeOptions): Runtime {
  switch (name) {
    case 'process':
      return new ProcessRuntime(join(options.dataDir, 'containers'));
    case 'docker':
      return new DockerRuntime({ socketPath: options.dockerSocket ?? '/var/run/docker.sock', node: options.node });
    case 'ecs':
      return ecsRuntime(options.node, options.env ?? process.env);
    default:
      throw new Error(`unknown runtime ${JSON.stringify(name)}: one of ${RUNTIMES.join(', ')}`);
  }
}

function ecsRuntime(node: string, env: NodeJS.ProcessEnv): EcsRuntime {
  const list = (v: string | undefined) => (v ?? '').split(',').filter(Boolean);
  const subnets = list(env.SKIFF_ECS_SUBNETS);
  if (!env.SKIFF_ECS_CLUSTER || subnets.length === 0 || !env.SKIFF_ECS_EXECUTION_ROLE)
    throw new Error('the ecs runtime needs SKIFF_ECS_CLUSTER, SKIFF_ECS_SUBNETS and SKIFF_ECS_EXECUTION_ROLE');
  const region = env.AWS_REGION ?? 'us-east-1';
  return new EcsRuntime({
    ecs: new ECSClient({ region }),
    logs: new CloudWatchLogsClient({ region }),
    cluster: env.SKIFF_ECS_CLUSTER,
    node,
    subnets,
    securityGroups: list(env.SKIFF_ECS_SECURITY_GROUPS),
    logGroup: env.SKIFF_ECS_LOG_GROUP,
    filesImage: env.SKIFF_ECS_FILES_IMAGE,
    executionRoleArn: env.SKIFF_ECS_EXECUTION_ROLE,
    taskRoleArn: env.SKIFF_ECS_POD_ROLE || undefined,
    region,
  });
}

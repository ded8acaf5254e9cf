/**
 * The provisioner as the functions run it (`SKIFF_PROVIDER=aws-ec2` or `aws-ecs`). With aws-ec2,
 * nodes are EC2 instances launched from the cluster's launch template with the launch script of
 * `kubeletUserData`, the nodes of one fleet call joining with a bootstrap token made for them
 * (valid an hour) and pinned to the cluster CA kept in the table.
 *
 * | variable | meaning |
 * |---|---|
 * | `SKIFF_PROVIDER` | `aws-ec2` or `aws-ecs` to provision; absent: no provisioner |
 * | `SKIFF_API_URL` | the API the kubelets join through |
 * | `SKIFF_CLUSTER` | the cluster's name, tagged on its instances (default `skiff`) |
 * | `SKIFF_EC2_ZONES` | the zones to launch in, comma-separated (default `us-east-1a`) |
 * | `SKIFF_EC2_SUBNETS` | the subnet per zone, `zone=subnet,...` (default: the default VPC's) |
 * | `SKIFF_EC2_ENDPOINT` | another EC2 endpoint (the emulator) |
 * | `SKIFF_LAUNCH_TEMPLATE_ID` | the workers' launch template (infra/workers.ts; required) |
 * | `SKIFF_KUBELET_COMMAND` | how a worker runs the kubelet (default: it fetches the kubelet from the API and runs it with Node.js) |
 * | `SKIFF_KUBELET_RUNTIME` | `docker` (default) or `process` |
 * | `SKIFF_KUBELET_DOCKER_SOCKET` | the Docker engine's socket on the instance (default the kubelet's) |
 * | `SKIFF_POD_POLL_SECONDS` | how often kubelets list their pods (default 10) |
 * | `SKIFF_CLUSTER_CIDR` | where a node takes its loopback /24 of pod addresses (default `127.16.0.0/12`) |
 * | `SKIFF_CONSOLIDATE_SECONDS` | how long an empty node of its own is kept (default 30) |
 * | `SKIFF_MAX_NODES`, `SKIFF_MAX_CPU` | the most nodes, and CPU (`64`, `64000m`), the provisioner keeps |
 * | `SKIFF_PROVIDERS` | every provider that holds nodes, for migrations between them (`aws-ec2,aws-ecs`) |
 *
 * With `SKIFF_PROVIDER=aws-ecs`, nodes are kubelet tasks on Fargate whose pods are Fargate tasks:
 *
 * | variable | meaning |
 * |---|---|
 * | `SKIFF_ECS_CLUSTER` | the ECS cluster (default `SKIFF_CLUSTER`) |
 * | `SKIFF_ECS_SUBNETS` | the subnet of each zone, `zone=subnet,...` (required) |
 * | `SKIFF_ECS_SECURITY_GROUPS` | the tasks' security groups, comma-separated |
 * | `SKIFF_ECS_KUBELET_IMAGE` | the kubelet task's image: Node.js and a shell, the kubelet is fetched from the API (required) |
 * | `SKIFF_ECS_EXECUTION_ROLE` | the role ECS pulls images and writes logs with (required) |
 * | `SKIFF_ECS_KUBELET_ROLE` | the kubelet task's role, which runs its pods' tasks |
 * | `SKIFF_ECS_POD_ROLE` | the pods' tasks' role; with it they run with ECS Exec (`kubectl exec`) |
 * | `SKIFF_ECS_LOG_GROUP` | the tasks' log group (default `/skiff/<cluster>`) |
 * | `SKIFF_ECS_FILES_IMAGE` | the image that fills pod volumes in a task (default busybox) |
 * | `SKIFF_ECS_ENDPOINT` | another ECS endpoint (the emulator) |
 * | `SKIFF_ECS_KUBELET_ENV` | more environment for the kubelet task, as JSON (the emulators' endpoints) |
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { parseCpu } from '../shared/api/quantity.js';
import { createBootstrapToken } from '../shared/auth/bootstrap-tokens.js';
import { clusterCa } from '../shared/auth/cluster-state.js';
import { AwsEc2CloudProvider } from '../shared/cloud/aws-ec2.js';
import { AwsEcsCloudProvider, fargateCatalogue } from '../shared/cloud/aws-ecs.js';
import { kubeletUserData } from '../shared/cloud/kubelet-script.js';
import { ec2Catalogue } from '../shared/cloud/ec2-catalogue.js';
import type { CloudProvider, LaunchRequest } from '../shared/cloud/types.js';
import type { MigrationOptions } from '../shared/controllers/migration.js';
import type { ProvisionerOptions } from '../shared/controllers/provisioner.js';
import type { Store } from '../shared/store/types.js';
import { DEFAULT_CLUSTER_CIDR } from '../shared/net/cidr.js';
import { dnsServiceIP } from '../shared/api/service-allocation.js';

/**
 * The aws-ec2 provider the environment describes (`SKIFF_PROVIDER=aws-ec2`), on `client`: each
 * node's launch script joins with a bootstrap token made for it and trusts the CA in the table.
 */
export function ec2ProviderFromEnv(store: Store, client: EC2Client, env: NodeJS.ProcessEnv): AwsEc2CloudProvider {
  const server = env.SKIFF_API_URL;
  const launchTemplateId = env.SKIFF_LAUNCH_TEMPLATE_ID;
  if (!server || !launchTemplateId)
    throw new Error(
      "SKIFF_PROVIDER=aws-ec2 needs SKIFF_API_URL, the API the kubelets join through, and SKIFF_LAUNCH_TEMPLATE_ID, the workers' launch template",
    );
  const runtime = env.SKIFF_KUBELET_RUNTIME === 'process' ? 'process' : 'docker';
  const catalogue = ec2Catalogue((env.SKIFF_EC2_ZONES ?? 'us-east-1a').split(','));
  const userData = async (node: LaunchRequest) =>
    kubeletUserData({
      kubelet: env.SKIFF_KUBELET_COMMAND,
      server,
      ...(await joining(store, `${node.instanceType} nodes in ${node.zone}`)),
      node,
      // Pod addresses on the node's loopback, a /24 of the cluster range each.
      loopbackPodCidr: env.SKIFF_CLUSTER_CIDR || DEFAULT_CLUSTER_CIDR,
      // Each node answers cluster DNS for its pods: the control plane here is functions.
      clusterDns: dnsServiceIP(),
      maxPods: catalogue.find((t) => t.name === node.instanceType)?.pods,
      taints: catalogue.find((t) => t.name === node.instanceType)?.taints,
      runtime,
      dockerSocket: env.SKIFF_KUBELET_DOCKER_SOCKET,
      podPollSeconds: env.SKIFF_POD_POLL_SECONDS ? Number(env.SKIFF_POD_POLL_SECONDS) : undefined,
    });
  return new AwsEc2CloudProvider({
    client,
    cluster: env.SKIFF_CLUSTER ?? 'skiff',
    catalogue,
    launchTemplateId,
    subnets: env.SKIFF_EC2_SUBNETS ? subnetsOf(env.SKIFF_EC2_SUBNETS) : undefined,
    userData,
  });
}

/** `zone=subnet,...` as a map. */
const subnetsOf = (text: string | undefined) =>
  Object.fromEntries(
    (text ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=') as [string, string]),
  );

/** A launch script's parts that do not depend on the cloud: the CA, a bootstrap token made for the nodes it starts. */
async function joining(store: Store, nodes: string): Promise<{ caCert: string; bootstrapToken: string }> {
  const caCert = await clusterCa(store);
  if (!caCert) throw new Error('no cluster CA in the table: a kubelet could not trust the API');
  const bootstrapToken = await createBootstrapToken(store, { ttlSeconds: 3600, description: nodes });
  return { caCert, bootstrapToken };
}

/**
 * The aws-ecs provider the environment describes (`SKIFF_PROVIDER=aws-ecs`), on `client`: each
 * node's kubelet task joins with a bootstrap token made for it, and runs its pods as tasks in
 * its own zone's subnet.
 */
export function ecsProviderFromEnv(store: Store, client: ECSClient, env: NodeJS.ProcessEnv): AwsEcsCloudProvider {
  const server = env.SKIFF_API_URL;
  const subnets = subnetsOf(env.SKIFF_ECS_SUBNETS);
  const executionRole = env.SKIFF_ECS_EXECUTION_ROLE;
  if (!server || !env.SKIFF_ECS_KUBELET_IMAGE || Object.keys(subnets).length === 0 || !executionRole)
    throw new Error('SKIFF_PROVIDER=aws-ecs needs SKIFF_API_URL, SKIFF_ECS_KUBELET_IMAGE, SKIFF_ECS_SUBNETS and SKIFF_ECS_EXECUTION_ROLE');
  const cluster = env.SKIFF_ECS_CLUSTER ?? env.SKIFF_CLUSTER ?? 'skiff';
  const runtimeEnv = {
    SKIFF_ECS_CLUSTER: cluster,
    SKIFF_ECS_EXECUTION_ROLE: executionRole,
    ...(env.SKIFF_ECS_LOG_GROUP ? { SKIFF_ECS_LOG_GROUP: env.SKIFF_ECS_LOG_GROUP } : {}),
    ...(env.SKIFF_ECS_POD_ROLE ? { SKIFF_ECS_POD_ROLE: env.SKIFF_ECS_POD_ROLE } : {}),
    ...(env.SKIFF_ECS_SECURITY_GROUPS ? { SKIFF_ECS_SECURITY_GROUPS: env.SKIFF_ECS_SECURITY_GROUPS } : {}),
    ...(env.SKIFF_ECS_FILES_IMAGE ? { SKIFF_ECS_FILES_IMAGE: env.SKIFF_ECS_FILES_IMAGE } : {}),
    AWS_REGION: env.AWS_REGION ?? 'us-east-1',
    ...(env.SKIFF_ECS_KUBELET_ENV ? (JSON.parse(env.SKIFF_ECS_KUBELET_ENV) as Record<string, string>) : {}),
  };
  return new AwsEcsCloudProvider({
    client,
    cluster,
    catalogue: fargateCatalogue(Object.keys(subnets)),
    subnets,
    securityGroups: env.SKIFF_ECS_SECURITY_GROUPS?.split(',').filter(Boolean),
    kubeletImage: env.SKIFF_ECS_KUBELET_IMAGE,
    kubeletEnvironment: runtimeEnv,
    executionRoleArn: executionRole,
    kubeletRoleArn: env.SKIFF_ECS_KUBELET_ROLE,
    logGroup: env.SKIFF_ECS_LOG_GROUP,
    region: env.AWS_REGION,
    kubeletScript: async (node) => {
      const type = fargateCatalogue([node.zone]).find((t) => t.name === node.instanceType);
      return kubeletUserData({
        kubelet: env.SKIFF_KUBELET_COMMAND,
        server,
        ...(await joining(store, `node ${node.name}`)),
        node,
        identity: 'ecs',
        runtime: 'ecs',
        capacity: type && { cpu: type.cpu, memory: type.memory, pods: type.pods },
        taints: type?.taints,
        podPollSeconds: env.SKIFF_POD_POLL_SECONDS ? Number(env.SKIFF_POD_POLL_SECONDS) : undefined,
        env: { SKIFF_ECS_SUBNETS: subnets[node.zone] },
      });
    },
  });
}

/** A cloud provider by name, from the environment's settings for it. */
function providerFromEnv(name: string, store: Store, env: NodeJS.ProcessEnv): CloudProvider {
  const region = env.AWS_REGION ?? 'us-east-1';
  if (name === 'aws-ecs')
    return ecsProviderFromEnv(store, new ECSClient({ ...(env.SKIFF_ECS_ENDPOINT ? { endpoint: env.SKIFF_ECS_ENDPOINT } : {}), region }), env);
  if (name === 'aws-ec2')
    return ec2ProviderFromEnv(store, new EC2Client({ ...(env.SKIFF_EC2_ENDPOINT ? { endpoint: env.SKIFF_EC2_ENDPOINT } : {}), region }), env);
  throw new Error(`a provider must be aws-ec2 or aws-ecs, not "${name}"`);
}

export function provisionerFromEnv(store: Store, env: NodeJS.ProcessEnv = process.env): ProvisionerOptions | undefined {
  if (!env.SKIFF_PROVIDER) return undefined;
  const consolidate = env.SKIFF_CONSOLIDATE_SECONDS ? Number(env.SKIFF_CONSOLIDATE_SECONDS) * 1000 : undefined;
  return {
    provider: providerFromEnv(env.SKIFF_PROVIDER, store, env),
    consolidateAfterMs: consolidate,
    maxNodes: env.SKIFF_MAX_NODES ? Number(env.SKIFF_MAX_NODES) : undefined,
    maxCpu: env.SKIFF_MAX_CPU ? parseCpu(env.SKIFF_MAX_CPU) : undefined,
    log: (line) => console.log(line),
  };
}

/**
 * The migration controller's providers: the provisioner's, and those still holding nodes that
 * `SKIFF_PROVIDERS` names (`aws-ec2,aws-ecs`: swap SKIFF_PROVIDER to the new one, keep the old
 * one listed until its nodes are moved).
 */
export function migrationFromEnv(
  store: Store,
  provisioner: ProvisionerOptions | undefined,
  env: NodeJS.ProcessEnv = process.env,
): MigrationOptions | undefined {
  if (!provisioner) return undefined;
  const others = (env.SKIFF_PROVIDERS ?? '').split(',').filter((name) => name && name !== env.SKIFF_PROVIDER);
  return { providers: [provisioner.provider, ...others.map((name) => providerFromEnv(name, store, env))], log: (line) => console.log(line) };
}

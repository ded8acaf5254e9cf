/**
 * The workers of `--shape aws-local`: kubelet child processes (`--provider local`, the default),
 * EC2 instances of the EC2 emulator (`--provider aws-ec2`), each a process running the launch
 * script the cloud would run, or kubelet tasks of the ECS emulator (`--provider aws-ecs`) whose
 * pods are tasks on a private Docker engine. Each cloud kubelet joins through the API function
 * with a bootstrap token kept in the table.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CreateLaunchTemplateCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { BUSYBOX_IMAGE, importBusyboxImage, startDockerEngine } from '../emulators/docker-engine.js';
import { type Ec2Emulator, startEc2Emulator } from '../emulators/ec2.js';
import { type EcsEmulator, startEcsEmulator } from '../emulators/ecs.js';
import { type LogsEmulator, startLogsEmulator } from '../emulators/logs.js';
import { buildKubeletBundle } from '../kubelet/bundle.js';
import { LocalCloudProvider } from '../kubelet/local-provider.js';
import { dnsServiceIP } from '../shared/api/service-allocation.js';
import { putKubeletCredential } from '../shared/auth/cluster-state.js';
import { ec2ProviderFromEnv, ecsProviderFromEnv } from '../functions/provisioning.js';
import { ec2Catalogue } from '../shared/cloud/ec2-catalogue.js';
import type { CloudProvider } from '../shared/cloud/types.js';
import type { Store } from '../shared/store/types.js';

export type WorkerProvider = 'local' | 'aws-ec2' | 'aws-ecs';

export interface Workers {
  /** The API's URL and CA, the folder for local kubelets, and the table. */
  url: string;
  caCert: string;
  dataDir: string;
  state: Store;
  runtime: 'process' | 'docker';
  dockerSocket?: string;
  leaseIntervalMs?: number;
  backoffInitialMs?: number;
  volumeSyncSeconds?: number;
  /** Where nodes' loopback pod ranges come from (default 127.16.0.0/12). */
  clusterCidr?: string;
  /** Registers what to stop on the way out. */
  onStop(stop: () => Promise<void>): void;
  log(line: string): void;
}

/** `count` kubelet child processes, with the node tokens made for them. */
export async function startLocalWorkers(w: Workers, names: string[], nodeTokens: Map<string, string>): Promise<CloudProvider> {
  const provider = new LocalCloudProvider({
    server: w.url,
    caFile: join(w.dataDir, 'pki', 'ca.crt'),
    servingCaDir: join(w.dataDir, 'pki'),
    dataDir: w.dataDir,
    runtime: w.runtime,
    dockerSocket: w.runtime === 'docker' ? w.dockerSocket : undefined,
    issueToken: (user) => {
      const token = nodeTokens.get(user);
      if (!token) throw new Error(`aws-local made no token for ${user}`);
      return token;
    },
    leaseIntervalMs: w.leaseIntervalMs,
    backoffInitialMs: w.backoffInitialMs,
    volumeSyncSeconds: w.volumeSyncSeconds,
    clusterCidr: w.clusterCidr,
    // No server of the control plane answers cluster DNS in this shape: each kubelet does.
    clusterDns: dnsServiceIP(),
    serveDns: true,
    // The API function reads each kubelet's log credential from the table.
    publishServingToken: (node, token) => putKubeletCredential(w.state, node, token),
    log: (line) => w.log(`kubelet   ${line}`),
  });
  w.onStop(() => provider.close());
  await Promise.all(names.map((name) => provider.create({ name, instanceType: 'local', zone: 'local' })));
  return provider;
}

const EC2_ZONES = ['us-east-1a', 'us-east-1b'];

/** The emulated EC2 cloud: the emulator, and the workers' launch template in it. */
export interface Ec2Cloud {
  ec2: Ec2Emulator;
  launchTemplateId: string;
}

/**
 * The workers' launch template, as infra/workers.ts makes it in the cloud: IMDSv2 only, with the
 * instance's tags readable from its metadata (where a node learns its name).
 */
export async function createWorkerLaunchTemplate(client: EC2Client, name = 'skiff-workers'): Promise<string> {
  const made = await client.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: name,
      LaunchTemplateData: {
        InstanceType: 't3.medium',
        MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 2, InstanceMetadataTags: 'enabled' },
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'skiff:role', Value: 'worker' }] }],
      },
    }),
  );
  return made.LaunchTemplate?.LaunchTemplateId as string;
}

const ec2Client = (ec2: Ec2Emulator) =>
  new EC2Client({ endpoint: ec2.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

/** The EC2 emulator with the workers' launch template, its instances' console output kept in `<data-dir>/ec2`. */
export async function startEc2(dataDir: string, onStop: Workers['onStop'], log: Workers['log']): Promise<Ec2Cloud> {
  const consoleDir = join(dataDir, 'ec2');
  mkdirSync(consoleDir, { recursive: true });
  const offerings = ec2Catalogue(EC2_ZONES).map((t) => ({ instanceType: t.name, zones: t.zones }));
  const ec2 = await startEc2Emulator({ offerings, consoleDir });
  onStop(() => ec2.close());
  log(`ec2       ${ec2.endpoint} (the EC2 emulator; instances run their user data; console output in ${consoleDir})`);
  const client = ec2Client(ec2);
  try {
    return { ec2, launchTemplateId: await createWorkerLaunchTemplate(client) };
  } finally {
    client.destroy();
  }
}

/**
 * What the controller functions need to provision EC2 workers (functions/provisioning.ts): the
 * emulator, the API's URL, this checkout's kubelet, lists every 2 s (on this machine a list costs
 * nothing; the cloud's is every 10 s).
 */
export function provisioningEnv({ ec2, launchTemplateId }: Ec2Cloud, s: Omit<CloudSettings, 'dataDir' | 'provision'>): Record<string, string> {
  return {
    SKIFF_PROVIDER: 'aws-ec2',
    SKIFF_API_URL: s.apiUrl,
    SKIFF_CLUSTER: 'aws-local',
    SKIFF_EC2_ENDPOINT: ec2.endpoint,
    SKIFF_LAUNCH_TEMPLATE_ID: launchTemplateId,
    SKIFF_EC2_ZONES: EC2_ZONES.join(','),
    SKIFF_KUBELET_RUNTIME: s.runtime,
    ...(s.socket ? { SKIFF_KUBELET_DOCKER_SOCKET: s.socket } : {}),
    ...(s.clusterCidr ? { SKIFF_CLUSTER_CIDR: s.clusterCidr } : {}),
    SKIFF_POD_POLL_SECONDS: '2',
    SKIFF_CONSOLIDATE_SECONDS: String(s.consolidateSeconds ?? 30),
  };
}

/** `names` instances of the EC2 emulator, launched as the provisioner launches them (the same provider and launch script). */
export async function startEc2Workers(w: Workers, cloud: Ec2Cloud, names: string[]): Promise<CloudProvider> {
  const client = ec2Client(cloud.ec2);
  w.onStop(async () => client.destroy());
  const provider = ec2ProviderFromEnv(
    w.state,
    client,
    provisioningEnv(cloud, { apiUrl: w.url, runtime: w.runtime, socket: w.dockerSocket, clusterCidr: w.clusterCidr }),
  );
  await Promise.all(names.map((name, i) => provider.create({ name, instanceType: 't3.medium', zone: EC2_ZONES[i % EC2_ZONES.length] })));
  return provider;
}

/** The emulated ECS cloud: a private Docker engine for the tasks, CloudWatch Logs, and ECS. */
export interface EcsCloud {
  ecs: EcsEmulator;
  logs: LogsEmulator;
}

const ECS_SUBNETS: Record<string, string> = { 'us-east-1a': 'subnet-aws-local-a', 'us-east-1b': 'subnet-aws-local-b' };
/** The kubelet's image: the ECS emulator runs it as a process of this machine (no registry holds it). */
const KUBELET_IMAGE = 'skiff/kubelet:aws-local';
/** What fills pod volumes in a task: the busybox image, by the name ECR Public gives it. */
const FILES_IMAGE = 'public.ecr.aws/docker/library/busybox:stable';

/**
 * The ECS emulator on a private Docker engine (it needs root), with the busybox image under the
 * names a user and the ecs runtime ask for; tasks' output goes to the CloudWatch Logs emulator.
 */
export async function startEcs(onStop: Workers['onStop'], log: Workers['log']): Promise<EcsCloud> {
  const engine = await startDockerEngine();
  onStop(() => engine.stop());
  importBusyboxImage(engine);
  for (const name of ['busybox:latest', FILES_IMAGE]) engine.docker(['tag', BUSYBOX_IMAGE, name]);
  const logs = await startLogsEmulator();
  onStop(() => logs.close());
  const subnets = Object.fromEntries(Object.entries(ECS_SUBNETS).map(([zone, subnet]) => [subnet, zone]));
  const ecs = await startEcsEmulator({ dockerSocket: engine.socketPath, logs, clusters: ['aws-local'], subnets, hostImages: [KUBELET_IMAGE] });
  onStop(() => ecs.close());
  log(`ecs       ${ecs.endpoint} (the ECS emulator; tasks run on a private Docker engine, ${engine.socketPath}; logs ${logs.endpoint})`);
  return { ecs, logs };
}

const credentialsEnv = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };

/** What the controller functions need to provision ECS workers: the emulators' endpoints, for them and for the kubelet tasks. */
export function ecsProvisioningEnv(cloud: EcsCloud, apiUrl: string, consolidateSeconds = 30): Record<string, string> {
  return {
    SKIFF_PROVIDER: 'aws-ecs',
    SKIFF_API_URL: apiUrl,
    SKIFF_CLUSTER: 'aws-local',
    SKIFF_ECS_ENDPOINT: cloud.ecs.endpoint,
    SKIFF_ECS_SUBNETS: Object.entries(ECS_SUBNETS)
      .map(([zone, subnet]) => `${zone}=${subnet}`)
      .join(','),
    SKIFF_ECS_KUBELET_IMAGE: KUBELET_IMAGE,
    SKIFF_ECS_FILES_IMAGE: FILES_IMAGE,
    SKIFF_ECS_EXECUTION_ROLE: 'arn:aws:iam::123456789012:role/skiff-aws-local-task-execution',
    SKIFF_ECS_POD_ROLE: 'arn:aws:iam::123456789012:role/skiff-aws-local-pod-task',
    SKIFF_ECS_KUBELET_ENV: JSON.stringify({
      AWS_ENDPOINT_URL_ECS: cloud.ecs.endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: cloud.logs.endpoint,
      ...credentialsEnv,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
    SKIFF_POD_POLL_SECONDS: '2',
    SKIFF_CONSOLIDATE_SECONDS: String(consolidateSeconds),
  };
}

/** `names` kubelet tasks of the ECS emulator, started as the provisioner starts them. */
export async function startEcsWorkers(w: Workers, cloud: EcsCloud, names: string[]): Promise<CloudProvider> {
  const client = new ECSClient({ endpoint: cloud.ecs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  w.onStop(async () => client.destroy());
  const provider = ecsProviderFromEnv(w.state, client, ecsProvisioningEnv(cloud, w.url));
  const zones = Object.keys(ECS_SUBNETS);
  await Promise.all(names.map((name, i) => provider.create({ name, instanceType: 'fargate.4x8', zone: zones[i % zones.length] })));
  return provider;
}

/** The cloud the workers run in: what the controller functions need to provision there, and how to start `--nodes` workers. */
export interface Cloud {
  /** The provisioner's environment for the controller functions (none without `provision`). */
  provisioning: Record<string, string>;
  /** The kubelet's one-file build, which the API function serves to the cloud's workers (as in the cloud). */
  kubeletBundle?: string;
  /** What its nodes are called in the log. */
  label?: 'EC2' | 'ECS';
  startWorkers(w: Workers, names: string[], nodeTokens: Map<string, string>): Promise<CloudProvider>;
}

export interface CloudSettings {
  dataDir: string;
  apiUrl: string;
  runtime: 'process' | 'docker';
  socket?: string;
  provision?: boolean;
  consolidateSeconds?: number;
  /** Where nodes' loopback pod ranges come from (default 127.16.0.0/12). */
  clusterCidr?: string;
}

/** The emulated cloud of `provider` (none for local kubelets), started. */
export async function startCloud(provider: WorkerProvider, s: CloudSettings, onStop: Workers['onStop'], log: Workers['log']): Promise<Cloud> {
  const kubeletBundle = provider === 'local' ? undefined : await buildKubeletBundle(join(s.dataDir, 'skiff-kubelet.mjs'));
  if (provider === 'aws-ec2') {
    const cloud = await startEc2(s.dataDir, onStop, log);
    return {
      kubeletBundle,
      provisioning: s.provision ? provisioningEnv(cloud, s) : {},
      label: 'EC2',
      startWorkers: (w, names) => startEc2Workers(w, cloud, names),
    };
  }
  if (provider === 'aws-ecs') {
    const ecs = await startEcs(onStop, log);
    return {
      kubeletBundle,
      provisioning: s.provision ? ecsProvisioningEnv(ecs, s.apiUrl, s.consolidateSeconds) : {},
      label: 'ECS',
      startWorkers: (w, names) => startEcsWorkers(w, ecs, names),
    };
  }
  return { provisioning: {}, startWorkers: (w, names, tokens) => startLocalWorkers(w, names, tokens) };
}

/**
 * The workers of `--shape aws-local`: kubelet child processes (`--provider local`, the default),
 * or EC2 instances of the EC2 emulator (`--provider aws-ec2`), each a process running the
 * launch script the cloud would run, whose kubelet joins through the API function with a
 * bootstrap token kept in the table.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { type Ec2Emulator, startEc2Emulator } from '../emulators/ec2.js';
import { LocalCloudProvider } from '../kubelet/local-provider.js';
import { putKubeletCredential } from '../shared/auth/cluster-state.js';
import { ec2ProviderFromEnv } from '../functions/provisioning.js';
import { ec2Catalogue } from '../shared/cloud/ec2-catalogue.js';
import type { CloudProvider } from '../shared/cloud/types.js';
import type { Store } from '../shared/store/types.js';

export type WorkerProvider = 'local' | 'aws-ec2';

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
    // The API function reads each kubelet's log credential from the table.
    publishServingToken: (node, token) => putKubeletCredential(w.state, node, token),
    log: (line) => w.log(`kubelet   ${line}`),
  });
  w.onStop(() => provider.close());
  await Promise.all(names.map((name) => provider.create({ name, instanceType: 'local', zone: 'local' })));
  return provider;
}

const EC2_ZONES = ['us-east-1a', 'us-east-1b'];

/** The EC2 emulator, its instances' console output kept in `<data-dir>/ec2`. */
export async function startEc2(dataDir: string, onStop: Workers['onStop'], log: Workers['log']): Promise<Ec2Emulator> {
  const consoleDir = join(dataDir, 'ec2');
  mkdirSync(consoleDir, { recursive: true });
  const offerings = ec2Catalogue(EC2_ZONES).map((t) => ({ instanceType: t.name, zones: t.zones }));
  const ec2 = await startEc2Emulator({ offerings, consoleDir });
  onStop(() => ec2.close());
  log(`ec2       ${ec2.endpoint} (the EC2 emulator; instances run their user data; console output in ${consoleDir})`);
  return ec2;
}

/**
 * What the controller functions need to provision EC2 workers (functions/provisioning.ts): the
 * emulator, the API's URL, this checkout's kubelet, lists every 2 s (on this machine a list costs
 * nothing; the cloud's is every 10 s).
 */
export function provisioningEnv(
  ec2: Ec2Emulator,
  apiUrl: string,
  runtime: 'process' | 'docker',
  consolidateSeconds = 30,
  dockerSocket?: string,
): Record<string, string> {
  return {
    SKIFF_PROVIDER: 'aws-ec2',
    SKIFF_API_URL: apiUrl,
    SKIFF_CLUSTER: 'aws-local',
    SKIFF_EC2_ENDPOINT: ec2.endpoint,
    SKIFF_EC2_ZONES: EC2_ZONES.join(','),
    SKIFF_KUBELET_COMMAND: `${process.execPath} --import tsx ${resolve('kubelet/main.ts')}`,
    SKIFF_KUBELET_RUNTIME: runtime,
    ...(dockerSocket ? { SKIFF_KUBELET_DOCKER_SOCKET: dockerSocket } : {}),
    SKIFF_POD_POLL_SECONDS: '2',
    SKIFF_CONSOLIDATE_SECONDS: String(consolidateSeconds),
  };
}

/** `names` instances of the EC2 emulator, launched as the provisioner launches them (the same provider and launch script). */
export async function startEc2Workers(w: Workers, ec2: Ec2Emulator, names: string[]): Promise<CloudProvider> {
  const client = new EC2Client({ endpoint: ec2.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  w.onStop(async () => client.destroy());
  const provider = ec2ProviderFromEnv(w.state, client, provisioningEnv(ec2, w.url, w.runtime, undefined, w.dockerSocket));
  await Promise.all(names.map((name, i) => provider.create({ name, instanceType: 't3.medium', zone: EC2_ZONES[i % EC2_ZONES.length] })));
  return provider;
}

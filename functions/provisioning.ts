/**
 * The provisioner as the functions run it (`SKIFF_PROVIDER=aws-ec2`): nodes are EC2 instances
 * launched with the launch script of `kubeletUserData`, each joining with a bootstrap token made
 * for it (valid an hour) and pinned to the cluster CA kept in the table.
 *
 * | variable | meaning |
 * |---|---|
 * | `SKIFF_PROVIDER` | `aws-ec2` to provision; absent: no provisioner |
 * | `SKIFF_API_URL` | the API the kubelets join through |
 * | `SKIFF_CLUSTER` | the cluster's name, tagged on its instances (default `skiff`) |
 * | `SKIFF_EC2_ZONES` | the zones to launch in, comma-separated (default `us-east-1a`) |
 * | `SKIFF_EC2_SUBNETS` | the subnet per zone, `zone=subnet,...` (default: the default VPC's) |
 * | `SKIFF_EC2_ENDPOINT` | another EC2 endpoint (the emulator) |
 * | `SKIFF_LAUNCH_TEMPLATE_ID` | the launch template (infra/workers.ts) |
 * | `SKIFF_KUBELET_COMMAND` | how the instance runs the kubelet (default `skiff-kubelet`) |
 * | `SKIFF_KUBELET_RUNTIME` | `docker` (default) or `process` |
 * | `SKIFF_KUBELET_DOCKER_SOCKET` | the Docker engine's socket on the instance (default the kubelet's) |
 * | `SKIFF_POD_POLL_SECONDS` | how often kubelets list their pods (default 10) |
 * | `SKIFF_CONSOLIDATE_SECONDS` | how long an empty node of its own is kept (default 30) |
 */
import { createHash } from 'node:crypto';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createBootstrapToken } from '../shared/auth/bootstrap-tokens.js';
import { clusterCa } from '../shared/auth/cluster-state.js';
import { AwsEc2CloudProvider, kubeletUserData } from '../shared/cloud/aws-ec2.js';
import { ec2Catalogue } from '../shared/cloud/ec2-catalogue.js';
import type { NodeRequest } from '../shared/cloud/types.js';
import type { ProvisionerOptions } from '../shared/controllers/provisioner.js';
import type { Store } from '../shared/store/types.js';

/** A loopback /16 of its own per node, for the process runtime on one machine (127.40 to 127.239). */
const podCidrOf = (name: string) => `127.${40 + (createHash('sha256').update(name).digest()[0] % 200)}.0.0/16`;

/**
 * The aws-ec2 provider the environment describes (`SKIFF_PROVIDER=aws-ec2`), on `client`: each
 * node's launch script joins with a bootstrap token made for it and trusts the CA in the table.
 */
export function ec2ProviderFromEnv(store: Store, client: EC2Client, env: NodeJS.ProcessEnv): AwsEc2CloudProvider {
  const server = env.SKIFF_API_URL;
  if (!server) throw new Error('SKIFF_PROVIDER=aws-ec2 needs SKIFF_API_URL, the API the kubelets join through');
  const runtime = env.SKIFF_KUBELET_RUNTIME === 'process' ? 'process' : 'docker';
  const userData = async (node: NodeRequest) => {
    const caCert = await clusterCa(store);
    if (!caCert) throw new Error('no cluster CA in the table: a kubelet could not trust the API');
    const bootstrapToken = await createBootstrapToken(store, { ttlSeconds: 3600, description: `node ${node.name}` });
    return kubeletUserData({
      kubelet: env.SKIFF_KUBELET_COMMAND ?? 'skiff-kubelet',
      server,
      caCert,
      bootstrapToken,
      node,
      podCidr: podCidrOf(node.name),
      runtime,
      dockerSocket: env.SKIFF_KUBELET_DOCKER_SOCKET,
      podPollSeconds: env.SKIFF_POD_POLL_SECONDS ? Number(env.SKIFF_POD_POLL_SECONDS) : undefined,
    });
  };
  return new AwsEc2CloudProvider({
    client,
    cluster: env.SKIFF_CLUSTER ?? 'skiff',
    catalogue: ec2Catalogue((env.SKIFF_EC2_ZONES ?? 'us-east-1a').split(',')),
    launchTemplateId: env.SKIFF_LAUNCH_TEMPLATE_ID,
    subnets: env.SKIFF_EC2_SUBNETS ? Object.fromEntries(env.SKIFF_EC2_SUBNETS.split(',').map((pair) => pair.split('=') as [string, string])) : undefined,
    userData,
  });
}

export function provisionerFromEnv(store: Store, env: NodeJS.ProcessEnv = process.env): ProvisionerOptions | undefined {
  if (!env.SKIFF_PROVIDER) return undefined;
  if (env.SKIFF_PROVIDER !== 'aws-ec2') throw new Error(`SKIFF_PROVIDER must be aws-ec2, not "${env.SKIFF_PROVIDER}"`);
  const client = new EC2Client({ ...(env.SKIFF_EC2_ENDPOINT ? { endpoint: env.SKIFF_EC2_ENDPOINT } : {}), region: env.AWS_REGION ?? 'us-east-1' });
  const consolidate = env.SKIFF_CONSOLIDATE_SECONDS ? Number(env.SKIFF_CONSOLIDATE_SECONDS) * 1000 : undefined;
  return { provider: ec2ProviderFromEnv(store, client, env), consolidateAfterMs: consolidate, log: (line) => console.log(line) };
}

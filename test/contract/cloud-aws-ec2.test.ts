/**
 * The CloudProvider contract on `aws-ec2`, against the EC2 emulator over the real SDK: each node
 * an instance whose user data starts a real kubelet (process runtime) that joins a real API with
 * a bootstrap token, learning its node's name from its tag through the instance metadata. Then
 * what EC2 does that the contract does not cover: like launches batched into one fleet call,
 * capacity errors remembered per offering, the launch rate limit, the user-data limit, eventual
 * consistency and idempotent launches, the metadata service's rules.
 */
import { CreateFleetCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEc2Emulator } from '../../emulators/ec2.js';
import { AwsEc2CloudProvider, type Ec2InstanceType } from '../../shared/cloud/aws-ec2.js';
import { kubeletUserData } from '../../shared/cloud/kubelet-script.js';
import { InsufficientCapacityError, type LaunchRequest } from '../../shared/cloud/types.js';
import { createWorkerLaunchTemplate } from '../../cli/aws-local-workers.js';
import { createBootstrapToken } from '../../shared/auth/bootstrap-tokens.js';
import { ec2Catalogue } from '../../shared/cloud/ec2-catalogue.js';
import { joining, startTestCluster, type TestCluster } from '../support/api-server.js';
import { cloudContract } from './cloud.contract.js';
import { DEFAULT_CLUSTER_CIDR } from '../../shared/net/cidr.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const ZONES = ['us-east-1a', 'us-east-1b'];
const CATALOGUE: Ec2InstanceType[] = [
  { name: 't3.medium', cpu: 2000, memory: 4 * 2 ** 30, pods: 17, zones: ZONES, pricePerHour: 0.0416 },
  { name: 'm5.large', cpu: 2000, memory: 8 * 2 ** 30, pods: 29, zones: ZONES, pricePerHour: 0.096 },
];
const OFFERINGS = CATALOGUE.map((t) => ({ instanceType: t.name, zones: t.zones }));

let cluster: TestCluster;
let bootstrapToken: string;
beforeAll(async () => {
  cluster = await startTestCluster();
  // As the provider's owner makes one for the nodes it launches: short-lived, in kube-system.
  bootstrapToken = await createBootstrapToken(cluster.store, { ttlSeconds: 3600, description: 'aws-ec2 contract' });
  expect(bootstrapToken).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
});
afterAll(async () => {
  await cluster?.stop();
});

/** The launch script of a launch's nodes: a kubelet from this checkout, joining with the bootstrap token. */
const userData = (node: LaunchRequest) =>
  kubeletUserData({
    ...joining(cluster, bootstrapToken),
    node,
    loopbackPodCidr: DEFAULT_CLUSTER_CIDR,
    runtime: 'process',
  });

async function openEc2(options: Partial<Parameters<typeof startEc2Emulator>[0]> = {}) {
  const ec2 = await startEc2Emulator({ offerings: OFFERINGS, ...options });
  const client = new EC2Client({ endpoint: ec2.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  const launchTemplateId = await createWorkerLaunchTemplate(client);
  const provider = new AwsEc2CloudProvider({ client, cluster: 'contract', catalogue: CATALOGUE, launchTemplateId, userData });
  return {
    launchTemplateId,
    ec2,
    client,
    provider,
    async close() {
      client.destroy();
      await ec2.close();
    },
  };
}

cloudContract('aws-ec2', async () => {
  const { provider, close } = await openEc2();
  return {
    provider,
    instanceType: 't3.medium',
    zone: 'us-east-1a',
    unservedZone: 'us-east-1c',
    registered: async (name) => (await cluster.api(`/api/v1/nodes/${name}`)).status === 200,
    cleanup: async () => {
      await close();
      for (const node of (await cluster.api('/api/v1/nodes')).json().items) await cluster.api(`/api/v1/nodes/${node.metadata.name}`, { method: 'DELETE' });
    },
  };
});

describe('aws-ec2 and the EC2 emulator: what EC2 does', () => {
  let opened: Awaited<ReturnType<typeof openEc2>>;
  beforeAll(async () => {
    opened = await openEc2({ runUserData: false, launchBucket: { capacity: 3, refillPerSecond: 2 } });
  });
  afterAll(() => opened?.close());

  it('remembers an offering out of capacity, so the next try goes to another zone', async () => {
    const { ec2, provider } = opened;
    ec2.insufficientCapacity('t3.medium', 'us-east-1a');
    await expect(provider.create({ name: 'ice-1', instanceType: 't3.medium', zone: 'us-east-1a' })).rejects.toBeInstanceOf(InsufficientCapacityError);
    const calls = ec2.requests.filter((r) => r.action === 'CreateFleet').length;
    expect(calls).toBe(1);
    // Remembered: no second call to EC2 for the same offering, and it is not offered meanwhile.
    await expect(provider.create({ name: 'ice-1', instanceType: 't3.medium', zone: 'us-east-1a' })).rejects.toBeInstanceOf(InsufficientCapacityError);
    expect(ec2.requests.filter((r) => r.action === 'CreateFleet')).toHaveLength(calls);
    expect((await provider.instanceTypes()).find((t) => t.name === 't3.medium')?.zones).toEqual(['us-east-1b']);
    const node = await provider.create({ name: 'ice-1', instanceType: 't3.medium', zone: 'us-east-1b' });
    expect(node.providerID).toMatch(/^aws-ec2:\/\/us-east-1b\/i-[0-9a-f]{16}$/);
    ec2.insufficientCapacity('t3.medium', 'us-east-1a', false);
    await provider.delete('ice-1');
  });

  it('sees its own launches while DescribeInstances does not list them yet, and launches once per ClientToken', async () => {
    const { ec2, client } = opened;
    const run = () =>
      client.send(
        new RunInstancesCommand({
          MinCount: 1,
          MaxCount: 1,
          InstanceType: 'm5.large',
          Placement: { AvailabilityZone: 'us-east-1a' },
          ClientToken: 'same-intent',
        }),
      );
    const first = await run();
    const again = await run();
    expect(again.Instances?.[0].InstanceId).toBe(first.Instances?.[0].InstanceId);
    await expect(client.send(new DescribeInstancesCommand({ InstanceIds: [first.Instances?.[0].InstanceId as string] }))).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
    });
    await new Promise((r) => setTimeout(r, 400));
    const listed = await client.send(new DescribeInstancesCommand({ InstanceIds: [first.Instances?.[0].InstanceId as string] }));
    expect(listed.Reservations?.[0].Instances?.[0].State?.Name).toBe('running');
    expect([...ec2.instances.values()].filter((i) => i.clientToken === 'same-intent')).toHaveLength(1);
  });

  it('refuses user data over 16 KB, and launches past the token bucket with RequestLimitExceeded', async () => {
    const { client } = opened;
    await expect(
      client.send(
        new RunInstancesCommand({ MinCount: 1, MaxCount: 1, InstanceType: 'm5.large', UserData: Buffer.from('x'.repeat(16 * 1024 + 1)).toString('base64') }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    // The bucket of 3 was drawn by the launches above; refill is 2 a second.
    const burst = await Promise.allSettled(
      Array.from({ length: 6 }, () =>
        client.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, InstanceType: 'm5.large', Placement: { AvailabilityZone: 'us-east-1b' } })),
      ),
    );
    const refused = burst.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.name);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set(['RequestLimitExceeded']));
  });
});

describe('aws-ec2: like launches are one fleet call', () => {
  let opened: Awaited<ReturnType<typeof openEc2>>;
  beforeAll(async () => {
    opened = await openEc2({ runUserData: false });
  });
  afterAll(() => opened?.close());

  it('gathers creates of one offering into one CreateFleet, and tags each instance with its node', async () => {
    const { ec2, provider } = opened;
    const names = ['batch-1', 'batch-2', 'batch-3', 'batch-4', 'batch-5'];
    const made = await Promise.all([
      ...names.map((name) => provider.create({ name, instanceType: 'm5.large', zone: 'us-east-1a' })),
      provider.create({ name: 'elsewhere', instanceType: 'm5.large', zone: 'us-east-1b' }),
    ]);
    const fleets = ec2.requests.filter((r) => r.action === 'CreateFleet');
    expect(fleets.map((f) => f.params['TargetCapacitySpecification.TotalTargetCapacity']).sort()).toEqual(['1', '5']);
    expect(fleets.every((f) => f.params.Type === 'instant')).toBe(true);
    expect(ec2.requests.filter((r) => r.action === 'RunInstances')).toHaveLength(0);
    const instances = made.map((node) => ec2.instances.get(node.providerID.split('/').pop() as string));
    expect(new Set(instances.map((i) => i?.id)).size).toBe(6);
    for (const [k, node] of made.entries()) {
      expect(instances[k]?.tags.get('skiff:node')).toBe(node.name);
      expect(instances[k]?.zone).toBe(node.zone);
      // One script for the whole call: it names no node, and reads its name from the tag.
      expect(instances[k]?.userData).not.toContain(node.name);
      expect(instances[k]?.userData).toContain('tags/instance/skiff:node');
    }
    // The template version made for each call is deleted once the call is answered.
    expect(ec2.requests.filter((r) => r.action === 'CreateLaunchTemplateVersion')).toHaveLength(2);
    expect(ec2.requests.filter((r) => r.action === 'DeleteLaunchTemplateVersions')).toHaveLength(2);
    // Asked again (a retried reconcile), a node is the one launched: no new call.
    expect((await provider.create({ name: 'batch-3', instanceType: 'm5.large', zone: 'us-east-1a' })).providerID).toBe(made[2].providerID);
    expect(ec2.requests.filter((r) => r.action === 'CreateFleet')).toHaveLength(2);
    await Promise.all(made.map((node) => provider.delete(node.name)));
    expect([...ec2.instances.values()].every((i) => i.state !== 'running' && i.state !== 'pending')).toBe(true);
  });

  it('fills a fleet from the next override when one is out of capacity, and answers a retried call as before', async () => {
    const { ec2, client, launchTemplateId } = opened;
    ec2.insufficientCapacity('t3.medium', 'us-east-1b');
    const fleet = () =>
      client.send(
        new CreateFleetCommand({
          Type: 'instant',
          LaunchTemplateConfigs: [
            {
              LaunchTemplateSpecification: { LaunchTemplateId: launchTemplateId, Version: '$Default' },
              Overrides: [
                { InstanceType: 't3.medium', AvailabilityZone: 'us-east-1b' },
                { InstanceType: 'm5.large', AvailabilityZone: 'us-east-1b' },
              ],
            },
          ],
          TargetCapacitySpecification: { TotalTargetCapacity: 2, DefaultTargetCapacityType: 'on-demand' },
          ClientToken: 'fleet-intent',
        }),
      );
    const first = await fleet();
    expect(first.Errors?.map((e) => [e.ErrorCode, e.LaunchTemplateAndOverrides?.Overrides?.InstanceType])).toEqual([
      ['InsufficientInstanceCapacity', 't3.medium'],
    ]);
    expect(first.Instances).toHaveLength(1);
    expect(first.Instances?.[0]).toMatchObject({ InstanceType: 'm5.large', Lifecycle: 'on-demand' });
    expect(first.Instances?.[0].InstanceIds).toHaveLength(2);
    const again = await fleet();
    expect(again.FleetId).toBe(first.FleetId);
    expect(again.Instances?.[0].InstanceIds).toEqual(first.Instances?.[0].InstanceIds);
    ec2.insufficientCapacity('t3.medium', 'us-east-1b', false);
    await expect(
      client.send(
        new CreateFleetCommand({
          Type: 'maintain',
          LaunchTemplateConfigs: [{ LaunchTemplateSpecification: { LaunchTemplateId: launchTemplateId, Version: '$Default' } }],
          TargetCapacitySpecification: { TotalTargetCapacity: 1 },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('serves each instance its metadata: IMDSv2 tokens required, tags only where its options allow', async () => {
    const { ec2, client, provider } = opened;
    const node = await provider.create({ name: 'metadata', instanceType: 'm5.large', zone: 'us-east-1a' });
    const base = `${ec2.endpoint}/imds/${node.providerID.split('/').pop()}`;
    expect((await fetch(`${base}/latest/meta-data/instance-id`)).status).toBe(401);
    const token = await (await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } })).text();
    const read = (path: string) => fetch(`${base}/latest/meta-data/${path}`, { headers: { 'x-aws-ec2-metadata-token': token } });
    expect(await (await read('tags/instance/skiff:node')).text()).toBe('metadata');
    expect(await (await read('placement/availability-zone')).text()).toBe('us-east-1a');
    expect((await fetch(`${base}/latest/api/token`, { method: 'PUT' })).status).toBe(400);
    // Launched without the launch template's options: no token needed, and no tags to read.
    const plain = await client.send(
      new RunInstancesCommand({
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 'm5.large',
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'k', Value: 'v' }] }],
      }),
    );
    const plainBase = `${ec2.endpoint}/imds/${plain.Instances?.[0].InstanceId}/latest/meta-data`;
    expect(await (await fetch(`${plainBase}/instance-type`)).text()).toBe('m5.large');
    expect((await fetch(`${plainBase}/tags/instance/k`)).status).toBe(404);
    await provider.delete('metadata');
  });
});

describe('aws-ec2: instances that belong to no node', () => {
  it('are terminated after the grace period; nodes, young instances and launches in flight are kept', async () => {
    const { ec2, client, provider, close } = await openEc2({ runUserData: false });
    try {
      await provider.create({ name: 'kept', instanceType: 'm5.large', zone: 'us-east-1a' });
      const ghost = async (name: string, owner = 'contract') =>
        (
          await client.send(
            new RunInstancesCommand({
              MinCount: 1,
              MaxCount: 1,
              InstanceType: 'm5.large',
              Placement: { AvailabilityZone: 'us-east-1b' },
              TagSpecifications: [
                {
                  ResourceType: 'instance',
                  Tags: [
                    { Key: 'skiff:cluster', Value: owner },
                    { Key: 'skiff:node', Value: name },
                  ],
                },
              ],
            }),
          )
        ).Instances?.[0].InstanceId as string;
      const old = await ghost('ghost-old');
      const others = await ghost('theirs', 'another-cluster');
      await new Promise((r) => setTimeout(r, 1500));
      const young = await ghost('ghost-young');
      await new Promise((r) => setTimeout(r, 400));
      expect(await provider.collectGarbage(new Set(), 1000)).toEqual([old]);
      expect(ec2.instances.get(old)?.state).toMatch(/shutting-down|terminated/);
      expect(ec2.instances.get(young)?.state).toBe('running');
      expect((await provider.get('kept'))?.state).toBe('running');
      // Another cluster's instances are never touched.
      expect(ec2.instances.get(others)?.state).toBe('running');
    } finally {
      await close();
    }
  });

  it('offers a catalogue of common types with prices, in the zones given, the GPU type tainted', () => {
    const catalogue = ec2Catalogue(['eu-west-1a', 'eu-west-1b']);
    const medium = catalogue.find((t) => t.name === 't3.medium');
    expect(medium).toMatchObject({ cpu: 2000, memory: 4 * 2 ** 30, pods: 17, zones: ['eu-west-1a', 'eu-west-1b'] });
    const byPrice = [...catalogue].sort((a, b) => a.pricePerHour - b.pricePerHour);
    expect(byPrice[0].name).toBe('t3.medium');
    for (const t of catalogue) expect(t.pricePerHour).toBeGreaterThan(0);
    // The GPU type is kept for pods that tolerate it: its nodes register with the taint.
    const gpu = catalogue.find((t) => t.name === 'g4dn.xlarge');
    expect(gpu?.taints).toEqual([{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }]);
    const script = kubeletUserData({ ...joining(cluster, bootstrapToken), node: { instanceType: 'g4dn.xlarge', zone: 'eu-west-1a' }, taints: gpu?.taints });
    expect(script).toContain(`--register-with-taints 'nvidia.com/gpu=true:NoSchedule'`);
  });
});

/**
 * The provisioner under a capacity shortage, end to end: EC2 (the emulator) answers
 * InsufficientInstanceCapacity for the cheapest type in every zone, and a Deployment with no
 * node to run on still runs, on the next offering. The instances run real kubelets (process
 * runtime) that join the API with a bootstrap token; the control plane schedules and provisions.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Ec2Emulator, startEc2Emulator } from '../../emulators/ec2.js';
import { typedList } from '../../shared/api/objects.js';
import { createBootstrapToken } from '../../shared/auth/bootstrap-tokens.js';
import { AwsEc2CloudProvider } from '../../shared/cloud/aws-ec2.js';
import { ec2Catalogue } from '../../shared/cloud/ec2-catalogue.js';
import { kubeletUserData } from '../../shared/cloud/kubelet-script.js';
import { type ControlPlane, startControlPlane } from '../../shared/control-plane.js';
import { createWorkerLaunchTemplate } from '../../cli/aws-local-workers.js';
import { joining, startTestCluster, type TestCluster } from '../support/api-server.js';
import { until } from '../support/until.js';
import { DEFAULT_CLUSTER_CIDR } from '../../shared/net/cidr.js';

const ZONES = ['us-east-1a', 'us-east-1b'];
let cluster: TestCluster;
let ec2: Ec2Emulator;
let client: EC2Client;
let plane: ControlPlane;
const said: string[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
  const bootstrapToken = await createBootstrapToken(cluster.store, { ttlSeconds: 3600, description: 'capacity test' });
  const catalogue = ec2Catalogue(ZONES);
  ec2 = await startEc2Emulator({ offerings: catalogue.map((t) => ({ instanceType: t.name, zones: t.zones })) });
  for (const zone of ZONES) ec2.insufficientCapacity('t3.medium', zone);
  client = new EC2Client({ endpoint: ec2.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  const provider = new AwsEc2CloudProvider({
    client,
    cluster: 'capacity',
    catalogue,
    launchTemplateId: await createWorkerLaunchTemplate(client),
    userData: (node) =>
      kubeletUserData({
        ...joining(cluster, bootstrapToken),
        node,
        loopbackPodCidr: DEFAULT_CLUSTER_CIDR,
        runtime: 'process',
        podPollSeconds: 1,
      }),
  });
  plane = await startControlPlane({ store: cluster.store, provisioner: { provider, consolidateAfterMs: 1000, batchIdleMs: 200, log: (l) => said.push(l) } });
}, 60_000);

afterAll(async () => {
  await plane?.stop();
  client?.destroy();
  await ec2?.close();
  await cluster?.stop();
});

it('runs the pods on the next offering when the cheapest has no capacity anywhere', async () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          automountServiceAccountToken: false,
          containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'], resources: { requests: { cpu: '200m' } } }],
        },
      },
    },
  };
  expect((await cluster.api('/apis/apps/v1/namespaces/default/deployments', { method: 'POST', body: JSON.stringify(deployment) })).status).toBe(201);
  const pods = await until(
    'the pods to run',
    async () => {
      const list = typedList('pods', (await cluster.store.list('pods', { namespace: 'default' })).items);
      return list.length === 3 && list.every((p) => p.status?.phase === 'Running') && list;
    },
    90_000,
    200,
  );
  const nodes = typedList('nodes', (await cluster.store.list('nodes')).items);
  const typeOf = (name: string) => nodes.find((n) => n.metadata.name === name)?.metadata.labels?.['node.kubernetes.io/instance-type'];
  for (const p of pods) expect(typeOf(p.spec.nodeName!)).not.toBe('t3.medium');
  expect(said.some((l) => /insufficient capacity for t3\.medium/.test(l))).toBe(true);
  // EC2 was asked for the cheapest type first, then for another.
  const asked = ec2.requests.filter((r) => r.action === 'CreateFleet').map((r) => r.params['LaunchTemplateConfigs.1.Overrides.1.InstanceType']);
  expect(asked[0]).toBe('t3.medium');
  expect(asked.some((t) => t !== 't3.medium')).toBe(true);
  await cluster.api('/apis/apps/v1/namespaces/default/deployments/web', { method: 'DELETE' });
  await until('the nodes removed', async () => (await cluster.store.list('nodes')).items.length === 0, 60_000, 200);
}, 120_000);

/**
 * The CloudProvider contract on `local`: each node a kubelet child process against a real API
 * server, on the process runtime.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { LocalCloudProvider } from '../../kubelet/local-provider.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { cloudContract } from './cloud.contract.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

cloudContract('local', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'skiff-cloud-local-'));
  const provider = new LocalCloudProvider({
    server: cluster.server.url,
    caFile: join(cluster.dir, 'data', 'pki', 'ca.crt'),
    dataDir,
    runtime: 'process',
    issueToken: cluster.server.issueToken,
  });
  return {
    provider,
    instanceType: 'local',
    zone: 'local',
    unservedZone: 'us-east-1a',
    registered: async (name) => (await cluster.api(`/api/v1/nodes/${name}`)).status === 200,
    cleanup: async () => {
      await provider.close();
      for (const node of (await cluster.api('/api/v1/nodes')).json().items) await cluster.api(`/api/v1/nodes/${node.metadata.name}`, { method: 'DELETE' });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

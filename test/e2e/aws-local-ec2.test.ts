/**
 * `skiff up --shape aws-local --provider aws-ec2`: the AWS shape with its workers on the
 * emulated EC2. Each node is an instance whose user data (the launch script the cloud would run)
 * starts a kubelet that joins through the API function with a bootstrap token kept in the table,
 * and gets its own node credential and serving material. The nodes go Ready with their
 * instances' providerIDs, a Deployment rolls out on them, its logs come through the API
 * function, and its pods resolve Services' names, answered by their node's kubelet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, lookUp, startSkiffUp } from '../support/skiff-up.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-aws-local-ec2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('skiff up --shape aws-local --provider aws-ec2', () => {
  it('joins EC2 instances as nodes through the API function and runs a Deployment on them', async () => {
    const skiff = await startSkiffUp(join(dir, 'data'), [
      '--shape',
      'aws-local',
      '--provider',
      'aws-ec2',
      '--nodes',
      '2',
      '--runtime',
      'process',
      '--lease-interval-ms',
      '2000',
    ]);
    try {
      expect(skiff.output()).toMatch(/nodes\s+ec2-0, ec2-1 \(provider aws-ec2, runtime process\)/);
      const nodes = await eventually(
        'two EC2 nodes Ready',
        async () => {
          const r = await skiff.kubectl([
            'get',
            'nodes',
            '-o',
            'jsonpath={range .items[*]}{.metadata.name} {.spec.providerID} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
          ]);
          const lines = r.stdout.trim().split('\n').filter(Boolean);
          return lines.length === 2 && lines.every((l) => l.endsWith(' True')) && lines;
        },
        60_000,
      );
      for (const line of nodes) expect(line).toMatch(/^ec2-[01] aws-ec2:\/\/us-east-1[ab]\/i-[0-9a-f]{16} True$/);
      const columns = ['topology.kubernetes.io/zone', 'node.kubernetes.io/instance-type', 'skiff.dev/capacity-type', 'skiff.dev/price-per-hour'];
      const shown = await skiff.kubectl(['get', 'nodes', '-L', columns.join(','), '--no-headers']);
      expect(shown.stdout).toMatch(/us-east-1a\s+t3\.medium\s+on-demand\s+0\.0416/);
      expect(shown.stdout).toMatch(/us-east-1b\s+t3\.medium\s+on-demand\s+0\.0416/);

      const ticker = 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 1; done';
      expect((await skiff.kubectl(['create', 'deployment', 'web', '--image=busybox', '--replicas=3', '--', 'sh', '-c', ticker])).code).toBe(0);
      const rollout = await skiff.kubectl(['rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
      expect(rollout.code, rollout.stderr).toBe(0);
      const placed = await skiff.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].spec.nodeName}']);
      for (const node of placed.stdout.split(' ')) expect(node).toMatch(/^ec2-[01]$/);

      // Logs through the API function from a kubelet that joined with a bootstrap token: TLS
      // pinned to the cluster CA, which signed its certificate at the exchange, and its own
      // serving credential, kept in the table.
      const pod = (await skiff.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout;
      const logs = await eventually('the pod logs', async () => {
        const r = await skiff.kubectl(['logs', pod]);
        return r.code === 0 && /^tick 1$/m.test(r.stdout) && r;
      });
      expect(logs.stdout).toMatch(/^tick 0$/m);

      // Cluster DNS from an EC2 node's pod: its kubelet answers the kube-dns address (functions serve none).
      expect((await skiff.kubectl(['expose', 'deployment', 'web', '--port=80'])).code).toBe(0);
      const looked = await lookUp(skiff, 'web.default.svc.cluster.local');
      expect(looked.output).toContain(looked.clusterIP);
    } finally {
      expect(await skiff.stop()).toBe(0);
    }
  }, 240_000);
});

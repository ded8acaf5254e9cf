/**
 * `skiff up --shape aws-local --provider aws-ec2 --provision --nodes 0`: capacity follows the
 * pods, through the functions alone. A Deployment of 20 replicas with no node to run on gets EC2
 * instances (the stream function's provisioner launches them on the EC2 emulator; their kubelets
 * join through the API function), runs there, and when scaled to zero its nodes are removed after
 * the consolidation delay: no instance is left pending or running.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startSkiffUp } from '../support/skiff-up.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-aws-local-provision-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('skiff up --shape aws-local --provider aws-ec2 --provision', () => {
  it('launches EC2 nodes for 20 pending pods and removes them when they are empty, leaving no instance', async () => {
    const skiff = await startSkiffUp(join(dir, 'data'), [
      '--shape',
      'aws-local',
      '--provider',
      'aws-ec2',
      '--provision',
      '--consolidate-seconds',
      '2',
      '--nodes',
      '0',
      '--runtime',
      'process',
      '--lease-interval-ms',
      '2000',
    ]);
    const endpoint = /ec2\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(skiff.output())?.[1];
    expect(endpoint, skiff.output()).toBeDefined();
    const ec2 = new EC2Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      expect((await skiff.kubectl(['get', 'nodes', '-o', 'name'])).stdout.trim()).toBe('');
      expect((await skiff.kubectl(['create', 'deployment', 'web', '--image=busybox', '--replicas=20', '--', 'sleep', '3600'])).code).toBe(0);
      const rollout = await skiff.kubectl(['rollout', 'status', 'deployment/web', '--timeout=180s'], { timeoutMs: 190_000 });
      expect(rollout.code, `${rollout.stderr}\n${skiff.output()}`).toBe(0);
      const nodes = await skiff.kubectl(['get', 'nodes', '-L', 'skiff.dev/provisioned,node.kubernetes.io/instance-type', '--no-headers']);
      expect(nodes.stdout).toMatch(/^skiff-\S+\s+Ready\s.*\btrue\s+t3\.medium$/m);

      expect((await skiff.kubectl(['scale', 'deployment/web', '--replicas=0'])).code).toBe(0);
      await eventually('the nodes removed', async () => (await skiff.kubectl(['get', 'nodes', '-o', 'name'])).stdout.trim() === '', 120_000);
      const live = { Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }] };
      await eventually('no instance left', async () => ((await ec2.send(new DescribeInstancesCommand(live))).Reservations ?? []).length === 0, 60_000);
    } finally {
      ec2.destroy();
      expect(await skiff.stop()).toBe(0);
    }
  }, 300_000);
});

/**
 * `skiff up --shape aws-local --provider aws-ec2 --provision --nodes 0`: capacity follows the
 * pods, through the functions alone. A Deployment with no node to run on gets EC2 instances
 * (the stream function's provisioner launches them on the EC2 emulator; their kubelets join
 * through the API function), runs there, and when scaled to zero its nodes are removed after the
 * consolidation delay, instances terminated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startSkiffUp } from '../support/skiff-up.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-aws-local-provision-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('skiff up --shape aws-local --provider aws-ec2 --provision', () => {
  it('launches EC2 nodes for pending pods and removes them when they are empty', async () => {
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
    try {
      expect((await skiff.kubectl(['get', 'nodes', '-o', 'name'])).stdout.trim()).toBe('');
      expect((await skiff.kubectl(['create', 'deployment', 'web', '--image=busybox', '--replicas=3', '--', 'sleep', '3600'])).code).toBe(0);
      const rollout = await skiff.kubectl(['rollout', 'status', 'deployment/web', '--timeout=120s'], { timeoutMs: 130_000 });
      expect(rollout.code, `${rollout.stderr}\n${skiff.output()}`).toBe(0);
      const nodes = await skiff.kubectl(['get', 'nodes', '-L', 'skiff.dev/provisioned,node.kubernetes.io/instance-type', '--no-headers']);
      expect(nodes.stdout).toMatch(/^skiff-\S+\s+Ready\s.*\btrue\s+t3\.medium$/m);

      expect((await skiff.kubectl(['scale', 'deployment/web', '--replicas=0'])).code).toBe(0);
      await eventually('the nodes removed', async () => (await skiff.kubectl(['get', 'nodes', '-o', 'name'])).stdout.trim() === '', 60_000);
    } finally {
      expect(await skiff.stop()).toBe(0);
    }
  }, 300_000);
});

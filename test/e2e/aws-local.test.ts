/**
 * `skiff up --shape aws-local` (`npm start -- --shape aws-local`) as a user runs it: the four
 * functions in the Lambda runner behind DynamoDB Local, its stream mapping, the SQS emulator
 * and the Function URL front, with a local worker. kubectl sees the node Ready, rolls out a
 * Deployment, watches its pods and reads and follows their logs through the Function URL (the
 * API function reaches the kubelet with what the table keeps); the node answers cluster DNS;
 * exec is refused with the reason; SIGTERM stops everything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, lookUp, startSkiffUp } from '../support/skiff-up.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-aws-local-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('skiff up --shape aws-local', () => {
  it('serves kubectl through the Function URL: a Ready node, a rollout, a watch, logs; stops on SIGTERM', async () => {
    const skiff = await startSkiffUp(join(dir, 'data'), ['--shape', 'aws-local', '--nodes', '1', '--runtime', 'process', '--lease-interval-ms', '2000']);
    try {
      expect(skiff.output()).toMatch(/api\s+https:\/\/127\.0\.0\.1:\d+ \(a Function URL front on the API function\)/);
      await eventually('local-0 Ready', async () => {
        const r = await skiff.kubectl(['get', 'node', 'local-0', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
        return r.stdout === 'True';
      });
      const ticker = 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 1; done';
      const created = await skiff.kubectl(['create', 'deployment', 'web', '--image=busybox', '--replicas=2', '--', 'sh', '-c', ticker]);
      expect(created.code, created.stderr).toBe(0);
      const rollout = await skiff.kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
      expect(rollout.code, rollout.stderr).toBe(0);
      expect(rollout.stdout).toContain('successfully rolled out');

      const watch = skiff.kubectl(['get', 'pods', '-l', 'app=web', '-w', '-o', 'name'], { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 2000));
      expect((await skiff.kubectl(['scale', 'deployment/web', '--replicas=3'])).code).toBe(0);
      const pods = await eventually('three pods', async () => {
        const r = await skiff.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'name']);
        return r.stdout.trim().split('\n').length === 3 && r.stdout.trim().split('\n');
      });
      const watched = await watch;
      for (const pod of pods) expect(watched.stdout).toContain(pod);

      const logs = await skiff.kubectl(['logs', pods[0]]);
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stdout).toMatch(/^tick 0$/m);
      // -f streams: lines written after it started arrive while it runs.
      // Long enough for three ticks however slowly a loaded machine opens the stream through the Function URL.
      const followed = await skiff.kubectl(['logs', '-f', '--tail=1', pods[0]], { timeoutMs: 7000 });
      const ticks = [...followed.stdout.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
      expect(ticks.length, followed.stdout + followed.stderr).toBeGreaterThanOrEqual(3);
      expect(ticks).toEqual([...ticks].sort((a, b) => a - b));

      // Cluster DNS with no server of the control plane: the node's kubelet answers kube-dns's address.
      expect((await skiff.kubectl(['expose', 'deployment', 'web', '--port=80'])).code).toBe(0);
      const looked = await lookUp(skiff, 'web.default.svc.cluster.local');
      expect(looked.dnsIP).toBe(`${skiff.servicePrefix}.10`);
      expect(looked.output).toContain(looked.clusterIP);
      // Streams need an upgraded connection, which a Function URL does not carry: said so, at once.
      const exec = await skiff.kubectl(['exec', pods[0].replace('pod/', ''), '--', 'true']);
      expect(exec.code).not.toBe(0);
      expect(exec.stderr).toContain('pods/exec is not served in this cluster');
    } finally {
      expect(await skiff.stop()).toBe(0);
    }
    expect(skiff.output()).toMatch(/stopped\n/);
  }, 180_000);
});

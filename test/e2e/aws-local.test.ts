/**
 * `skiff up --shape aws-local` (`npm start -- --shape aws-local`) as a user runs it: the four
 * functions in the Lambda runner behind DynamoDB Local, its stream mapping, the SQS emulator
 * and the Function URL front, with a local worker. kubectl sees the node Ready, rolls out a
 * Deployment, watches its pods and reads and follows their logs through the front and the
 * Function URL (the API function reaches the kubelet with what the table keeps); the node answers
 * cluster DNS; exec and port-forward go through the front to the stream relay; a pod's
 * `kubernetes.default.svc` is the relay; the dashboard in Chromium, signed in with `skiff
 * dashboard --store`, scales a Deployment and sees its pods live over WebSocket watches, which the
 * front's router sends to the relay (none streamed from the function); SIGTERM stops everything.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { launchChromium } from '../support/chromium.js';
import { eventually, lookUp, startSkiffUp } from '../support/skiff-up.js';
import { until } from '../support/until.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-aws-local-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Signs in to the dashboard of the running shape, scales web to 4 from it, sees its pods come live, and follows one's log. */
async function usesTheDashboard(output: string, dataDir: string): Promise<void> {
  const store = /dashboard\s+https:\S+ \(sign in: npm run skiff -- dashboard --data-dir \S+ --store '([^']+)'\)/.exec(output)?.[1];
  expect(store, output).toBeDefined();
  const cli = ['--import', 'tsx', 'cli/skiff.ts', 'dashboard', '--data-dir', dataDir, '--store', store!];
  const link = (await promisify(execFile)(process.execPath, cli)).stdout.trim();
  expect(link).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dashboard\/#token=/);
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } })).newPage();
    // The page's first requests start several of the API function's environments at once, each
    // a cold start loading the whole API: room for a loaded machine.
    page.setDefaultTimeout(60_000);
    const sockets: { url: string; frames: number; closed: boolean }[] = [];
    page.on('websocket', (ws) => {
      const socket = { url: ws.url(), frames: 0, closed: false };
      sockets.push(socket);
      ws.on('framereceived', () => socket.frames++);
      ws.on('close', () => (socket.closed = true));
    });
    const streamed: string[] = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (r.resourceType() !== 'websocket' && (url.searchParams.get('watch') === '1' || url.pathname.endsWith('/log'))) streamed.push(r.url());
    });
    await page.goto(link);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await until('local-0 shown Ready', async () => (await page.locator('.node-card').filter({ hasText: 'Ready' }).count()) === 1, 90_000, 250);
    const nav = (name: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name, exact: true }).click();
    await nav('Workloads');
    await page.getByRole('table', { name: 'Deployments' }).getByRole('link', { name: 'web' }).click();
    await page.getByRole('heading', { name: 'Deployment default/web' }).waitFor();
    await page.getByLabel('Replicas').fill('4');
    await page.getByRole('button', { name: 'Scale', exact: true }).click();
    const facts = page.locator('dl.facts');
    await until('4 ready', async () => ((await facts.textContent()) ?? '').includes('Ready4/4'), 90_000, 250);
    await nav('Pods');
    const rows = page.getByRole('table', { name: 'Pods' }).locator('tbody tr:not(.spacer)');
    await until('four web pods Running', async () => (await rows.filter({ hasText: /^web-/ }).filter({ hasText: 'Running' }).count()) === 4, 60_000, 250);
    await page.screenshot({ path: join(dataDir, '..', 'aws-local-pods.png') });
    // A pod's log followed: its ticks keep coming, over a WebSocket to the relay too.
    await page.getByRole('table', { name: 'Pods' }).getByRole('link', { name: /^web-/ }).first().click();
    const log = page.getByRole('region', { name: 'Log of busybox' });
    const ticks = async () => [...((await log.textContent()) ?? '').matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
    const first = await until('the log', async () => (await ticks()).at(-1), 60_000, 250);
    await until('a later tick, followed', async () => ((await ticks()).at(-1) ?? 0) > first, 60_000, 250);
    // Every watch went over a WebSocket that is still open and brought events, the log too; none was streamed.
    expect(sockets.filter((s) => new URL(s.url).pathname.endsWith('/log') && s.frames > 0)).toHaveLength(1);
    const watches = sockets.filter((s) => new URL(s.url).searchParams.get('watch') === '1');
    expect(watches.map((s) => new URL(s.url).pathname)).toEqual(expect.arrayContaining(['/api/v1/nodes', '/api/v1/pods', '/apis/apps/v1/deployments']));
    expect(watches.filter((s) => s.closed)).toEqual([]);
    expect(watches.filter((s) => s.frames > 0).length).toBeGreaterThanOrEqual(3);
    expect(streamed).toEqual([]);
  } finally {
    await browser.close();
  }
}

describe('skiff up --shape aws-local', () => {
  it('serves kubectl through its front: a Ready node, the dashboard, a rollout, a watch, logs, exec, port-forward, the kubernetes Service; stops on SIGTERM', async () => {
    const skiff = await startSkiffUp(join(dir, 'data'), ['--shape', 'aws-local', '--nodes', '1', '--runtime', 'process', '--lease-interval-ms', '2000']);
    try {
      expect(skiff.output()).toMatch(
        /api\s+https:\/\/127\.0\.0\.1:\d+ \(a CloudFront front: the API function's Function URL https:\/\/127\.0\.0\.1:\d+, streams and WebSockets to the relay\)/,
      );
      // The kubelet joins through the front; on a machine running other clusters at once, slowly.
      await eventually(
        'local-0 Ready',
        async () => {
          const r = await skiff.kubectl(['get', 'node', 'local-0', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
          return r.stdout === 'True';
        },
        120_000,
      );
      // The dashboard, which the API function serves from the build beside it.
      await eventually('the dashboard served', async () => (await skiff.kubectl(['get', '--raw', '/dashboard/'])).stdout.includes('<div id="app">'), 90_000);
      const ticker = 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 1; done';
      const created = await skiff.kubectl(['create', 'deployment', 'web', '--image=busybox', '--replicas=2', '--', 'sh', '-c', ticker]);
      expect(created.code, created.stderr).toBe(0);
      const rollout = await skiff.kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
      expect(rollout.code, rollout.stderr).toBe(0);
      expect(rollout.stdout).toContain('successfully rolled out');

      // The watch runs until it has seen the three pods (a fixed 20 s ended it first on a loaded machine).
      const watch = spawn('kubectl', ['get', 'pods', '-l', 'app=web', '-w', '-o', 'name'], { env: { ...process.env, KUBECONFIG: skiff.kubeconfig } });
      let watchedOut = '';
      watch.stdout.on('data', (d) => (watchedOut += String(d)));
      await new Promise((r) => setTimeout(r, 2000));
      expect((await skiff.kubectl(['scale', 'deployment/web', '--replicas=3'])).code).toBe(0);
      const pods = await eventually('three pods', async () => {
        const r = await skiff.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'name']);
        return r.stdout.trim().split('\n').length === 3 && r.stdout.trim().split('\n');
      });
      try {
        await eventually('the watch seeing the three pods', async () => pods.every((pod) => watchedOut.includes(pod)), 90_000);
      } finally {
        watch.kill();
      }
      for (const pod of pods) expect(watchedOut).toContain(pod);
      // The third pod, just made, may still be starting: its log is there once the three are ready.
      const scaled = await skiff.kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
      expect(scaled.code, scaled.stderr).toBe(0);

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
      expect(looked.output, skiff.output()).toContain(looked.clusterIP);
      // Streams: the front sends them to the relay (a Function URL carries no upgrade), which
      // passes them through to the kubelet: stdin in, output out, the exit code back.
      const exec = await skiff.kubectl(['exec', '-i', pods[0].replace('pod/', ''), '--', 'sh', '-c', 'cat; echo " out"; exit 3'], { input: 'in' });
      expect(exec.stdout).toBe('in out\n');
      expect(exec.code, exec.stderr).toBe(3);
      // port-forward to a pod's server, through the front and the relay.
      const server = "require('http').createServer((q, s) => s.end('hello from ' + process.env.POD_NAME)).listen(8080, process.env.POD_IP)";
      const served = await skiff.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'hello' },
          spec: {
            containers: [
              {
                name: 'hello',
                image: 'busybox',
                command: ['node', '-e', server],
                env: ['POD_IP', 'POD_NAME'].map((name) => ({
                  name,
                  valueFrom: { fieldRef: { fieldPath: name === 'POD_IP' ? 'status.podIP' : 'metadata.name' } },
                })),
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        }),
      });
      expect(served.code, served.stderr).toBe(0);
      expect((await skiff.kubectl(['wait', '--for=condition=Ready', 'pod/hello', '--timeout=60s'], { timeoutMs: 70_000 })).code).toBe(0);
      const forward = spawn('kubectl', ['port-forward', 'pod/hello', '0:8080'], { env: { ...process.env, KUBECONFIG: skiff.kubeconfig } });
      try {
        let forwarded = '';
        forward.stdout.on('data', (d) => (forwarded += String(d)));
        forward.stderr.on('data', (d) => (forwarded += String(d)));
        const local = await eventually('port-forward listening', async () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(forwarded)?.[1]);
        expect(await (await fetch(`http://127.0.0.1:${local}/`)).text()).toBe('hello from hello');
      } finally {
        forward.kill('SIGINT');
      }

      // Pods reach the API as `kubernetes.default.svc`: the Service's address, served by the relay
      // with a certificate the cluster CA signed for that name.
      const endpoints = await skiff.kubectl(['get', 'endpoints', 'kubernetes', '-o', 'jsonpath={.subsets[0].ports[0].port}']);
      expect(Number(endpoints.stdout)).toBeGreaterThan(0);
      const kubeconfig = parseYaml(readFileSync(skiff.kubeconfig, 'utf8'));
      const version = await new Promise<{ status?: number; body: string }>((done, fail) => {
        const req = request(
          {
            host: `${skiff.servicePrefix}.1`,
            port: 443,
            path: '/version',
            servername: 'kubernetes.default.svc',
            ca: Buffer.from(kubeconfig.clusters[0].cluster['certificate-authority-data'], 'base64'),
            headers: { authorization: `Bearer ${kubeconfig.users[0].user.token}` },
          },
          (res) => {
            let body = '';
            res.on('data', (d) => (body += String(d)));
            res.on('end', () => done({ status: res.statusCode, body }));
          },
        );
        req.on('error', fail);
        req.end();
      });
      expect(version.status).toBe(200);
      expect(JSON.parse(version.body).major).toBe('1');

      // The dashboard in a browser, signed in with the link `skiff dashboard --store` makes (the
      // shape's tokens are in its table). Its watches are WebSockets: the front's router sends
      // each handshake to the relay, so none holds a function environment, and none falls back
      // to a streamed watch through the Function URL.
      await usesTheDashboard(skiff.output(), join(dir, 'data'));
      // No request failed in the front's router (a wall-clock limit on it once failed a lease
      // renewal and a dashboard's watch now and then).
      expect(skiff.output()).not.toContain('FunctionExecutionError');
    } finally {
      expect(await skiff.stop()).toBe(0);
    }
    expect(skiff.output()).toMatch(/stopped\n/);
  }, 600_000);
});

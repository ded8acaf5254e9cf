/**
 * Services carry traffic: `skiff up` with two local kubelets (process runtime), a Deployment of
 * web servers with a readiness probe, `kubectl expose --port 80 --target-port 8080`, and plain
 * HTTP to the ClusterIP from this machine reaches every replica through the kubelets' node
 * proxy; a pod that fails its readiness probe gets no more requests; a later pod reads
 * `WEB_SERVICE_HOST`; the `kubernetes` Service reaches the API; a NodePort answers on a node's
 * address, and a LoadBalancer on each node's; UDP reaches every replica; an Ingress of two hosts
 * routes by host and path, over HTTPS with its Secret's certificate; 1,000 requests during `kubectl
 * rollout restart` all succeed.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTls } from '../../functions/api/tls.js';
import { nodeServers } from '../support/manifests.js';
import { eventually, type SkiffUp, startSkiffUp } from '../support/skiff-up.js';
import { until } from '../support/until.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-traffic-'));
let skiff: SkiffUp;

/** kubectl against the cluster, its output; a non-zero exit is an error with its stderr. */
async function kubectlOk(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string> {
  const r = await skiff.kubectl(args, options);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Each replica answers with its pod's name; it turns unready when /tmp/<pod>-unready exists. On
 * SIGTERM it serves on for two seconds (the proxies meanwhile stop sending it new connections),
 * then stops taking connections and finishes those it has, as a server meant for rolling updates
 * does.
 */
const SERVER = [
  'const fs = require("fs"); const name = process.env.POD_NAME;',
  'const server = require("http").createServer((q, s) => {',
  '  if (q.url === "/ready" && fs.existsSync("/tmp/" + name + "-unready")) { s.statusCode = 503; return s.end("no"); }',
  '  s.end(name);',
  '}).listen(8080, process.env.POD_IP);',
  // An upgrade is answered 101, then the connection echoes: what a WebSocket server does, in short.
  'server.on("upgrade", (q, c) => { c.write("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: echo\\r\\nConnection: Upgrade\\r\\n\\r\\n" + name + "\\n"); c.pipe(c); });',
  // As a preStop sleep does: serving on for a while after SIGTERM, until every proxy has learnt the
  // pod is going (a connection still queued when the listener closes is reset, in Kubernetes too).
  'process.on("SIGTERM", () => setTimeout(() => { server.close(); setTimeout(() => process.exit(0), 1000).unref(); }, 2000));',
].join(' ');

const deployment = nodeServers('web', SERVER, {
  replicas: 3,
  strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
  readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
});

/** One GET, with its body, or the error it ended in. */
function get(host: string, port: number): Promise<{ ok: boolean; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ ok: res.statusCode === 200, body }));
      res.on('error', (err) => resolve({ ok: false, body: String(err) }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ ok: false, body: String(err) }));
    req.end();
  });
}

beforeAll(async () => {
  skiff = await startSkiffUp(join(dir, 'data'), [
    '--nodes',
    '2',
    '--runtime',
    'process',
    '--lease-interval-ms',
    '1000',
    '--ingress-http-port',
    '0',
    '--ingress-https-port',
    '0',
  ]);
  await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
  await kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
}, 180_000);
afterAll(async () => {
  await skiff?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const podNames = async () => (await kubectlOk(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/).sort();

describe('Services that carry traffic', () => {
  let clusterIP: string;

  it('answers on the ClusterIP from every ready replica', async () => {
    expect((await kubectlOk(['expose', 'deployment', 'web', '--port=80', '--target-port=8080'])).trim()).toBe('service/web exposed');
    clusterIP = (await kubectlOk(['get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(clusterIP.startsWith(`${skiff.servicePrefix}.`)).toBe(true);
    const pods = await podNames();
    const seen = await eventually(
      'every replica answering',
      async () => {
        const answers = new Set<string>();
        for (let i = 0; i < 30; i++) {
          const r = await get(clusterIP, 80);
          if (r.ok) answers.add(r.body);
        }
        return answers.size === 3 && answers;
      },
      30_000,
    );
    expect([...seen].sort()).toEqual(pods);
  }, 60_000);

  it('stops sending to a replica that fails its readiness probe', async () => {
    const [victim] = await podNames();
    // The process runtime's containers share this machine's /tmp: the file turns the probe.
    writeFileSync(`/tmp/${victim}-unready`, '');
    const started = Date.now();
    await eventually(
      'the unready replica out of rotation',
      async () => {
        for (let i = 0; i < 12; i++) if ((await get(clusterIP, 80)).body === victim) return false;
        return true;
      },
      20_000,
    );
    // The probe's period (1 s), the Ready condition, the slice and the proxy, all told.
    expect(Date.now() - started).toBeLessThan(10_000);
    rmSync(`/tmp/${victim}-unready`, { force: true });
    await eventually('back in rotation', async () => {
      for (let i = 0; i < 12; i++) if ((await get(clusterIP, 80)).body === victim) return true;
      return false;
    });
  }, 60_000);

  it('gives a pod started after the Service its variables (the process runtime shares the host resolver)', async () => {
    await kubectlOk([
      'run',
      'reader',
      '--image=node',
      '--restart=Never',
      '--command',
      '--',
      'sh',
      '-c',
      'echo "$WEB_SERVICE_HOST:$WEB_SERVICE_PORT $WEB_PORT"',
    ]);
    await eventually('the reader done', async () => (await kubectlOk(['get', 'pod', 'reader', '-o', 'jsonpath={.status.phase}'])).trim() === 'Succeeded');
    expect((await kubectlOk(['logs', 'reader'])).trim()).toBe(`${clusterIP}:80 tcp://${clusterIP}:80`);
  }, 60_000);

  it('has the kubernetes Service, which reaches the API through the proxy', async () => {
    const kubernetesIP = `${skiff.servicePrefix}.1`;
    expect(await kubectlOk(['get', 'svc', 'kubernetes'])).toMatch(
      new RegExp(`^kubernetes\\s+ClusterIP\\s+${kubernetesIP.replace(/\./g, '\\.')}\\s+<none>\\s+443/TCP\\s+`, 'm'),
    );
    const apiPort = new URL(skiff.output().match(/api\s+(https:\/\/\S+)/)?.[1] ?? '').port;
    expect(await kubectlOk(['get', 'endpoints', 'kubernetes', '-o', 'jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}'])).toBe(
      `127.0.0.1:${apiPort}`,
    );
    // As a pod's in-cluster client does: https://$KUBERNETES_SERVICE_HOST, trusting the cluster CA.
    const ca = readFileSync(join(dir, 'data', 'pki', 'ca.crt'));
    const version = await eventually('the API through the kubernetes Service', async () => {
      const answer = await new Promise<string | undefined>((resolve) => {
        const req = httpsRequest({ host: kubernetesIP, port: 443, path: '/version', ca, agent: false, timeout: 5000 }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
        });
        req.on('error', () => resolve(undefined));
        req.end();
      });
      return answer && JSON.parse(answer);
    });
    expect(version.gitVersion).toMatch(/^v1\./);
  }, 60_000);

  it('answers a NodePort on a node’s address', async () => {
    await kubectlOk(['expose', 'deployment', 'web', '--name=web-np', '--type=NodePort', '--port=80', '--target-port=8080']);
    const nodePort = Number((await kubectlOk(['get', 'svc', 'web-np', '-o', 'jsonpath={.spec.ports[0].nodePort}'])).trim());
    const address = (await kubectlOk(['get', 'node', 'local-0', '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}'])).trim();
    const r = await eventually('the NodePort answering', async () => {
      const answer = await get(address, nodePort);
      return answer.ok && answer;
    });
    expect((await podNames()).includes(r.body)).toBe(true);
  }, 60_000);

  it('gives a LoadBalancer the nodes’ addresses, where their proxies answer its port', async () => {
    await kubectlOk(['expose', 'deployment', 'web', '--name=web-lb', '--type=LoadBalancer', '--port=8089', '--target-port=8080']);
    const nodeIPs = (await kubectlOk(['get', 'nodes', '-o', 'jsonpath={.items[*].status.addresses[?(@.type=="InternalIP")].address}']))
      .trim()
      .split(/\s+/)
      .sort();
    const ingress = await eventually('the load balancer’s addresses', async () => {
      const ips = (await kubectlOk(['get', 'svc', 'web-lb', '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}'])).trim();
      return ips ? ips.split(/\s+/).sort() : undefined;
    });
    expect(ingress).toEqual(nodeIPs);
    expect(await kubectlOk(['get', 'svc', 'web-lb'])).toMatch(
      new RegExp(`^web-lb\\s+LoadBalancer\\s+127\\.96\\.\\S+\\s+${nodeIPs.join(',').replace(/\./g, '\\.')}\\s+8089:\\d+/TCP`, 'm'),
    );
    for (const ip of ingress) {
      const r = await eventually(`the load balancer answering on ${ip}`, async () => {
        const answer = await get(ip, 8089);
        return answer.ok && answer;
      });
      expect((await podNames()).includes(r.body)).toBe(true);
    }
  }, 60_000);

  it('proxies UDP too, a session per client', async () => {
    const echo =
      'const name = process.env.POD_NAME; const s = require("dgram").createSocket("udp4"); s.on("message", (m, r) => s.send(name + ":" + m, r.port, r.address)); s.bind(5300, process.env.POD_IP);';
    const manifest = nodeServers('echo', echo, { replicas: 2, readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 } });
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    await kubectlOk(['rollout', 'status', 'deployment/echo', '--timeout=60s'], { timeoutMs: 70_000 });
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo' },
      spec: { selector: { app: 'echo' }, ports: [{ port: 5300, protocol: 'UDP' }] },
    };
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(service) });
    const ip = (await kubectlOk(['get', 'svc', 'echo', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const ask = (text: string) =>
      new Promise<string | undefined>((resolve) => {
        const socket = createSocket('udp4');
        const timer = setTimeout(() => {
          socket.close();
          resolve(undefined);
        }, 1000);
        socket.on('message', (m) => {
          clearTimeout(timer);
          socket.close();
          resolve(String(m));
        });
        socket.send(text, 5300, ip);
      });
    const echoes = await eventually('both replicas echoing', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const answer = await ask(`hello-${i}`);
        if (answer?.endsWith(`:hello-${i}`)) seen.add(answer.split(':')[0]);
      }
      return seen.size === 2 && seen;
    });
    const pods = (await kubectlOk(['get', 'pods', '-l', 'app=echo', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/).sort();
    expect([...echoes].sort()).toEqual(pods);
  }, 90_000);

  it('routes an Ingress of two hosts, by host and path, over HTTP and over HTTPS with the Secret’s certificate by SNI', async () => {
    const [, httpPort, httpsPort] = /ingress\s+http:\/\/127\.0\.0\.1:(\d+), https:\/\/127\.0\.0\.1:(\d+)/.exec(skiff.output()) ?? [];
    expect(httpPort).toBeDefined();
    await kubectlOk(['apply', '-f', '-'], {
      input: JSON.stringify(nodeServers('other', SERVER, { replicas: 1, readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } })),
    });
    await kubectlOk(['rollout', 'status', 'deployment/other', '--timeout=60s'], { timeoutMs: 70_000 });
    await kubectlOk(['expose', 'deployment', 'other', '--port=80', '--target-port=8080']);
    // A certificate of their own for the two hosts (a CA of the test's making).
    const certs = ensureTls(join(dir, 'example-tls'), { dns: ['web.example.com', 'other.example.com'] });
    writeFileSync(join(dir, 'tls.crt'), certs.cert);
    writeFileSync(join(dir, 'tls.key'), certs.key);
    await kubectlOk(['create', 'secret', 'tls', 'example-tls', `--cert=${join(dir, 'tls.crt')}`, `--key=${join(dir, 'tls.key')}`]);
    const backend = (name: string) => ({ service: { name, port: { number: 80 } } });
    const ingress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'sites' },
      spec: {
        tls: [{ hosts: ['web.example.com', 'other.example.com'], secretName: 'example-tls' }],
        rules: [
          { host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('web') }] } },
          { host: 'other.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: backend('other') }] } },
        ],
      },
    };
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(ingress) });
    const ask = (host: string, path: string, tls = false) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const options = { host: '127.0.0.1', port: Number(tls ? httpsPort : httpPort), path, headers: { host }, agent: false };
        const done = (res: import('node:http').IncomingMessage) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        };
        const req = tls ? httpsRequest({ ...options, servername: host, ca: readFileSync(join(dir, 'example-tls', 'ca.crt')) }, done) : request(options, done);
        req.on('error', reject);
        req.end();
      });
    const web = await eventually('the web host routed', async () => {
      const r = await ask('web.example.com', '/');
      return r.status === 200 && r;
    });
    expect(web.body).toMatch(/^web-/);
    expect((await ask('other.example.com', '/api/items')).body).toMatch(/^other-/);
    expect((await ask('other.example.com', '/apix')).status).toBe(404);
    expect((await ask('other.example.com', '/')).status).toBe(404);
    expect((await ask('nobody.example.com', '/')).status).toBe(404);
    // HTTPS: the Secret's certificate, checked against the test's CA for the name asked.
    expect((await ask('other.example.com', '/api', true)).body).toMatch(/^other-/);
    expect((await ask('web.example.com', '/', true)).body).toMatch(/^web-/);
    // The imperative way (kubectl sends it as protobuf): a wildcard path to one Service.
    expect((await kubectlOk(['create', 'ingress', 'quick', '--rule=quick.example.com/*=web:80'])).trim()).toBe('ingress.networking.k8s.io/quick created');
    expect((await kubectlOk(['get', 'ingress', 'quick', '-o', 'jsonpath={.spec.rules[0].http.paths[0].pathType}'])).trim()).toBe('Prefix');
    const quick = await eventually('the quick host routed', async () => {
      const r = await ask('quick.example.com', '/any/thing');
      return r.status === 200 && r;
    });
    expect(quick.body).toMatch(/^web-/);
    // An upgraded connection (a WebSocket's) is passed through both ways.
    const upgraded = connect(Number(httpPort), '127.0.0.1');
    let echoed = '';
    upgraded.on('data', (d) => (echoed += String(d)));
    upgraded.write('GET /chat HTTP/1.1\r\nHost: web.example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    await until('the upgrade answered', async () => /^HTTP\/1\.1 101 [\s\S]*\r\n\r\nweb-\S+\n$/.test(echoed), 10_000, 20);
    upgraded.write('ping\n');
    await until('the echo', async () => echoed.endsWith('\nping\n'), 10_000, 20);
    upgraded.destroy();
    const address = await eventually('the Ingress’s address', async () =>
      (await kubectlOk(['get', 'ingress', 'sites', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim(),
    );
    expect(address).toBe('127.0.0.1');
    expect(await kubectlOk(['get', 'ingress', 'sites'])).toMatch(/^sites\s+<none>\s+web\.example\.com,other\.example\.com\s+127\.0\.0\.1\s+80, 443\s+/m);
  }, 90_000);

  it('loses no request of 1,000 or more during a rolling restart', async () => {
    const before = await podNames();
    await kubectlOk(['rollout', 'restart', 'deployment/web']);
    let done = false;
    const rolledOut = kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=120s'], { timeoutMs: 130_000 }).finally(() => (done = true));
    let sent = 0;
    const errors: string[] = [];
    const answered = new Set<string>();
    // Until the rollout is over, and at least 1,000.
    while (!done || sent < 1000) {
      const r = await get(clusterIP, 80);
      sent++;
      if (r.ok) answered.add(r.body);
      else errors.push(r.body);
    }
    await rolledOut;
    expect(errors, errors.slice(0, 5).join('\n')).toEqual([]);
    // Old pods answered, then new ones: the traffic really moved during the loop. (The old ones
    // take their time to go: they serve on a while after SIGTERM.)
    const after = await eventually('the old pods gone', async () => {
      const now = await podNames();
      return !now.some((p) => before.includes(p)) && now;
    });
    expect([...answered].some((p) => before.includes(p))).toBe(true);
    expect([...answered].some((p) => after.includes(p))).toBe(true);
  }, 200_000);
});

/**
 * The API reaches a kubelet (for `kubectl logs`) only with that node's own credential, and
 * only for nodes it holds one for: a Node written by hand and pointed anywhere gets no call and
 * no token (the log proxy's SSRF, closed). A Node's addresses, where the API reaches its
 * kubelet, are changed by that node alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeletLogs } from '../../functions/api/kubelet-logs.js';
import { ensureTls, issueKubeletCert } from '../../functions/api/tls.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
let listener: Server;
let port: number;
const calls: { url: string; headers: IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  listener = createServer((req, res) => {
    calls.push({ url: req.url ?? '', headers: req.headers });
    res.end('a line of log\n');
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as AddressInfo).port;
  const store = openSqliteStore({ path: ':memory:' });
  // Only node "trusted" was started by this cluster: only it has a credential.
  cluster = await startTestCluster({ store, logs: kubeletLogs(store, (node) => (node === 'trusted' ? 'credential-of-trusted' : undefined)) });
});
afterAll(async () => {
  await cluster?.stop();
  await new Promise((r) => listener?.close(r));
});

const json = (o: unknown) => JSON.stringify(o);

async function nodeAndPod(node: string) {
  const object = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node },
    status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } },
  };
  expect((await cluster.api('/api/v1/nodes', { method: 'POST', body: json(object), headers: { 'content-type': 'application/json' } })).status).toBe(201);
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `on-${node}` }, spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }] } };
  expect(
    (await cluster.api('/api/v1/namespaces/default/pods', { method: 'POST', body: json(pod), headers: { 'content-type': 'application/json' } })).status,
  ).toBe(201);
}

describe('the API and the kubelets', () => {
  it('calls a kubelet with its own node credential', async () => {
    await nodeAndPod('trusted');
    const r = await cluster.api('/api/v1/namespaces/default/pods/on-trusted/log');
    expect(r.status, r.text).toBe(200);
    expect(calls).toHaveLength(1);
    expect(calls[0].headers.authorization).toBe('Bearer credential-of-trusted');
  });

  it('does not call a Node it holds no credential for, wherever it points', async () => {
    await nodeAndPod('hand-made');
    const r = await cluster.api('/api/v1/namespaces/default/pods/on-hand-made/log');
    expect(r.status).toBe(400);
    expect(r.json().message).toBe('the kubelet of node hand-made is not one this cluster started: no credential to reach it');
    expect(calls).toHaveLength(1);
  });

  it("a Node's addresses are changed by that node alone", async () => {
    const move = await cluster.api('/api/v1/nodes/trusted/status', {
      method: 'PATCH',
      body: json({ status: { addresses: [{ type: 'InternalIP', address: '169.254.169.254' }] } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(move.status).toBe(403);
    expect(move.json().message).toBe('nodes "trusted" is forbidden: only node "trusted" may change its addresses and kubelet endpoint');
    // Other changes by an admin stay allowed.
    expect((await cluster.kubectl(['label', 'node', 'trusted', 'tier=gold'])).code).toBe(0);
    const trusted = cluster.server.issueToken('system:node:trusted', ['system:nodes']);
    const own = await cluster.api('/api/v1/nodes/trusted/status', {
      method: 'PATCH',
      token: trusted,
      body: json({ status: { addresses: [{ type: 'InternalIP', address: '127.0.0.2' }] } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(own.status, own.text).toBe(200);
  });
});

describe('TLS to the kubelets, pinned to the cluster CA', () => {
  let pinned: TestCluster;
  let dir: string;
  const servers: Server[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-kubelet-tls-'));
    const store = openSqliteStore({ path: ':memory:' });
    const dataDir = join(dir, 'data');
    pinned = await startTestCluster({ store, dataDir, logs: kubeletLogs(store, () => 'credential', { caFile: join(dataDir, 'pki', 'ca.crt') }) });
  });
  afterAll(async () => {
    await pinned?.stop();
    for (const s of servers) await new Promise((r) => s.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A kubelet stand-in serving `tls` (or plain HTTP), and a Node and a pod pointing at it. */
  async function kubeletAt(node: string, tls?: { cert: string; key: string }): Promise<string> {
    const handler = (_req: unknown, res: { end(text: string): void }) => res.end(`served by ${node}\n`);
    const server = tls ? createHttpsServer(tls, handler) : createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const object = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: node },
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: (server.address() as AddressInfo).port } },
      },
    };
    const post = (path: string, body: unknown) => pinned.api(path, { method: 'POST', body: json(body), headers: { 'content-type': 'application/json' } });
    expect((await post('/api/v1/nodes', object)).status).toBe(201);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `on-${node}` }, spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }] } };
    expect((await post('/api/v1/namespaces/default/pods', pod)).status).toBe(201);
    return `/api/v1/namespaces/default/pods/on-${node}/log`;
  }

  it('reaches a kubelet whose certificate the cluster CA signed for its address', async () => {
    const r = await pinned.api(await kubeletAt('signed', issueKubeletCert(join(dir, 'data', 'pki'), 'signed', ['127.0.0.1'])));
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('served by signed\n');
  });

  it('refuses a kubelet with a certificate of another CA, and one serving plain HTTP', async () => {
    const other = ensureTls(join(dir, 'other-pki'));
    const impostor = await pinned.api(await kubeletAt('impostor', { cert: other.cert, key: other.key }));
    expect(impostor.status).toBe(400);
    expect(impostor.json().message).toMatch(/^the kubelet of node impostor did not answer: .*certificate/);
    const plain = await pinned.api(await kubeletAt('plain'));
    expect(plain.status).toBe(400);
    expect(plain.json().message).toMatch(/^the kubelet of node plain did not answer/);
  });
});

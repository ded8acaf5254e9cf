/**
 * Watches over WebSocket on the embedded API, as kube-apiserver serves them (what the dashboard
 * uses: a browser holds six HTTP/1.1 connections to a host, a streamed watch holds one, and a
 * WebSocket does not count): a collection's GET with `watch=true` upgraded, each event one
 * message (`binary.k8s.io`: its JSON as a binary message; `base64.binary.k8s.io`: base64 text),
 * the token as a header or as a browser sends it (the bearer subprotocol); the same
 * authentication and authorization as any watch, a refusal answered as its Status; the watch's
 * timeout closes the socket, and the client closing it ends the watch. Embedded only: a Function
 * URL takes no upgrade, and the dashboard watches over streamed responses there.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(() => cluster?.stop());

const wsUrl = (path: string) => cluster.server.url.replace(/^https/, 'wss') + path;

interface Watched {
  ws: WebSocket;
  events: { type: string; object: { metadata: { name: string; resourceVersion: string } } }[];
  closed: Promise<number>;
}

/** A watch over WebSocket at `path`; resolves once open with what it receives, decoded. */
function watch(path: string, protocols: string[], headers: Record<string, string> = {}): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path), protocols, { ca: cluster.server.caCert, headers });
    const events: Watched['events'] = [];
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('message', (data, binary) => {
      const text = binary ? (data as Buffer).toString('utf8') : Buffer.from(String(data), 'base64').toString('utf8');
      events.push(JSON.parse(text));
    });
    ws.on('open', () => resolve({ ws, events, closed }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => reject(Object.assign(new Error(`refused: ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body) })));
    });
    ws.on('error', reject);
  });
}

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const configMap = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: '1' } });

it('sends each event as one binary message, from a resourceVersion, with the token as a header', async () => {
  const list = (await cluster.api('/api/v1/namespaces/default/configmaps')).json();
  const w = await watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${list.metadata.resourceVersion}`, ['binary.k8s.io'], {
    authorization: `Bearer ${cluster.server.adminToken}`,
  });
  expect(w.ws.protocol).toBe('binary.k8s.io');
  expect((await cluster.api('/api/v1/namespaces/default/configmaps', { method: 'POST', body: configMap('one') })).status).toBe(201);
  await cluster.api('/api/v1/namespaces/default/configmaps/one', { method: 'DELETE' });
  await until(() => w.events.length >= 2, 'two events');
  expect(w.events.map((e) => [e.type, e.object.metadata.name])).toEqual([
    ['ADDED', 'one'],
    ['DELETED', 'one'],
  ]);
  w.ws.close();
  expect(await w.closed).toBe(1005);
});

it('takes a browser’s token as the bearer subprotocol, sends base64 text when asked, and closes at the timeout', async () => {
  const token = Buffer.from(cluster.server.adminToken).toString('base64url');
  expect((await cluster.api('/api/v1/namespaces/default/configmaps', { method: 'POST', body: configMap('two') })).status).toBe(201);
  const w = await watch('/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1', [
    'base64.binary.k8s.io',
    `base64url.bearer.authorization.k8s.io.${token}`,
  ]);
  expect(w.ws.protocol).toBe('base64.binary.k8s.io');
  // No resourceVersion: the current state first, as ADDED events.
  await until(() => w.events.some((e) => e.object.metadata.name === 'two'), 'the ConfigMap as it is');
  expect(w.events.find((e) => e.object.metadata.name === 'two')?.type).toBe('ADDED');
  expect(await w.closed).toBe(1000);
});

it('refuses as any watch is refused: no token 401, a user who may not watch 403, a bad version 400; nothing but watches upgraded', async () => {
  await expect(watch('/api/v1/namespaces/default/configmaps?watch=true', ['binary.k8s.io'])).rejects.toMatchObject({ status: 401 });
  const nobody = cluster.server.issueToken('nobody', []);
  await expect(watch('/api/v1/namespaces/default/configmaps?watch=true', ['binary.k8s.io'], { authorization: `Bearer ${nobody}` })).rejects.toMatchObject({
    status: 403,
    body: { reason: 'Forbidden', message: expect.stringContaining('cannot watch resource "configmaps"') },
  });
  const admin = { authorization: `Bearer ${cluster.server.adminToken}` };
  await expect(watch('/api/v1/namespaces/default/configmaps?watch=true&labelSelector=a%3D%3D%3D', ['binary.k8s.io'], admin)).rejects.toMatchObject({
    status: 400,
  });
  await expect(watch('/api/v1/namespaces/default/configmaps', ['binary.k8s.io'], admin)).rejects.toMatchObject({
    status: 400,
    body: { message: expect.stringContaining('is not served as an upgraded connection') },
  });
});

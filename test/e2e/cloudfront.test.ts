/**
 * The CloudFront emulator (emulators/cloudfront.ts), the AWS shape's front: requests go to the
 * origin their path's behaviour names (the query string plays no part), the origin sees its own
 * host, a WebSocket passes through both ways and another upgrade is refused, an origin silent
 * past the response timeout is cut off, and an API watch that would be silent that long stays
 * open through it with the API's keep-alive newlines.
 */
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { type CloudFront, pathPattern, startCloudFront } from '../../emulators/cloudfront.js';
import { ensureTls, type TlsMaterial } from '../../functions/api/tls.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-cloudfront-'));
let tls: TlsMaterial;
let origins: Server[] = [];
let front: CloudFront;

/** An origin that answers with what it was sent, says nothing on /silent, and falls silent mid-answer on /pause. */
async function origin(name: string): Promise<{ url: string; server: Server }> {
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    if (req.url === '/silent') return;
    if (req.url === '/pause') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('begun');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ origin: name, url: req.url, host: req.headers.host, token: req.headers.authorization }));
  });
  // A WebSocket echo, written by hand: the emulator passes the bytes as they are.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const ws = new WebSocketServer({ noServer: true });
    ws.handleUpgrade(req, socket, Buffer.alloc(0), (client) => client.on('message', (m) => client.send(`${name}: ${m}`)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  origins.push(server);
  return { url: `https://localhost:${(server.address() as AddressInfo).port}`, server };
}

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(`${front.url}${path}`, { ca: tls.caCert, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, body, error: err.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, error: 'aborted' }));
    });
    req.on('error', (err) => resolve({ status: 0, body: '', error: err.message }));
    req.end();
  });
}

beforeAll(async () => {
  tls = ensureTls(join(dir, 'pki'));
  const api = await origin('api');
  const relay = await origin('relay');
  front = await startCloudFront({
    tls,
    behaviours: [{ pathPattern: '/api/v1/namespaces/*/pods/*/exec', origin: { url: relay.url, ca: tls.caCert } }],
    defaultOrigin: { url: api.url, ca: tls.caCert },
    originResponseTimeoutSeconds: 1,
  });
});
afterAll(async () => {
  await front?.close();
  for (const s of origins) {
    s.closeAllConnections();
    s.close();
  }
  origins = [];
  rmSync(dir, { recursive: true, force: true });
});

describe('the CloudFront emulator', () => {
  it('matches path patterns as CloudFront does: * across slashes, ? for one character, the whole path', () => {
    expect(pathPattern('/api/v1/namespaces/*/pods/*/exec').test('/api/v1/namespaces/a/pods/b/exec')).toBe(true);
    expect(pathPattern('/api/v1/namespaces/*/pods/*/exec').test('/api/v1/namespaces/a/b/pods/c/exec')).toBe(true);
    expect(pathPattern('/api/v1/namespaces/*/pods/*/exec').test('/api/v1/namespaces/a/pods/b/exec/more')).toBe(false);
    expect(pathPattern('/img?.png').test('/img1.png')).toBe(true);
    expect(pathPattern('/img?.png').test('/img12.png')).toBe(false);
    expect(pathPattern('/a.b').test('/aXb')).toBe(false);
  });

  it('sends a request to its behaviour’s origin by path alone, with the origin’s host and the viewer’s headers', async () => {
    const exec = await get('/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true', { authorization: 'Bearer t' });
    expect(JSON.parse(exec.body)).toMatchObject({ origin: 'relay', url: '/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true', token: 'Bearer t' });
    expect(JSON.parse(exec.body).host).toMatch(/^localhost:\d+$/);
    const list = await get('/api/v1/namespaces/default/pods?exec=/pods/x/exec');
    expect(JSON.parse(list.body).origin).toBe('api');
    expect((await get(`/${'a'.repeat(9000)}`)).status).toBe(414);
  });

  it('passes a WebSocket through to the stream origin, and refuses another upgrade', async () => {
    const ws = new WebSocket(`${front.url.replace('https', 'wss')}/api/v1/namespaces/default/pods/web/exec?command=sh`, { ca: tls.caCert });
    const answer = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hello'));
      ws.on('message', (m) => resolve(String(m)));
      ws.on('error', reject);
    });
    ws.close();
    expect(answer).toBe('relay: hello');
    const spdy = await new Promise<string>((resolve) => {
      const req = request(`${front.url}/api/v1/namespaces/default/pods/web/exec`, {
        method: 'POST',
        ca: tls.caCert,
        headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1' },
        agent: false,
      });
      req.on('response', (res) => resolve(String(res.statusCode)));
      req.on('upgrade', () => resolve('upgraded'));
      req.on('error', (err) => resolve(err.message));
      req.end();
    });
    expect(spdy).toBe('400');
  });

  it('cuts off an origin that answers nothing (504) or falls silent mid-answer, after the response timeout', async () => {
    const started = Date.now();
    const silent = await get('/silent');
    expect(silent.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const paused = await get('/pause');
    expect(paused.body).toBe('begun');
    expect(paused.error).toBeDefined();
  });
});

describe('an API watch behind the front', () => {
  let cluster: TestCluster;
  let apiFront: CloudFront;
  beforeAll(async () => {
    cluster = await startTestCluster({ store: openSqliteStore({ path: join(dir, 'watch.db') }), watchKeepAliveMs: 300 });
    apiFront = await startCloudFront({
      tls,
      behaviours: [],
      defaultOrigin: { url: cluster.server.url, ca: cluster.server.caCert },
      originResponseTimeoutSeconds: 1,
    });
  });
  afterAll(async () => {
    await apiFront?.close();
    await cluster?.stop();
  });

  it('stays open through a quiet spell longer than the response timeout, with newlines only, and then sees the event', async () => {
    const rv = (await cluster.api('/api/v1/namespaces/default/configmaps')).json().metadata.resourceVersion;
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${apiFront.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}`,
        { ca: tls.caCert, headers: { authorization: `Bearer ${cluster.server.adminToken}` }, agent: false },
        (res) => {
          let body = '';
          res.on('data', (d) => {
            body += String(d);
            if (body.includes('"ADDED"')) {
              req.destroy();
              resolve(body);
            }
          });
          res.on('end', () => reject(new Error(`the watch ended: ${body}`)));
          res.on('aborted', () => reject(new Error(`the watch was cut: ${body}`)));
        },
      );
      req.on('error', reject);
      req.end();
      setTimeout(
        () =>
          void cluster.api('/api/v1/namespaces/default/configmaps', {
            method: 'POST',
            body: JSON.stringify({ metadata: { name: 'late' } }),
            headers: { 'content-type': 'application/json' },
          }),
        3000,
      );
    });
    const [quiet, event] = [text.slice(0, text.indexOf('{')), text.slice(text.indexOf('{'))];
    expect(quiet).toMatch(/^\n{3,}$/);
    expect(JSON.parse(event.trim())).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'late' } } });
  });
});

/**
 * The CloudFront emulator (emulators/cloudfront.ts), the AWS shape's front: requests go to the
 * origin their path's behaviour names (the query string plays no part), the origin sees its own
 * host, a WebSocket passes through both ways and another upgrade is refused, an origin silent
 * past the response timeout is cut off, and an API watch that would be silent that long stays
 * open through it with the API's keep-alive newlines. Viewer-request functions: the AWS shape's
 * router (infra/front-router.js) sends a WebSocket handshake to the relay whatever its path; a
 * function sees the request as CloudFront shows it, changes it, answers it, picks another origin,
 * and fails with 503.
 */
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
/** A front whose default behaviour runs a viewer-request function: the AWS shape's own, or the test's below. */
let routed: CloudFront;
let tried: CloudFront;

/** A function that does what CloudFront lets one do, by the path it is asked. */
const TRYING = `import cf from 'cloudfront';
async function handler(event) {
  const r = event.request;
  if (r.uri === '/seen') {
    const seen = { headers: Object.keys(r.headers).sort(), cookies: r.cookies, querystring: r.querystring, type: event.context.eventType, ip: event.viewer.ip };
    return { statusCode: 418, statusDescription: 'Teapot', headers: { 'content-type': { value: 'application/json' } }, body: JSON.stringify(seen) };
  }
  if (r.uri === '/throws') throw new Error('no');
  if (r.uri === '/loops') for (;;) {}
  if (r.uri === '/spins') {
    // 300 ms of work that ends: past the compute budget even when a loaded machine gives it half a core.
    const until = Date.now() + 300;
    while (Date.now() < until) {}
  }
  if (r.uri === '/waits') {
    // 200 ms without work, as a run the machine set aside for a while: no compute spent, no failure.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    cf.selectRequestOriginById('relay');
  }
  if (r.uri === '/nowhere') cf.selectRequestOriginById('nowhere');
  if (r.uri === '/relay') cf.selectRequestOriginById('relay');
  if (r.uri === '/late') {
    await null;
    cf.selectRequestOriginById('relay');
  }
  if (r.uri === '/rewritten') {
    r.uri = '/elsewhere';
    r.querystring.added = { value: 'yes' };
    r.headers['x-added'] = { value: '1' };
    r.headers.host = { value: 'changed.example' };
  }
  return r;
}`;

/** Opens a WebSocket through a front and says what answered it: the echo's name, or the refusal. */
function socketThrough(via: CloudFront, path: string): Promise<string> {
  const ws = new WebSocket(`${via.url.replace('https', 'wss')}${path}`, { ca: tls.caCert });
  return new Promise<string>((resolve) => {
    ws.on('open', () => ws.send('hello'));
    ws.on('message', (m) => {
      resolve(String(m));
      ws.close();
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(`refused ${res.statusCode}`);
      ws.terminate();
    });
    ws.on('error', (err) => resolve(err.message));
  });
}

/** An origin that answers with what it was sent, says nothing on /silent, and falls silent mid-answer on /pause. */
async function origin(name: string): Promise<{ url: string; server: Server }> {
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    if (req.url === '/silent') return;
    if (req.url === '/pause') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('begun');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        origin: name,
        url: req.url,
        host: req.headers.host,
        token: req.headers.authorization,
        added: req.headers['x-added'],
        cookie: req.headers.cookie,
      }),
    );
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

function get(path: string, headers: Record<string, string> = {}, via = front): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(`${via.url}${path}`, { ca: tls.caCert, headers, agent: false }, (res) => {
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
  const withIds = { api: { id: 'api', url: api.url, ca: tls.caCert }, relay: { id: 'relay', url: relay.url, ca: tls.caCert } };
  routed = await startCloudFront({
    tls,
    behaviours: [{ pathPattern: '/api/v1/namespaces/*/pods/*/exec', origin: withIds.relay }],
    defaultOrigin: withIds.api,
    defaultViewerRequest: readFileSync('infra/front-router.js', 'utf8'),
  });
  tried = await startCloudFront({ tls, behaviours: [], defaultOrigin: withIds.api, origins: [withIds.relay], defaultViewerRequest: TRYING });
});
afterAll(async () => {
  await front?.close();
  await routed?.close();
  await tried?.close();
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

describe('viewer-request functions in the CloudFront emulator', () => {
  it('the AWS shape’s router: a WebSocket handshake to the relay, whatever its path; the same path unupgraded to the API', async () => {
    expect(await socketThrough(routed, '/api/v1/namespaces/default/pods?watch=1')).toBe('relay: hello');
    expect(await socketThrough(routed, '/apis/apps/v1/deployments?watch=1&resourceVersion=5')).toBe('relay: hello');
    expect(JSON.parse((await get('/api/v1/namespaces/default/pods?watch=1', {}, routed)).body)).toMatchObject({
      origin: 'api',
      url: '/api/v1/namespaces/default/pods?watch=1',
    });
    // A stream's path goes to the relay by its behaviour, as before.
    expect(await socketThrough(routed, '/api/v1/namespaces/default/pods/web/exec?command=sh')).toBe('relay: hello');
  });

  it('shows a function the request as CloudFront does: no Upgrade or Connection, cookies apart, the query string parsed', async () => {
    const seen = await get('/seen?a=1&a=2&b=x%20y', { cookie: 'one=1; two=2', 'x-custom': 'c', 'proxy-authorization': 'secret' }, tried);
    expect(seen.status).toBe(418);
    const event = JSON.parse(seen.body);
    expect(event.type).toBe('viewer-request');
    expect(event.ip).toMatch(/127\.0\.0\.1/);
    expect(event.headers).toContain('x-custom');
    expect(event.headers).toContain('host');
    for (const hidden of ['connection', 'proxy-authorization', 'cookie']) expect(event.headers).not.toContain(hidden);
    expect(event.cookies).toEqual({ one: { value: '1' }, two: { value: '2' } });
    expect(event.querystring).toEqual({ a: { value: '1', multiValue: [{ value: '1' }, { value: '2' }] }, b: { value: 'x y' } });
    // Asked over a WebSocket handshake, the function sees it too, and its answer is the viewer's.
    expect(await socketThrough(tried, '/seen')).toBe('refused 418');
  });

  it('sends on what a function changed (not the headers it may only read), to the origin it selects', async () => {
    const rewritten = JSON.parse((await get('/rewritten?kept=1', { cookie: 'c=1' }, tried)).body);
    expect(rewritten).toMatchObject({ origin: 'api', url: '/elsewhere?kept=1&added=yes', added: '1', cookie: 'c=1' });
    expect(rewritten.host).toMatch(/^localhost:\d+$/);
    expect(JSON.parse((await get('/relay', {}, tried)).body).origin).toBe('relay');
    // Left alone, a query string goes on as the viewer wrote it.
    expect(JSON.parse((await get('/as-is?labelSelector=app%3Dweb&x=a+b', {}, tried)).body).url).toBe('/as-is?labelSelector=app%3Dweb&x=a+b');
  });

  it('answers 503 for a function that throws, runs past its compute budget or selects an origin the distribution lacks', async () => {
    // (and, in the emulator alone, one that selects an origin after its first await: whose request it is, it cannot tell)
    for (const path of ['/throws', '/loops', '/spins', '/nowhere', '/late']) {
      const failed = await get(path, {}, tried);
      expect(failed.status, path).toBe(503);
      expect(failed.body, path).toContain('FunctionExecutionError');
    }
    expect((await get('/after', {}, tried)).status).toBe(200);
    // The budget is compute, not the clock: a run held up without working goes on.
    const waited = await get('/waits', {}, tried);
    expect(waited.status).toBe(200);
    expect(JSON.parse(waited.body).origin).toBe('relay');
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

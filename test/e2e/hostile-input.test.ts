/**
 * Hostile input against a real server over HTTPS: every answer is the one kube-apiserver gives
 * (a 4xx Status, or success with a Warning), never a 500, a reset or a hang, and what is stored
 * does not change. The corpus is test/fixtures/hostile/: one file per input, and manifest.json
 * saying how each is sent and what it must get. Inputs too big to keep as files (bodies of
 * 10 and 100 MiB, megabytes of headers, lists of tens of thousands of items) are made here.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment } from '../support/manifests.js';
import { warningTexts } from '../support/warnings.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

interface HostileInput {
  file: string;
  method: string;
  path: string;
  contentType?: string;
  status: number;
  reason?: string;
  /** A substring of the Status message. */
  message?: string;
  /** A field one of the Status causes names. */
  field?: string;
  /** A warning text the Warning header must carry (decoded). */
  warning?: string;
  warningPrefix?: string;
  /** The file is a whole HTTP/1.1 request, sent as is on a TLS connection ({{TOKEN}} replaced). */
  raw?: boolean;
  why: string;
}

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/hostile');
const MANIFEST: HostileInput[] = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8'));
const CM = '/api/v1/namespaces/default/configmaps';
const DEP = '/apis/apps/v1/namespaces/default/deployments';

let cluster: TestCluster;
let keep: unknown;
let web: unknown;

beforeAll(async () => {
  cluster = await startTestCluster();
  const cm = await cluster.api(CM, {
    method: 'POST',
    body: JSON.stringify({ metadata: { name: 'keep', labels: { app: 'keep' } }, data: { k: 'v' } }),
    headers: { 'content-type': 'application/json' },
  });
  expect(cm.status).toBe(201);
  const dep = await cluster.api(DEP, { method: 'POST', body: JSON.stringify(deployment('web')), headers: { 'content-type': 'application/json' } });
  expect(dep.status).toBe(201);
  keep = (await cluster.api(`${CM}/keep`)).json();
  web = (await cluster.api(`${DEP}/web`)).json();
});

afterAll(async () => {
  await cluster?.stop();
});

async function expectNothingChanged(): Promise<void> {
  expect((await cluster.api(`${CM}/keep`)).json()).toEqual(keep);
  expect((await cluster.api(`${DEP}/web`)).json()).toEqual(web);
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes bytes on a TLS connection and reads one HTTP response (to its Content-Length). */
function rawRequest(bytes: string | Buffer, timeoutMs = 30_000): Promise<RawResponse> {
  const url = new URL(cluster.server.url);
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const socket = connect({ host: url.hostname, port: Number(url.port), ca: cluster.server.caCert, servername: 'localhost' }, () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer in ${timeoutMs} ms; got ${JSON.stringify(data.toString('latin1').slice(0, 300))}`));
    }, timeoutMs);
    const tryParse = () => {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length'] ?? NaN);
      const body = data.subarray(end + 4);
      if (Number.isNaN(length) || body.length < length) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: body.subarray(0, length).toString('utf8') });
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      tryParse();
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`connection error ${err.message}; got ${JSON.stringify(data.toString('latin1').slice(0, 300))}`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`closed before a complete answer; got ${JSON.stringify(data.toString('latin1').slice(0, 300))}`));
    });
  });
}

interface Upload {
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** Socket errors the client saw at any point, even after the answer (EPIPE, ECONNRESET). */
  errors: string[];
  /** Body bytes written before the connection ended. */
  sent: number;
}

/**
 * POSTs a body of `size` bytes on a raw TLS connection as a client that keeps sending would
 * (curl, or any client that does not read while it writes): with Content-Length or chunked, in
 * 64 KiB writes, pausing `paceMs` every MiB, whatever the server answers meanwhile. Resolves once
 * the connection is closed, with the answer and every error the client saw.
 */
function upload(size: number, options: { chunked?: boolean; paceMs?: number } = {}): Promise<Upload> {
  const url = new URL(cluster.server.url);
  return new Promise((resolve) => {
    const result: Upload = { headers: {}, body: '', errors: [], sent: 0 };
    let data = Buffer.alloc(0);
    let closed = false;
    const framing = options.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`;
    const head = `POST ${CM} HTTP/1.1\r\nHost: skiff\r\nAuthorization: Bearer ${cluster.server.adminToken}\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`;
    const socket = connect({ host: url.hostname, port: Number(url.port), ca: cluster.server.caCert, servername: 'localhost' }, () => {
      socket.write(head);
      void pump();
    });
    const timer = setTimeout(() => socket.destroy(new Error('upload timed out')), 120_000);
    socket.on('data', (chunk: Buffer) => (data = Buffer.concat([data, chunk])));
    socket.on('error', (err: NodeJS.ErrnoException) => result.errors.push(err.code ?? err.message));
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      const end = data.indexOf('\r\n\r\n');
      if (end >= 0) {
        const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
        result.status = Number(statusLine.split(' ')[1]);
        result.headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        result.body = data.subarray(end + 4, end + 4 + Number(result.headers['content-length'] ?? 0)).toString('utf8');
      }
      resolve(result);
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const frame = (bytes: Buffer) => (options.chunked ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]) : bytes);
    const pump = async () => {
      while (result.sent < size && !closed) {
        const n = Math.min(chunk.length, size - result.sent);
        socket.write(frame(chunk.subarray(0, n)));
        result.sent += n;
        if (options.paceMs && result.sent % (1024 * 1024) === 0) await new Promise((r) => setTimeout(r, options.paceMs));
        if (socket.writableNeedDrain) {
          await new Promise<void>((resolve) => {
            const go = () => {
              socket.off('drain', go).off('close', go);
              resolve();
            };
            socket.on('drain', go).on('close', go);
          });
        }
      }
      if (closed) return;
      if (options.chunked) socket.write('0\r\n\r\n');
      socket.end();
    };
  });
}

/** POSTs with Expect: 100-continue, sending the body only if the server asks for it. */
function uploadWithContinue(size: number): Promise<Upload> {
  return new Promise((resolve) => {
    const headers = {
      authorization: `Bearer ${cluster.server.adminToken}`,
      'content-type': 'application/json',
      'content-length': String(size),
      expect: '100-continue',
    };
    const result: Upload = { headers: {}, body: '', errors: [], sent: 0 };
    const req = request(`${cluster.server.url}${CM}`, { method: 'POST', headers, ca: cluster.server.caCert, agent: false }, (res) => {
      result.status = res.statusCode;
      res.on('data', (d: Buffer) => (result.body += d.toString('utf8')));
    });
    req.on('continue', () => {
      result.sent = size;
      req.end(Buffer.alloc(size, 0x20));
    });
    req.on('error', (err: NodeJS.ErrnoException) => result.errors.push(err.code ?? err.message));
    req.on('close', () => resolve(result));
    req.flushHeaders();
  });
}

function expectStatusBody(text: string, input: { status: number; reason?: string; message?: string; field?: string }) {
  const status = JSON.parse(text);
  expect(status).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: input.status });
  if (input.reason) expect(status.reason).toBe(input.reason);
  if (input.message) expect(status.message).toContain(input.message);
  if (input.field) expect(status.details?.causes?.map((c: { field?: string }) => c.field)).toContain(input.field);
  return status;
}

describe('the hostile-input corpus (test/fixtures/hostile)', () => {
  it('has a file for every entry and an entry for every file', async () => {
    const { readdirSync } = await import('node:fs');
    const files = readdirSync(FIXTURES)
      .filter((f) => f !== 'manifest.json')
      .sort();
    expect(MANIFEST.map((i) => i.file).sort()).toEqual(files);
  });

  it.each(MANIFEST.map((input) => [`${input.file}: ${input.why}`, input] as const))('%s', async (_name, input) => {
    const bytes = readFileSync(join(FIXTURES, input.file));
    let status: number;
    let text: string;
    let headers: Record<string, string | string[] | undefined>;
    if (input.raw) {
      const res = await rawRequest(bytes.toString('latin1').replaceAll('{{TOKEN}}', cluster.server.adminToken));
      ({ status, headers } = res);
      text = res.body;
      expect(res.headers['content-type']).toBe('application/json');
    } else {
      const res = await cluster.api(input.path, { method: input.method, body: bytes, headers: input.contentType ? { 'content-type': input.contentType } : {} });
      ({ status, headers, text } = res);
    }
    expect(status, text.slice(0, 500)).toBe(input.status);
    if (input.status >= 400) expectStatusBody(text, input);
    else expect(JSON.parse(text).kind).not.toBe('Status');
    if (input.warning !== undefined) expect(warningTexts(headers.warning)).toContain(input.warning);
    if (input.warningPrefix !== undefined) {
      const header = String(headers.warning);
      expect(header.length).toBeLessThan(8 * 1024);
      expect(warningTexts(header).length).toBeGreaterThan(0);
      for (const w of warningTexts(header)) expect(w.startsWith(input.warningPrefix)).toBe(true);
    }
    await expectNothingChanged();
  });
});

describe('bodies, URLs and headers past the limits, over real connections', () => {
  it('a declared 10 MiB body sent slowly: the client reads the 413, with no reset while it writes', async () => {
    const r = await upload(10 * 1024 * 1024, { paceMs: 100 });
    expect(r.errors).toEqual([]);
    expect(r.sent).toBe(10 * 1024 * 1024);
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe('close');
    expectStatusBody(r.body, { status: 413, reason: 'RequestEntityTooLarge', message: 'limit is 3145728' });
    await expectNothingChanged();
  });

  it('a declared 100 MiB body: 413, read by the client, no EPIPE', async () => {
    const r = await upload(100 * 1024 * 1024, { paceMs: 10 });
    expect(r.errors).toEqual([]);
    expect(r.sent).toBe(100 * 1024 * 1024);
    expect(r.status).toBe(413);
    expectStatusBody(r.body, { status: 413, reason: 'RequestEntityTooLarge' });
    await expectNothingChanged();
  }, 120_000);

  it('a chunked 10 MiB body (no Content-Length): 413 once past the limit, no reset', async () => {
    const r = await upload(10 * 1024 * 1024, { chunked: true, paceMs: 100 });
    expect(r.errors).toEqual([]);
    expect(r.sent).toBe(10 * 1024 * 1024);
    expect(r.status).toBe(413);
    expectStatusBody(r.body, { status: 413, reason: 'RequestEntityTooLarge' });
    await expectNothingChanged();
  });

  it('Expect: 100-continue with a declared 10 MiB body: 413 before the body is sent', async () => {
    const r = await uploadWithContinue(10 * 1024 * 1024);
    expect(r.status).toBe(413);
    expect(r.sent).toBe(0);
    expectStatusBody(r.body, { status: 413, reason: 'RequestEntityTooLarge' });
  });

  it('a URL of 32 KiB is served; one byte more is 414', async () => {
    const prefix = `${CM}/`;
    const at = (length: number) =>
      `GET ${prefix}${'a'.repeat(length - prefix.length)} HTTP/1.1\r\nHost: skiff\r\nAuthorization: Bearer ${cluster.server.adminToken}\r\n\r\n`;
    const ok = await rawRequest(at(32 * 1024));
    expect(ok.status).toBe(404);
    expectStatusBody(ok.body, { status: 404, reason: 'NotFound' });
    const tooLong = await rawRequest(at(32 * 1024 + 1));
    expectStatusBody(tooLong.body, { status: 414, reason: 'URITooLong', message: 'the limit is 32768' });
  });

  it('request headers over 1 MiB: 431 as a Status, not a bare reset', async () => {
    const filler = Array.from({ length: 48 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(32 * 1024)}\r\n`).join('');
    const r = await rawRequest(`GET /version HTTP/1.1\r\nHost: skiff\r\n${filler}\r\n`);
    expect(r.status).toBe(431);
    expectStatusBody(r.body, { status: 431, reason: 'RequestHeaderFieldsTooLarge' });
  });

  it('the Warning header carries the field name in UTF-8, as kube-apiserver sends it', async () => {
    const body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"wire"},"名前":1,"é\\u2028":2}';
    const r = await rawRequest(
      Buffer.concat([
        Buffer.from(
          `POST ${CM}?dryRun=All HTTP/1.1\r\nHost: skiff\r\nAuthorization: Bearer ${cluster.server.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
        ),
        Buffer.from(body),
      ]),
    );
    expect(r.status).toBe(201);
    // No control characters on the wire; the name's own UTF-8 bytes.
    expect(r.headers.warning).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(Buffer.from(r.headers.warning, 'latin1').toString('utf8')).toContain('名前');
    expect(warningTexts(r.headers.warning).sort()).toEqual(['unknown field "é\u2028"', 'unknown field "名前"']);
  });
});

describe('long lists and deep objects cost linear time, and the bounds are not too tight', () => {
  it('a strategic merge patch with 40,000 list items and $setElementOrder answers in seconds (was minutes)', async () => {
    const names = Array.from({ length: 40_000 }, (_, i) => `f${i}`);
    // The patch applies, then validation refuses it (a bad data key): 422, nothing stored.
    const patch = { metadata: { finalizers: names, '$setElementOrder/finalizers': [...names].reverse() }, data: { 'not a key!': 'x' } };
    const started = Date.now();
    const r = await cluster.api(`${CM}/keep`, {
      method: 'PATCH',
      body: JSON.stringify(patch),
      headers: { 'content-type': 'application/strategic-merge-patch+json' },
    });
    expect(r.status, r.text.slice(0, 300)).toBe(422);
    expect(Date.now() - started).toBeLessThan(20_000);
    await expectNothingChanged();
  });

  it('an update with 40,000 containers and a field manager answers in seconds (managed fields were quadratic)', async () => {
    const containers = Array.from({ length: 40_000 }, (_, i) => ({ name: `c${i}`, image: 'nginx' }));
    const started = Date.now();
    const r = await cluster.api(`${DEP}/web?dryRun=All&fieldManager=hostile`, {
      method: 'PATCH',
      body: JSON.stringify({ spec: { template: { spec: { containers } } } }),
      headers: { 'content-type': 'application/strategic-merge-patch+json' },
    });
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    expect(r.json().spec.template.spec.containers).toHaveLength(40_001);
    expect(Date.now() - started).toBeLessThan(30_000);
    await expectNothingChanged();
  }, 60_000);

  it('objects nested to the bound (500 levels) are still accepted, as JSON and as YAML', async () => {
    // Pod affinity is kept as written: the Pod, its spec, and 498 levels of affinity make 500.
    const nested = (depth: number): unknown => (depth === 0 ? 'x' : { n: nested(depth - 1) });
    const pod = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { containers: [{ name: 'c', image: 'nginx' }], affinity: nested(498) },
    });
    const asJson = await cluster.api('/api/v1/namespaces/default/pods', {
      method: 'POST',
      body: JSON.stringify(pod('deep-json')),
      headers: { 'content-type': 'application/json' },
    });
    expect(asJson.status, asJson.text.slice(0, 300)).toBe(201);
    const yaml = (await import('yaml')).stringify(pod('deep-yaml'));
    const asYaml = await cluster.api('/api/v1/namespaces/default/pods', { method: 'POST', body: yaml, headers: { 'content-type': 'application/yaml' } });
    expect(asYaml.status, asYaml.text.slice(0, 300)).toBe(201);
    const deeper = { ...pod('deeper'), spec: { ...pod('deeper').spec, affinity: nested(499) } };
    const refused = await cluster.api('/api/v1/namespaces/default/pods', {
      method: 'POST',
      body: JSON.stringify(deeper),
      headers: { 'content-type': 'application/json' },
    });
    expectStatusBody(refused.text, { status: 400, reason: 'BadRequest', message: 'nesting depth exceeds the limit of 500 levels' });
  });

  it('generateName: a valid prefix names the object, a long one is cut to 58 characters as Kubernetes does', async () => {
    const short = await cluster.api(CM, {
      method: 'POST',
      body: JSON.stringify({ metadata: { generateName: 'web-' } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(short.status).toBe(201);
    expect(short.json().metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
    const prefix = `${'p'.repeat(99)}-`;
    const long = await cluster.api(CM, {
      method: 'POST',
      body: JSON.stringify({ metadata: { generateName: prefix } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(long.status).toBe(201);
    expect(long.json().metadata.name).toMatch(new RegExp(`^${'p'.repeat(58)}[a-z0-9]{5}$`));
    expect(long.json().metadata.generateName).toBe(prefix);
  });
});

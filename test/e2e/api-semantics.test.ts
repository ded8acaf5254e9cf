/**
 * Where Skiff's API must answer exactly as kube-apiserver does, because clients depend on it:
 * query parameters, bodies byte for byte, unserved resources, paths that name nothing, list
 * resourceVersion rules, and watches (selectors, slow readers).
 */
import { request } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const CMS = '/api/v1/namespaces/default/configmaps';
const create = async (path: string, body: unknown) => {
  const res = await cluster.api(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  expect(res.status, res.text).toBe(201);
  return res.json();
};
const configMap = (name: string, data: Record<string, string> = {}, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels },
  data,
});

/** Opens a watch and collects its lines until `until` says stop (or the server ends it). */
function watchLines(path: string, until: (lines: string[]) => boolean, timeoutMs = 10_000): Promise<{ status: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request(cluster.server.url + path, { headers: { authorization: `Bearer ${cluster.server.adminToken}` }, ca: cluster.server.caCert }, (res) => {
      let text = '';
      const finish = () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, lines: text.split('\n').filter(Boolean) });
      };
      res.on('data', (d) => {
        text += String(d);
        if (until(text.split('\n').filter(Boolean))) finish();
      });
      res.on('end', finish);
    });
    const timer = setTimeout(() => reject(new Error(`watch ${path} timed out`)), timeoutMs);
    req.on('error', reject);
    req.end();
  });
}

describe('query parameters are read as kube-apiserver reads them', () => {
  it('a boolean is false when absent, 0 or false in any case, and true for any other value', async () => {
    await create(CMS, configMap('q1'));
    for (const value of ['True', '1', 'yes', '']) {
      const { lines } = await watchLines(`${CMS}?watch=${value}`, (l) => l.length >= 1);
      expect(JSON.parse(lines[0]).type, `watch=${value}`).toBe('ADDED');
    }
    for (const value of ['0', 'false', 'FALSE', 'False']) {
      const res = await cluster.api(`${CMS}?watch=${value}`);
      expect(res.json().kind, `watch=${value}`).toBe('ConfigMapList');
    }
  });

  it('an integer that does not parse is a 400', async () => {
    for (const q of ['limit=ten', 'limit=1.5', 'timeoutSeconds=x&watch=1']) {
      const res = await cluster.api(`${CMS}?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
    }
  });
});

describe('bodies and errors are encoded as kube-apiserver encodes them', () => {
  it('a Status has kube-apiserver field order, no group for the core group, and every JSON body ends with a newline', async () => {
    const res = await cluster.api(`${CMS}/absent`);
    expect(res.status).toBe(404);
    expect(res.text).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"absent\\" not found","reason":"NotFound","details":{"name":"absent","kind":"configmaps"},"code":404}\n',
    );
    const apps = await cluster.api('/apis/apps/v1/namespaces/default/deployments/absent');
    expect(Object.keys(apps.json().details)).toEqual(['name', 'group', 'kind']);
    for (const path of [CMS, `${CMS}?watch=0`, '/api/v1', '/version', '/apis', '/api/v1/namespaces/default']) {
      expect((await cluster.api(path)).text.endsWith('}\n'), path).toBe(true);
    }
  });

  it('a 422 lists its causes with reason, message and field', async () => {
    const res = await cluster.api(CMS, { method: 'POST', body: JSON.stringify(configMap('Bad_Name')), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(422);
    expect(Object.keys(res.json().details.causes[0])).toEqual(['reason', 'message', 'field']);
  });

  it('a resource Skiff does not serve is a 404 naming it, and kubectl says which', async () => {
    // A group no CRD has added: kube-apiserver's 404, naming the resource as client-go names it.
    const res = await cluster.api('/apis/widgets.example.com/v1/namespaces/default/widgets', {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(404);
    expect(res.json().message).toContain('(post widgets.widgets.example.com)');
    expect((await cluster.api('/api/v1/namespaces/default/widgets')).json().message).toContain('(get widgets)');
    for (const args of [['get', 'widgets']]) {
      const out = await cluster.kubectl(args);
      expect(out.code).not.toBe(0);
      expect(out.stderr).not.toContain('(namespaces)');
      expect(out.stderr).toMatch(/doesn't have a resource type "widgets"/);
    }
  });
});

describe('lists served from kept encodings', () => {
  it('a repeated list is the same body until the resource changes, and then shows the change', async () => {
    const ns = '/api/v1/namespaces/lists/configmaps';
    await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lists' } });
    await create(ns, configMap('a'));
    const first = await cluster.api(ns);
    expect((await cluster.api(ns)).text).toBe(first.text);
    // A change to another resource leaves the list as it was.
    await create('/api/v1/namespaces/lists/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } });
    expect((await cluster.api(ns)).text).toBe(first.text);
    await cluster.api(`${ns}/a`, { method: 'PATCH', body: '{"data":{"k":"v"}}', headers: { 'content-type': 'application/merge-patch+json' } });
    const after = (await cluster.api(ns)).json();
    expect(after.items[0].data).toEqual({ k: 'v' });
    await cluster.api(`${ns}/a`, { method: 'DELETE' });
    expect((await cluster.api(ns)).json().items).toEqual([]);
    // Selectors and limits are lists of their own.
    await create(ns, configMap('b', {}, { tier: 'x' }));
    await create(ns, configMap('c'));
    expect((await cluster.api(`${ns}?labelSelector=tier%3Dx`)).json().items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['b']);
    expect((await cluster.api(`${ns}?limit=1`)).json().items).toHaveLength(1);
    expect((await cluster.api(ns)).json().items).toHaveLength(2);
  });

  it('a large list is gzipped for a client that accepts gzip, as kube-apiserver does, and is the same JSON', async () => {
    const ns = '/api/v1/namespaces/biglist/configmaps';
    await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'biglist' } });
    for (let i = 0; i < 40; i++) await create(ns, configMap(`big-${i}`, { v: 'x'.repeat(4096) }));
    const plain = await cluster.api(ns);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text.length).toBeGreaterThan(128 * 1024);
    const zipped = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
      const req = request(
        cluster.server.url + ns,
        { headers: { authorization: `Bearer ${cluster.server.adminToken}`, 'accept-encoding': 'gzip' }, ca: cluster.server.caCert },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(zipped.encoding).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(plain.text.length / 4);
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(plain.text);
    // kubectl asks for gzip: it reads the list as ever.
    expect((await cluster.kubectlOk(['get', 'cm', '-n', 'biglist', '-o', 'name'])).trim().split('\n')).toHaveLength(40);
  });
});

describe('paths act only on what they name', () => {
  it('DELETE or POST on the all-namespaces path of a namespaced resource is 405, and deletes nothing', async () => {
    await create(CMS, configMap('keep-me'));
    for (const method of ['DELETE', 'POST']) {
      const res = await cluster.api('/api/v1/configmaps', {
        method,
        body: method === 'POST' ? JSON.stringify(configMap('x')) : undefined,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, method).toBe(405);
      expect(res.json().reason).toBe('MethodNotAllowed');
    }
    expect((await cluster.api(`${CMS}/keep-me`)).status).toBe(200);
  });

  it('a path segment of . or .. is a 400 and never reaches the namespace', async () => {
    await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 't2' } });
    const { hostname, port } = new URL(cluster.server.url);
    for (const segment of ['%2e%2e', '%2E%2E', '..', '%2e', '.']) {
      // Sent as written: a URL object would fold the dot segments before they leave the client.
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            hostname,
            port,
            path: `/api/v1/namespaces/t2/configmaps/${segment}`,
            method: 'DELETE',
            headers: { authorization: `Bearer ${cluster.server.adminToken}` },
            ca: cluster.server.caCert,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status, segment).toBe(400);
    }
    const ns = await cluster.api('/api/v1/namespaces/t2');
    expect(ns.status).toBe(200);
    expect(ns.json().metadata.deletionTimestamp).toBeUndefined();
  });
});

describe('list resourceVersion rules', () => {
  it('Exact at a retained revision returns that snapshot; at a compacted one 410 Expired', async () => {
    const v1 = await create(CMS, configMap('snap', { v: '1' }));
    const rv1 = v1.metadata.resourceVersion;
    await cluster.api(`${CMS}/snap`, { method: 'PATCH', body: '{"data":{"v":"2"}}', headers: { 'content-type': 'application/merge-patch+json' } });
    await create(CMS, configMap('snap-later'));
    const exact = (await cluster.api(`${CMS}?resourceVersion=${rv1}&resourceVersionMatch=Exact`)).json();
    expect(exact.metadata.resourceVersion).toBe(rv1);
    const names = exact.items.map((i: { metadata: { name: string } }) => i.metadata.name);
    expect(names).toContain('snap');
    expect(names).not.toContain('snap-later');
    expect(exact.items.find((i: { metadata: { name: string } }) => i.metadata.name === 'snap').data).toEqual({ v: '1' });
    // NotOlderThan an old revision is the newest state.
    const newer = (await cluster.api(`${CMS}?resourceVersion=${rv1}&resourceVersionMatch=NotOlderThan`)).json();
    expect(newer.items.find((i: { metadata: { name: string } }) => i.metadata.name === 'snap').data).toEqual({ v: '2' });

    await cluster.store.compact(await cluster.store.currentRevision());
    const gone = await cluster.api(`${CMS}?resourceVersion=${rv1}&resourceVersionMatch=Exact`);
    expect(gone.status).toBe(410);
    expect(gone.json()).toMatchObject({ reason: 'Expired' });
  });

  it('a future revision waits briefly, then answers 504 Too large resource version', async () => {
    const future = (await cluster.store.currentRevision()) + 1000;
    const started = Date.now();
    const res = await cluster.api(`${CMS}?resourceVersion=${future}&resourceVersionMatch=NotOlderThan`);
    expect(res.status).toBe(504);
    expect(res.json()).toMatchObject({ reason: 'Timeout', details: { causes: [{ reason: 'ResourceVersionTooLarge' }], retryAfterSeconds: 1 } });
    expect(res.json().message).toContain('Too large resource version');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
  });

  it('bad combinations are 400', async () => {
    for (const q of [
      'resourceVersionMatch=Exact',
      'resourceVersion=0&resourceVersionMatch=Exact',
      'resourceVersion=1&resourceVersionMatch=Newest',
      'resourceVersion=abc',
    ]) {
      expect((await cluster.api(`${CMS}?${q}`)).status, q).toBe(400);
    }
  });
});

describe('watch', () => {
  it('a bad label or field selector is a 400 before any stream starts', async () => {
    for (const q of ['labelSelector=a%20in%20(', 'labelSelector=%21%21', 'fieldSelector=spec.unknown%3Dx', 'fieldSelector=%3D%3D']) {
      const res = await cluster.api(`${CMS}?watch=1&${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json()).toMatchObject({ kind: 'Status', code: 400 });
    }
  });

  it('an object leaving the selector arrives as DELETED with its previous state at the new resourceVersion', async () => {
    const cm = await create(CMS, configMap('mover', {}, { tier: 'front' }));
    const watching = watchLines(`${CMS}?watch=1&labelSelector=tier%3Dfront&resourceVersion=${cm.metadata.resourceVersion}`, (l) => l.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    const moved = await cluster.api(`${CMS}/mover`, {
      method: 'PATCH',
      body: '{"metadata":{"labels":{"tier":"back"}}}',
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    const { lines } = await watching;
    const event = JSON.parse(lines[0]);
    expect(event.type).toBe('DELETED');
    expect(event.object.metadata.labels).toEqual({ tier: 'front' });
    expect(event.object.metadata.resourceVersion).toBe(moved.json().metadata.resourceVersion);
  });

  it('a watcher that stops reading is cut off instead of growing the server', async () => {
    const big = 'x'.repeat(500 * 1024);
    const cm = await create(CMS, configMap('big', { v: big }));
    let response: import('node:http').IncomingMessage | undefined;
    const opened = new Promise<void>((resolve, reject) => {
      const req = request(
        `${cluster.server.url}${CMS}?watch=1&resourceVersion=${cm.metadata.resourceVersion}`,
        { headers: { authorization: `Bearer ${cluster.server.adminToken}` }, ca: cluster.server.caCert },
        (res) => {
          res.pause(); // reads nothing for now
          response = res;
          resolve();
        },
      );
      req.on('error', reject);
      req.end();
    });
    await opened;
    const total = 60 * big.length;
    for (let i = 0; i < 60; i++) {
      await cluster.api(`${CMS}/big`, {
        method: 'PATCH',
        body: JSON.stringify({ data: { v: `${i}${big}` } }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
    }
    // 30 MB of events against a 4 MiB bound: past the stall time (10 s) the server drops the
    // watch. Reading now gets what was in flight, then the end: far less than was written.
    await new Promise((r) => setTimeout(r, 12_000));
    const received = await new Promise<number>((resolve) => {
      let bytes = 0;
      response!.on('data', (d: Buffer) => (bytes += d.length));
      response!.on('close', () => resolve(bytes));
      response!.resume();
    });
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(total / 2);
  }, 60_000);
});

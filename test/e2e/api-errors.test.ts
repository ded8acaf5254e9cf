/**
 * Every bad request gets a `metav1.Status` with the code and reason kubectl prints well, and
 * leaves what is stored exactly as it was; 1,000 generated bad requests never get a 500 or hang.
 * Hostile input too (test/e2e/hostile-input.test.ts keeps the corpus): bodies nested past the
 * bound, YAML alias cycles, JSON patch paths through prototypes, field names of any characters,
 * integers past int32, generateNames of anything, oversized bodies and URLs.
 */
import fc from 'fast-check';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment } from '../support/manifests.js';
import { warningTexts } from '../support/warnings.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
  await send('POST', '/apis/apps/v1/namespaces/default/deployments', JSON.stringify(deployment('web')));
});
afterAll(async () => {
  await cluster?.stop();
});

function send(method: string, path: string, body?: string, contentType = 'application/json', token?: string) {
  return cluster.api(path, { method, body, headers: body !== undefined ? { 'content-type': contentType } : {}, token });
}

async function expectStatus(response: Awaited<ReturnType<typeof send>>, code: number, reason: string, message?: RegExp) {
  expect(response.status, response.text).toBe(code);
  const status = response.json();
  expect(status).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason });
  if (message) expect(status.message).toMatch(message);
  return status;
}

const DEPLOYMENTS = '/apis/apps/v1/namespaces/default/deployments';

describe('errors are Statuses with the right code and reason', () => {
  it('401 without a valid bearer token; /version stays public', async () => {
    await expectStatus(await send('GET', '/api/v1/namespaces', undefined, undefined, ''), 401, 'Unauthorized');
    await expectStatus(await send('GET', '/api/v1/namespaces', undefined, undefined, 'not-a-token'), 401, 'Unauthorized');
    expect((await send('GET', '/version', undefined, undefined, '')).status).toBe(200);
  });

  it('malformed JSON and YAML are 400 BadRequest', async () => {
    await expectStatus(await send('POST', DEPLOYMENTS, '{"metadata": {'), 400, 'BadRequest', /could not be decoded as JSON/);
    await expectStatus(await send('POST', DEPLOYMENTS, 'metadata: [unclosed', 'application/yaml'), 400, 'BadRequest', /YAML/);
    await expectStatus(await send('POST', DEPLOYMENTS, '[1,2,3]'), 400, 'BadRequest');
  });

  it('an unknown resource, version or kind is refused', async () => {
    await expectStatus(await send('GET', '/apis/apps/v2/namespaces/default/deployments'), 404, 'NotFound');
    await expectStatus(await send('GET', '/api/v1/namespaces/default/widgets'), 404, 'NotFound');
    await expectStatus(
      await send('POST', DEPLOYMENTS, JSON.stringify({ ...deployment('x'), kind: 'ReplicaSet' })),
      400,
      'BadRequest',
      /kind in the data \(ReplicaSet\) does not match the expected kind \(Deployment\)/,
    );
    await expectStatus(await send('POST', DEPLOYMENTS, JSON.stringify({ ...deployment('x'), apiVersion: 'apps/v1beta1' })), 400, 'BadRequest', /API version/);
  });

  it('a body for another namespace is refused', async () => {
    const body = deployment('x');
    (body.metadata as Record<string, string>).namespace = 'kube-system';
    await expectStatus(await send('POST', DEPLOYMENTS, JSON.stringify(body)), 400, 'BadRequest', /namespace of the provided object does not match/);
  });

  it('invalid names and missing required fields are 422 Invalid with field causes', async () => {
    const bad = await expectStatus(
      await send('POST', DEPLOYMENTS, JSON.stringify(deployment('Not_Valid'))),
      422,
      'Invalid',
      /Deployment "Not_Valid" is invalid: metadata\.name: Invalid value/,
    );
    expect(bad.details.causes[0]).toMatchObject({ reason: 'FieldValueInvalid', field: 'metadata.name' });
    const noImage = deployment('noimage');
    delete (noImage.spec.template.spec.containers[0] as Record<string, unknown>).image;
    const missing = await expectStatus(await send('POST', DEPLOYMENTS, JSON.stringify(noImage)), 422, 'Invalid');
    expect(missing.details.causes).toContainEqual({ reason: 'FieldValueRequired', field: 'spec.template.spec.containers[0].image', message: 'Required value' });
    const noName = await expectStatus(await send('POST', '/api/v1/namespaces/default/configmaps', '{"data":{"a":"b"}}'), 422, 'Invalid');
    expect(noName.details.causes[0]).toMatchObject({ reason: 'FieldValueRequired', field: 'metadata.name' });
  });

  it('changing an immutable field is 422', async () => {
    const current = (await send('GET', `${DEPLOYMENTS}/web`)).json();
    current.spec.selector.matchLabels = { app: 'other' };
    current.spec.template.metadata.labels = { app: 'other' };
    await expectStatus(await send('PUT', `${DEPLOYMENTS}/web`, JSON.stringify(current)), 422, 'Invalid', /spec\.selector: Invalid value: .*field is immutable/);
  });

  it('a stale resourceVersion is 409 Conflict; an existing name is 409 AlreadyExists', async () => {
    const current = (await send('GET', `${DEPLOYMENTS}/web`)).json();
    await send('PATCH', `${DEPLOYMENTS}/web`, '{"metadata":{"labels":{"bump":"1"}}}', 'application/merge-patch+json');
    await expectStatus(await send('PUT', `${DEPLOYMENTS}/web`, JSON.stringify(current)), 409, 'Conflict', /the object has been modified/);
    await expectStatus(await send('POST', DEPLOYMENTS, JSON.stringify(deployment('web'))), 409, 'AlreadyExists', /deployments\.apps "web" already exists/);
  });

  it('a body over 3 MiB is 413, and nothing is stored', async () => {
    const big = { metadata: { name: 'big' }, data: { blob: 'x'.repeat(3 * 1024 * 1024 + 10) } };
    await expectStatus(await send('POST', '/api/v1/namespaces/default/configmaps', JSON.stringify(big)), 413, 'RequestEntityTooLarge', /limit is 3145728/);
    expect((await send('GET', '/api/v1/namespaces/default/configmaps/big')).status).toBe(404);
  });

  it('fieldValidation=Strict refuses unknown fields by name; Warn answers a Warning header', async () => {
    const body = { ...deployment('strict'), spec: { ...deployment('strict').spec, replicaz: 3 } };
    await expectStatus(
      await send('POST', `${DEPLOYMENTS}?fieldValidation=Strict`, JSON.stringify(body)),
      400,
      'BadRequest',
      /strict decoding error: unknown field "spec\.replicaz"/,
    );
    const warned = await send('POST', `${DEPLOYMENTS}?fieldValidation=Warn`, JSON.stringify(body));
    expect(warned.status).toBe(201);
    expect(String(warned.headers.warning)).toContain('unknown field \\"spec.replicaz\\"');
  });

  it('node affinity, envFrom and resourceFieldRef are checked field by field, as the scheduler and kubelet read them', async () => {
    const pod = (container: object, spec: object = {}) =>
      JSON.stringify({ metadata: { name: 'typed' }, spec: { containers: [{ name: 'c', image: 'busybox', ...container }], ...spec } });
    const term = (operator: string) => ({
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'k', operator }] }] } } },
    });
    const bad = await expectStatus(await send('POST', '/api/v1/namespaces/default/pods', pod({}, term('Near'))), 422, 'Invalid', /Unsupported value: "Near"/);
    expect(bad.details.causes).toContainEqual({
      message: expect.stringContaining('Unsupported value'),
      reason: 'FieldValueNotSupported',
      field: 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator',
    });
    const strict = await send('POST', '/api/v1/namespaces/default/pods?fieldValidation=Strict', pod({ envFrom: [{ configMapRef: { name: 'x', nmae: 'y' } }] }));
    await expectStatus(strict, 400, 'BadRequest', /unknown field "spec\.containers\[0\]\.envFrom\[0\]\.configMapRef\.nmae"/);
    await expectStatus(
      await send('POST', '/api/v1/namespaces/default/pods', pod({ env: [{ name: 'E', valueFrom: { resourceFieldRef: { resource: 7 } } }] })),
      400,
      'BadRequest',
      /resourceFieldRef\.resource/,
    );
    expect((await send('GET', '/api/v1/namespaces/default/pods/typed')).status).toBe(404);
  });

  it("volumes and their mounts are checked with kube-apiserver's words; the defaults are filled in", async () => {
    const pod = (volumes: object[], mounts: object[] = [], name = 'vols') =>
      JSON.stringify({ metadata: { name }, spec: { volumes, containers: [{ name: 'c', image: 'busybox', volumeMounts: mounts }] } });
    const bad = await expectStatus(
      await send(
        'POST',
        '/api/v1/namespaces/default/pods',
        pod(
          [
            { name: 'none' },
            { name: 'two', emptyDir: {}, hostPath: { path: '/x' } },
            { name: 'cfg', configMap: { name: 'c', defaultMode: 0o1000, items: [{ key: 'k', path: '../up' }] } },
            { name: 'cfg', secret: {} },
            { name: 'host', hostPath: { path: '/x', type: 'Pipe' } },
          ],
          [
            { name: 'missing', mountPath: '/a' },
            { name: 'host', mountPath: '/a' },
            { name: 'host', mountPath: '/b', subPath: '/abs' },
          ],
        ),
      ),
      422,
      'Invalid',
    );
    const causes = (bad.details.causes as { field: string; message: string }[]).map((c) => `${c.field}: ${c.message}`);
    expect(causes).toEqual(
      expect.arrayContaining([
        'spec.volumes[0]: Required value: must specify a volume type',
        'spec.volumes[1].hostPath: Forbidden: may not specify more than 1 volume type',
        'spec.volumes[2].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive',
        `spec.volumes[2].configMap.items[0].path: Invalid value: "../up": must not contain '..'`,
        'spec.volumes[3].name: Duplicate value: "cfg"',
        'spec.volumes[3].secret.secretName: Required value',
        'spec.volumes[4].hostPath.type: Unsupported value: "Pipe": supported values: "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"',
        'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
        'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique',
        'spec.containers[0].volumeMounts[2].subPath: Invalid value: "/abs": must be a relative path',
      ]),
    );
    const strict = await send('POST', '/api/v1/namespaces/default/pods?fieldValidation=Strict', pod([{ name: 'typo', configmap: { name: 'c' } }]));
    await expectStatus(strict, 400, 'BadRequest', /unknown field "spec\.volumes\[0\]\.configmap"/);
    expect((await send('GET', '/api/v1/namespaces/default/pods/vols')).status).toBe(404);

    const good = await send(
      'POST',
      '/api/v1/namespaces/default/pods',
      pod(
        [
          { name: 'cfg', configMap: { name: 'c' } },
          { name: 'h', hostPath: { path: '/srv' } },
        ],
        [],
        'vols-ok',
      ),
    );
    expect(good.status, good.text).toBe(201);
    expect(good.json().spec.volumes.slice(0, 2)).toEqual([
      { name: 'cfg', configMap: { name: 'c', defaultMode: 420 } },
      { name: 'h', hostPath: { path: '/srv', type: '' } },
    ]);
  });

  it('dryRun=All answers the object without storing it', async () => {
    const r = await send('POST', `${DEPLOYMENTS}?dryRun=All`, JSON.stringify(deployment('dry')));
    expect(r.status).toBe(201);
    expect(r.json().metadata.uid).toBeTruthy();
    expect((await send('GET', `${DEPLOYMENTS}/dry`)).status).toBe(404);
    await expectStatus(await send('POST', `${DEPLOYMENTS}?dryRun=Some`, JSON.stringify(deployment('dry'))), 400, 'BadRequest');
  });

  it('a watch from a compacted resourceVersion ends with a 410 Expired ERROR event', async () => {
    for (let i = 0; i < 5; i++) await send('POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ metadata: { name: `c${i}` } }));
    const head = await cluster.store.currentRevision();
    await cluster.store.compact(head);
    const r = await send('GET', `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${head - 3}`);
    expect(r.status).toBe(200);
    const event = JSON.parse(r.text.trim().split('\n')[0]);
    expect(event.type).toBe('ERROR');
    expect(event.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    const list = await send('GET', '/api/v1/namespaces/default/configmaps?limit=1');
    const stale = await send('GET', `/api/v1/namespaces/default/configmaps?limit=1&continue=${encodeURIComponent(list.json().metadata.continue)}`);
    expect(stale.status).toBe(200);
    await send('POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ metadata: { name: 'after' } }));
    await cluster.store.compact(await cluster.store.currentRevision());
    await expectStatus(
      await send('GET', `/api/v1/namespaces/default/configmaps?limit=1&continue=${encodeURIComponent(list.json().metadata.continue)}`),
      410,
      'Expired',
    );
  });

  it('unsupported methods and media types', async () => {
    await expectStatus(await send('PATCH', `${DEPLOYMENTS}/web`, '{}', 'text/plain'), 415, 'UnsupportedMediaType');
    await expectStatus(await send('PUT', DEPLOYMENTS, '{}'), 405, 'MethodNotAllowed');
  });
});

describe('fuzz: generated bad requests', () => {
  it('1,000 bad requests: every answer is a 4xx Status, none a 500 or a hang, and the store is unchanged', async () => {
    const before = await cluster.store.list('deployments.apps');
    const revision = await cluster.store.currentRevision();
    // Paths where no generated body can be a valid write: /status and /scale are left out, since an
    // arbitrary object is a valid status, and a Scale ignores all but spec.replicas.
    const paths = [
      DEPLOYMENTS,
      `${DEPLOYMENTS}/web`,
      '/api/v1/namespaces/default/pods',
      '/api/v1/namespaces/nowhere/pods',
      '/api/v1/nodes/x',
      '/apis/apps/v1/deployments',
    ];
    // Every body is bad by construction: not JSON at all, or JSON with a defect no path accepts.
    const notJson = fc
      .string()
      .map((t) => `{"${t}`)
      .filter((t) => {
        try {
          JSON.parse(t);
          return false;
        } catch {
          return true;
        }
      });
    const defective = fc.dictionary(fc.string(), fc.jsonValue()).map((o) => JSON.stringify({ ...o, metadata: { name: 'Bad_Name!' } }));
    const junk = fc.oneof(
      notJson,
      defective,
      fc.constant('{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"BAD NAME"}}'),
      fc.constant('{"metadata":{"name":"web","resourceVersion":"1"},"spec":{"replicas":-1}}'),
      fc.constant('[{"op":"replace","path":"/spec/replicas","value":"x"}]'),
      fc.constant('[{"op":"nonsense"}]'),
      fc.constant('{"metadata":null}'),
      fc.constant('{"spec":{"replicas":"many"}}'),
      fc.constant('{"metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"changed"}}}}'),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), Buffer.from(b)]).toString('latin1')),
      // Hostile: nesting past the bound, alias cycles, prototype paths, a move into itself, int32 overflow.
      fc.integer({ min: 501, max: 12_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      fc.integer({ min: 501, max: 12_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.constantFrom('a: &a [*a]', 'metadata: &m {name: web, labels: *m}', '&x {spec: {template: *x}}'),
      fc
        .constantFrom('__proto__', 'constructor/prototype', 'spec/__proto__', 'metadata/constructor/prototype')
        .map((p) => `[{"op":"add","path":"/${p}/x","value":1}]`),
      fc.constant('[{"op":"move","from":"/spec","path":"/spec/template"}]'),
      fc.constantFrom('2147483648', '1e10', '1e308', '-2147483649', '1.5').map((v) => `{"metadata":{"name":"web"},"spec":{"replicas":${v}}}`),
    );
    const request = fc.record({
      method: fc.constantFrom('POST', 'PUT', 'PATCH'),
      path: fc.constantFrom(...paths),
      contentType: fc.constantFrom(
        'application/json',
        'application/yaml',
        'application/merge-patch+json',
        'application/json-patch+json',
        'application/strategic-merge-patch+json',
        'application/apply-patch+yaml',
        'application/vnd.kubernetes.protobuf',
        'text/html',
      ),
      body: junk,
      query: fc.constantFrom('', '?fieldValidation=Strict', '?dryRun=Bogus', '?fieldManager=fuzz', '?limit=abc'),
    });
    const samples = fc.sample(request, { numRuns: 1000, seed: 20261124 });
    const codes = new Map<number, number>();
    for (const r of samples) {
      const res = await send(r.method, r.path + r.query, r.body, r.contentType);
      codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
      expect(res.status, `${r.method} ${r.path}${r.query} ${r.contentType} ${r.body.slice(0, 200)} -> ${res.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.json().kind).toBe('Status');
    }
    expect([...codes.keys()].every((c) => c < 500)).toBe(true);
    const after = await cluster.store.list('deployments.apps');
    expect(after.items).toEqual(before.items);
    expect(await cluster.store.currentRevision()).toBe(revision);
  }, 120_000);
});

describe('fuzz: hostile input', () => {
  const CONFIGMAPS = '/api/v1/namespaces/default/configmaps';

  /** The texts of a Warning header: `299 - "..."` items, their quoted text JSON-decoded. */

  /** Everything stored, to compare before and after a run. */
  async function snapshot() {
    return {
      deployments: (await cluster.store.list('deployments.apps')).items,
      configmaps: (await cluster.store.list('configmaps')).items,
      revision: await cluster.store.currentRevision(),
    };
  }

  /** One HTTP/1.1 exchange on a raw TLS connection: status line and Status body. */
  function rawExchange(head: string): Promise<{ status: number; body: string }> {
    const url = new URL(cluster.server.url);
    return new Promise((resolve, reject) => {
      let data = Buffer.alloc(0);
      const socket = connect({ host: url.hostname, port: Number(url.port), ca: cluster.server.caCert, servername: 'localhost' }, () => socket.write(head));
      const timer = setTimeout(() => socket.destroy(new Error('no answer in 30 s')), 30_000);
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = data.subarray(0, end).toString('latin1');
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? NaN);
        if (data.length - end - 4 < length) return;
        clearTimeout(timer);
        socket.destroy();
        resolve({ status: Number(head.split(' ')[1]), body: data.subarray(end + 4, end + 4 + length).toString('utf8') });
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  it('bodies nested past 500 levels, in any shape and format, are 400 naming the bound', async () => {
    const before = await snapshot();
    const deep = fc.record({
      depth: fc.integer({ min: 501, max: 15_000 }),
      shape: fc.constantFrom('object', 'array', 'mixed', 'block'),
      target: fc.constantFrom<[string, string, string]>(
        ['POST', DEPLOYMENTS, 'application/json'],
        ['POST', DEPLOYMENTS, 'application/yaml'],
        ['PUT', `${DEPLOYMENTS}/web`, 'application/json'],
        ['PATCH', `${DEPLOYMENTS}/web`, 'application/merge-patch+json'],
        ['PATCH', `${DEPLOYMENTS}/web`, 'application/strategic-merge-patch+json'],
        ['PATCH', `${DEPLOYMENTS}/web`, 'application/json-patch+json'],
        ['PATCH', `${DEPLOYMENTS}/web?fieldManager=fuzz`, 'application/apply-patch+yaml'],
        ['PATCH', `${DEPLOYMENTS}/web/scale`, 'application/merge-patch+json'],
      ),
    });
    const body = (depth: number, shape: string) => {
      if (shape === 'object') return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      if (shape === 'array') return '['.repeat(depth) + ']'.repeat(depth);
      if (shape === 'mixed') return `${'[{"a":'.repeat(Math.ceil(depth / 2))}1${'}]'.repeat(Math.ceil(depth / 2))}`;
      return `${'- '.repeat(depth)}x`; // YAML block sequences (JSON bodies: not JSON, 400 too)
    };
    for (const { depth, shape, target } of fc.sample(deep, { numRuns: 60, seed: 501 })) {
      const [method, path, contentType] = target;
      const r = await send(method, path, body(depth, shape), contentType);
      expect(r.status, `${method} ${path} ${contentType} ${shape} ${depth}: ${r.text.slice(0, 200)}`).toBe(400);
      expect(r.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
      const yamlBlockAsJson = shape === 'block' && !contentType.includes('yaml');
      if (!yamlBlockAsJson) expect(r.json().message).toContain('nesting depth exceeds the limit of 500 levels');
    }
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it('YAML alias cycles of any anchor name and shape are 400', async () => {
    const before = await snapshot();
    const cycle = fc.record({
      anchor: fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/),
      shape: fc.constantFrom('a: &N [*N]', '&N [*N]', 'metadata: &N {labels: *N}', 'spec: &N {template: {spec: [1, {x: *N}]}}', 'x: &N\n  y:\n  - z: *N'),
      target: fc.constantFrom<[string, string, string]>(
        ['POST', DEPLOYMENTS, 'application/yaml'],
        ['PATCH', `${DEPLOYMENTS}/web?fieldManager=fuzz`, 'application/apply-patch+yaml'],
        ['PUT', `${DEPLOYMENTS}/web`, 'application/yaml'],
      ),
    });
    for (const { anchor, shape, target } of fc.sample(cycle, { numRuns: 60, seed: 7 })) {
      const [method, path, contentType] = target;
      const r = await send(method, path, shape.replaceAll('N', anchor), contentType);
      expect(r.status, `${shape} -> ${r.text.slice(0, 200)}`).toBe(400);
      expect(r.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
      expect(r.json().message).toContain('cycle');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('JSON patch paths through __proto__, constructor or prototype, and moves into a child: 4xx, and no prototype changes', async () => {
    const before = await snapshot();
    const segment = fc.constantFrom('metadata', 'labels', 'spec', 'template', 'containers', '0', '-', 'name', 'data', 'x');
    const hostile = fc.constantFrom('__proto__', 'constructor', 'prototype', 'constructor/prototype', 'hasOwnProperty', 'toString');
    const pointer = fc
      .tuple(fc.array(segment, { maxLength: 3 }), hostile, fc.array(segment, { maxLength: 2 }))
      .map(([a, h, b]) => `/${[...a, h, ...b].join('/')}`);
    const op = fc.oneof(
      fc.record({ op: fc.constantFrom('add', 'replace', 'test'), path: pointer, value: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ op: fc.constant('remove'), path: pointer }),
      fc.record({ op: fc.constantFrom('move', 'copy'), from: pointer, path: fc.oneof(pointer, fc.constant('/metadata/labels/x')) }),
      // A value moved into its own child.
      fc
        .array(segment, { minLength: 1, maxLength: 3 })
        .chain((from) =>
          fc
            .array(segment, { minLength: 1, maxLength: 2 })
            .map((more) => ({ op: 'move', from: `/${from.join('/')}`, path: `/${[...from, ...more].join('/')}` })),
        ),
    );
    const paths = [`${DEPLOYMENTS}/web`, `${DEPLOYMENTS}/web/scale`];
    for (const [ops, path] of fc.sample(fc.tuple(fc.array(op, { minLength: 1, maxLength: 3 }), fc.constantFrom(...paths)), { numRuns: 200, seed: 42 })) {
      const r = await send('PATCH', path, JSON.stringify(ops), 'application/json-patch+json');
      expect(r.status, `${JSON.stringify(ops)} -> ${r.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.json().kind).toBe('Status');
    }
    // The server runs in this process: nothing reached a prototype.
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(Object.getOwnPropertyNames(Object.getPrototypeOf({})).sort());
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect((Object as unknown as Record<string, unknown>).x).toBeUndefined();
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it('an unknown field named with any characters: 201 with a Warning naming it (UTF-8, no control characters), or 400 with Strict', async () => {
    const before = await snapshot();
    const known = new Set(['apiVersion', 'kind', 'metadata', 'data', 'binaryData', 'immutable']);
    const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((n) => !known.has(n));
    for (const field of fc.sample(name, { numRuns: 150, seed: 2026 })) {
      const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fuzz-field' }, [field]: 1 });
      const warned = await send('POST', `${CONFIGMAPS}?dryRun=All`, body);
      expect(warned.status, `${JSON.stringify(field)} -> ${warned.text.slice(0, 200)}`).toBe(201);
      expect(String(warned.headers.warning)).not.toMatch(/[\x00-\x1f\x7f]/);
      // Control characters in a name are spaces in the header (a header may not hold them).
      expect(warningTexts(warned.headers.warning)).toEqual([`unknown field "${field.replace(/[\x00-\x1f\x7f]/g, ' ')}"`]);
      const strict = await send('POST', `${CONFIGMAPS}?dryRun=All&fieldValidation=Strict`, body);
      expect(strict.status).toBe(400);
      expect(strict.json().message).toBe(`strict decoding error: unknown field "${field}"`);
    }
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it('integers past int32 in any int32 field are 400 naming the field; on /scale 422', async () => {
    const before = await snapshot();
    const int32Fields: [string, (d: ReturnType<typeof deployment>, v: number) => void][] = [
      ['spec.replicas', (d, v) => ((d.spec as Record<string, unknown>).replicas = v)],
      ['spec.minReadySeconds', (d, v) => Object.assign(d.spec, { minReadySeconds: v })],
      ['spec.revisionHistoryLimit', (d, v) => Object.assign(d.spec, { revisionHistoryLimit: v })],
      ['spec.progressDeadlineSeconds', (d, v) => Object.assign(d.spec, { progressDeadlineSeconds: v })],
      [
        'spec.template.spec.containers[0].ports[0].containerPort',
        (d, v) => Object.assign(d.spec.template.spec.containers[0], { ports: [{ containerPort: v }] }),
      ],
      [
        'spec.template.spec.containers[0].readinessProbe.periodSeconds',
        (d, v) => Object.assign(d.spec.template.spec.containers[0], { readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: v } }),
      ],
      ['spec.template.spec.priority', (d, v) => Object.assign(d.spec.template.spec, { priority: v })],
      ['spec.strategy.rollingUpdate.maxSurge', (d, v) => Object.assign(d.spec, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: v } } })],
    ];
    const outOfRange = fc.oneof(
      fc.double({ min: 2147483648, max: 1e308, noNaN: true, noDefaultInfinity: true }),
      fc.double({ min: -1e308, max: -2147483649, noNaN: true, noDefaultInfinity: true }),
      fc.integer({ min: -1000, max: 1000 }).map((n) => n + 0.5),
    );
    for (const [[field, set], value] of fc.sample(fc.tuple(fc.constantFrom(...int32Fields), outOfRange), { numRuns: 120, seed: 32 })) {
      const d = deployment('int32');
      set(d, value);
      const r = await send('POST', `${DEPLOYMENTS}?dryRun=All`, JSON.stringify(d));
      expect(r.status, `${field}=${value} -> ${r.text.slice(0, 200)}`).toBe(400);
      expect(r.json().message).toContain(field);
    }
    for (const value of fc.sample(
      outOfRange.filter((v) => v > 0),
      { numRuns: 30, seed: 33 },
    )) {
      const put = await send(
        'PUT',
        `${DEPLOYMENTS}/web/scale`,
        JSON.stringify({ kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'web' }, spec: { replicas: value } }),
      );
      expect(put.status, `${value} -> ${put.text.slice(0, 200)}`).toBe(422);
      expect(put.json().details.causes[0].field).toBe('spec.replicas');
      const patch = await send('PATCH', `${DEPLOYMENTS}/web/scale`, JSON.stringify({ spec: { replicas: value } }), 'application/merge-patch+json');
      expect(patch.status).toBe(422);
    }
    // The bounds themselves are fine.
    for (const value of [0, 2147483647]) {
      const d = deployment('int32-edge');
      d.spec.replicas = value;
      expect((await send('POST', `${DEPLOYMENTS}?dryRun=All`, JSON.stringify(d))).status).toBe(201);
    }
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it('generateName of anything: 201 with a valid generated name, or 422 on metadata.generateName', async () => {
    const before = await snapshot();
    const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
    const valid = fc.stringMatching(/^[a-z0-9][-a-z0-9]{0,120}$/);
    const anything = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
      fc.constantFrom('../../etc/passwd', 'a/b', 'web\n', 'web.', '-web', 'WEB-', 'a'.repeat(305), 'web..x-', '%2e%2e'),
      fc.stringMatching(/^[-a-z0-9./%_\n]{1,300}$/),
    );
    for (const [prefix, isValid] of fc.sample(
      fc.oneof(
        valid.map((p) => [p, true] as const),
        anything.map((p) => [p, false] as const),
      ),
      { numRuns: 200, seed: 58 },
    )) {
      const r = await send('POST', `${CONFIGMAPS}?dryRun=All`, JSON.stringify({ metadata: { generateName: prefix } }));
      if (isValid) expect(r.status, `${JSON.stringify(prefix)} -> ${r.text.slice(0, 200)}`).toBe(201);
      if (r.status === 201) {
        const name: string = r.json().metadata.name;
        expect(name.startsWith(prefix.slice(0, 58))).toBe(true);
        expect(name).toHaveLength(Math.min(prefix.length, 58) + 5);
        expect(name).toMatch(subdomain);
      } else {
        expect(r.status, `${JSON.stringify(prefix)} -> ${r.text.slice(0, 200)}`).toBe(422);
        expect(r.json().details.causes.map((c: { field: string }) => c.field)).toContain('metadata.generateName');
      }
    }
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it('declared bodies of any size past 3 MiB are 413 from the header; URLs past 32 KiB are 414', async () => {
    const before = await snapshot();
    const token = cluster.server.adminToken;
    for (const size of fc.sample(fc.integer({ min: 3 * 1024 * 1024 + 1, max: 2 ** 40 }), { numRuns: 15, seed: 413 })) {
      const r = await rawExchange(
        `POST ${CONFIGMAPS} HTTP/1.1\r\nHost: skiff\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n{"metadata":`,
      );
      expect(r.status, `Content-Length ${size}`).toBe(413);
      expect(JSON.parse(r.body)).toMatchObject({ kind: 'Status', code: 413, reason: 'RequestEntityTooLarge' });
    }
    for (const length of fc.sample(fc.integer({ min: 32 * 1024 + 1, max: 900 * 1024 }), { numRuns: 10, seed: 414 })) {
      const path = `${CONFIGMAPS}/${'x'.repeat(length - CONFIGMAPS.length - 1)}`;
      const r = await rawExchange(`GET ${path} HTTP/1.1\r\nHost: skiff\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      expect(r.status, `URL of ${length} bytes`).toBe(414);
      expect(JSON.parse(r.body)).toMatchObject({ kind: 'Status', code: 414, reason: 'URITooLong' });
    }
    expect(await snapshot()).toEqual(before);
  }, 120_000);
});

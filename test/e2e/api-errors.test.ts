/**
 * Every bad request gets a `metav1.Status` with the code and reason kubectl prints well, and
 * leaves what is stored exactly as it was; 1,000 generated bad requests never get a 500 or hang.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
  await send('POST', '/apis/apps/v1/namespaces/default/deployments', JSON.stringify(deployment('web')));
});
afterAll(async () => {
  await cluster?.stop();
});

function deployment(name: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
  };
}

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
    await expectStatus(await send('POST', DEPLOYMENTS, JSON.stringify({ ...deployment('x'), kind: 'ReplicaSet' })), 400, 'BadRequest', /kind in the data \(ReplicaSet\) does not match the expected kind \(Deployment\)/);
    await expectStatus(await send('POST', DEPLOYMENTS, JSON.stringify({ ...deployment('x'), apiVersion: 'apps/v1beta1' })), 400, 'BadRequest', /API version/);
  });

  it('a body for another namespace is refused', async () => {
    const body = deployment('x');
    (body.metadata as Record<string, string>).namespace = 'kube-system';
    await expectStatus(await send('POST', DEPLOYMENTS, JSON.stringify(body)), 400, 'BadRequest', /namespace of the provided object does not match/);
  });

  it('invalid names and missing required fields are 422 Invalid with field causes', async () => {
    const bad = await expectStatus(await send('POST', DEPLOYMENTS, JSON.stringify(deployment('Not_Valid'))), 422, 'Invalid', /Deployment "Not_Valid" is invalid: metadata\.name: Invalid value/);
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
    await expectStatus(await send('POST', `${DEPLOYMENTS}?fieldValidation=Strict`, JSON.stringify(body)), 400, 'BadRequest', /strict decoding error: unknown field "spec\.replicaz"/);
    const warned = await send('POST', `${DEPLOYMENTS}?fieldValidation=Warn`, JSON.stringify(body));
    expect(warned.status).toBe(201);
    expect(String(warned.headers.warning)).toContain('unknown field \\"spec.replicaz\\"');
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
    await expectStatus(await send('GET', `/api/v1/namespaces/default/configmaps?limit=1&continue=${encodeURIComponent(list.json().metadata.continue)}`), 410, 'Expired');
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
    const paths = [DEPLOYMENTS, `${DEPLOYMENTS}/web`, '/api/v1/namespaces/default/pods', '/api/v1/namespaces/nowhere/pods', '/api/v1/nodes/x', '/apis/apps/v1/deployments'];
    // Every body is bad by construction: not JSON at all, or JSON with a defect no path accepts.
    const notJson = fc.string().map((t) => `{"${t}`).filter((t) => {
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
    );
    const request = fc.record({
      method: fc.constantFrom('POST', 'PUT', 'PATCH'),
      path: fc.constantFrom(...paths),
      contentType: fc.constantFrom('application/json', 'application/yaml', 'application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml', 'application/vnd.kubernetes.protobuf', 'text/html'),
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

/**
 * The audit log: every request a JSON line in kube-apiserver's audit.k8s.io/v1 Event shape, with
 * who, as whom, what, the decision and the code; never a body, so a Secret's data never reaches
 * it; health checks left out.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { until } from '../support/until.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-audit-'));
const path = join(dir, 'audit.log');
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ auditLogPath: path });
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const events = () =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

describe('audit log', () => {
  it('records who did what, the decision and the code, at the Metadata level', async () => {
    const nobody = cluster.server.issueToken('nobody', []);
    const secret = { metadata: { name: 'db' }, data: { password: Buffer.from('hunter2-very-secret').toString('base64') } };
    expect(
      (
        await cluster.api('/api/v1/namespaces/default/secrets', {
          method: 'POST',
          body: JSON.stringify(secret),
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(201);
    expect((await cluster.api('/api/v1/namespaces/default/secrets/db')).status).toBe(200);
    expect((await cluster.api('/api/v1/namespaces/default/pods?limit=5', { token: nobody })).status).toBe(403);
    expect((await cluster.api('/api/v1/namespaces/default/pods', { token: '' })).status).toBe(401);
    expect((await cluster.api('/api/v1/namespaces/default/configmaps', { headers: { 'impersonate-user': 'nobody' } })).status).toBe(403);
    expect((await cluster.api('/healthz', { token: '' })).status).toBe(200);
    await until('five events written', async () => events().length >= 5);
    const [create, get, forbidden, anonymous, impersonated] = events();
    expect(create).toMatchObject({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/default/secrets',
      verb: 'create',
      user: { username: 'skiff-admin', groups: ['system:masters', 'system:authenticated'] },
      objectRef: { resource: 'secrets', namespace: 'default', apiVersion: 'v1' },
      responseStatus: { code: 201 },
      annotations: { 'authorization.k8s.io/decision': 'allow' },
    });
    expect(create.annotations['authorization.k8s.io/reason']).toContain('ClusterRoleBinding "cluster-admin"');
    expect(create.auditID).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(create.stageTimestamp)).toBeGreaterThanOrEqual(Date.parse(create.requestReceivedTimestamp));
    expect(get).toMatchObject({ verb: 'get', objectRef: { resource: 'secrets', name: 'db' }, responseStatus: { code: 200 } });
    expect(forbidden).toMatchObject({
      requestURI: '/api/v1/namespaces/default/pods?limit=5',
      verb: 'list',
      user: { username: 'nobody' },
      responseStatus: { code: 403 },
      annotations: { 'authorization.k8s.io/decision': 'forbid' },
    });
    expect(anonymous).toMatchObject({ user: { username: 'system:anonymous' }, responseStatus: { code: 401 } });
    expect(impersonated).toMatchObject({ user: { username: 'skiff-admin' }, impersonatedUser: { username: 'nobody' }, responseStatus: { code: 403 } });
    expect(events().some((e) => e.requestURI === '/healthz')).toBe(false);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(secret.data.password);
    expect(text).not.toContain('hunter2');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

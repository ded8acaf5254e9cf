/**
 * The audit log: every request a JSON line in kube-apiserver's audit.k8s.io/v1 Event shape, with
 * who, as whom, what, the decision and the code; never a body, so a Secret's data never reaches
 * it; health checks left out.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPolicyFrom } from '../../shared/auth/audit-policy.js';
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

describe("Pod Security's audit mode", () => {
  it('admits the pod and notes what it breaks in its audit event', async () => {
    await cluster.kubectlOk(['create', 'namespace', 'watched']);
    await cluster.kubectlOk(['label', 'namespace', 'watched', 'pod-security.kubernetes.io/audit=restricted']);
    await cluster.kubectlOk(['run', 'loose', '--image=busybox', '-n', 'watched']);
    await cluster.kubectlOk(['create', 'deployment', 'loose', '--image=busybox', '-n', 'watched']);
    const created = await until('the creates logged', async () => {
      const found = events().filter((e) => e.verb === 'create' && e.objectRef?.namespace === 'watched');
      return found.length === 2 && found;
    });
    for (const event of created) {
      expect(event.responseStatus.code).toBe(201);
      expect(event.annotations['pod-security.kubernetes.io/audit-violations']).toMatch(
        /^would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "(loose|busybox)" must set securityContext.allowPrivilegeEscalation=false\)/,
      );
    }
    const plain = events().find((e) => e.verb === 'create' && e.objectRef?.resource === 'secrets');
    expect(plain.annotations['pod-security.kubernetes.io/audit-violations']).toBeUndefined();
  });
});

describe('audit policy', () => {
  const policyPath = join(dir, 'policy-audit.log');
  let withPolicy: TestCluster;
  beforeAll(async () => {
    withPolicy = await startTestCluster({
      auditLogPath: policyPath,
      auditPolicy: auditPolicyFrom({
        apiVersion: 'audit.k8s.io/v1',
        kind: 'Policy',
        rules: [
          { level: 'None', resources: [{ group: '', resources: ['events'] }] },
          { level: 'RequestResponse', resources: [{ group: '', resources: ['configmaps', 'secrets'] }] },
          { level: 'Request', verbs: ['create'], resources: [{ group: 'apps', resources: ['deployments'] }] },
          { level: 'Metadata' },
        ],
      }),
    });
  });
  afterAll(async () => {
    await withPolicy?.stop();
  });
  const logged = () =>
    readFileSync(policyPath, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));

  it('logs each request at the level of the first rule it matches, never a Secret above Metadata', async () => {
    await withPolicy.kubectlOk(['create', 'configmap', 'settings', '--from-literal=color=blue']);
    await withPolicy.kubectlOk(['create', 'secret', 'generic', 'db', '--from-literal=password=never-in-the-log']);
    await withPolicy.kubectlOk(['create', 'deployment', 'web', '--image=busybox']);
    const event = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e1' }, involvedObject: { kind: 'Pod', name: 'x' }, reason: 'Test', message: 'm' };
    const posted = await withPolicy.api('/api/v1/namespaces/default/events', {
      method: 'POST',
      body: JSON.stringify(event),
      headers: { 'content-type': 'application/json' },
    });
    expect(posted.status).toBe(201);
    await withPolicy.kubectlOk(['get', 'pods']);
    const all = await until('the requests logged', async () => {
      const lines = logged();
      return lines.some((e) => e.objectRef?.resource === 'pods' && e.verb === 'list') && lines;
    });
    const created = (resource: string) => all.find((e) => e.verb === 'create' && e.objectRef?.resource === resource);
    expect(created('configmaps')).toMatchObject({
      level: 'RequestResponse',
      requestObject: { data: { color: 'blue' } },
      responseObject: { metadata: { name: 'settings' } },
    });
    expect(created('secrets')).toMatchObject({ level: 'Metadata' });
    expect(created('secrets').requestObject).toBeUndefined();
    expect(created('deployments')).toMatchObject({ level: 'Request', requestObject: { metadata: { name: 'web' } } });
    expect(created('deployments').responseObject).toBeUndefined();
    expect(created('events')).toBeUndefined();
    expect(all.find((e) => e.verb === 'list' && e.objectRef?.resource === 'pods')).toMatchObject({ level: 'Metadata' });
    const text = readFileSync(policyPath, 'utf8');
    expect(text).not.toContain('never-in-the-log');
    expect(text).not.toContain(Buffer.from('never-in-the-log').toString('base64'));
  });

  it('a policy that is not one is refused, naming what is wrong', () => {
    expect(() => auditPolicyFrom({ kind: 'Policy', apiVersion: 'audit.k8s.io/v1', rules: [{ level: 'Everything' }] })).toThrow(
      'rules[0].level must be one of None, Metadata, Request, RequestResponse; got "Everything"',
    );
    expect(() => auditPolicyFrom({ kind: 'ConfigMap' })).toThrow('the audit policy must be an audit.k8s.io/v1 Policy');
  });
});

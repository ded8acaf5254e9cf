/**
 * Authorization end to end, with the real kubectl: the default roles, RoleBindings to them,
 * 403s in kube-apiserver's words, `kubectl auth can-i` (and `--list`), `auth whoami`,
 * impersonation only for who may, aggregation, and the node authorizer: every probe a node's
 * token could abuse answers 403.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { until } from '../support/until.js';

let cluster: TestCluster;
let alice: string;
let nobody: string;
let node: string;

beforeAll(async () => {
  cluster = await startTestCluster();
  alice = cluster.server.issueToken('alice', ['developers']);
  nobody = cluster.server.issueToken('nobody', []);
  node = cluster.server.issueToken('system:node:node-a', ['system:nodes']);
});
afterAll(async () => {
  await cluster?.stop();
});

const as = (token: string, args: string[]) => cluster.kubectl([`--token=${token}`, ...args]);
const json = (body: unknown) => JSON.stringify(body);

describe('RBAC', () => {
  it('starts with the default roles, bound as Kubernetes binds them', async () => {
    const roles = await cluster.kubectlOk(['get', 'clusterroles', '-o', 'name']);
    for (const name of ['cluster-admin', 'admin', 'edit', 'view', 'system:basic-user', 'system:discovery'])
      expect(roles).toContain(`clusterrole.rbac.authorization.k8s.io/${name}\n`);
    const binding = JSON.parse(await cluster.kubectlOk(['get', 'clusterrolebinding', 'cluster-admin', '-o', 'json']));
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' });
    expect(binding.subjects).toEqual([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:masters' }]);
    const table = await cluster.kubectlOk(['get', 'clusterrolebinding', 'cluster-admin', '-o', 'wide']);
    expect(table).toMatch(/^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS\n/);
    expect(table).toMatch(/cluster-admin\s+ClusterRole\/cluster-admin\s+\S+\s+system:masters/);
  });

  it('a user bound to nothing gets 403 in kube-apiserver words, and can still ask what it may do', async () => {
    const r = await cluster.api('/api/v1/namespaces/default/pods', { token: nobody });
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "default"',
      reason: 'Forbidden',
      details: { kind: 'pods' },
      code: 403,
    });
    const named = (await cluster.api('/apis/apps/v1/namespaces/default/deployments/web', { token: nobody })).json();
    expect(named.message).toBe(
      'deployments.apps "web" is forbidden: User "nobody" cannot get resource "deployments" in API group "apps" in the namespace "default"',
    );
    expect(named.details).toEqual({ name: 'web', group: 'apps', kind: 'deployments' });
    const nodes = (await cluster.api('/api/v1/nodes', { token: nobody })).json();
    expect(nodes.message).toBe('nodes is forbidden: User "nobody" cannot list resource "nodes" in API group "" at the cluster scope');
    // Discovery and the self reviews are every signed-in user's.
    expect((await cluster.api('/apis', { token: nobody })).status).toBe(200);
    expect((await as(nobody, ['auth', 'can-i', 'list', 'pods'])).stdout.trim()).toBe('no');
    expect((await as(nobody, ['auth', 'whoami', '-o', 'json'])).stdout).toContain('"username": "nobody"');
    const get = await as(nobody, ['get', 'secrets', '-n', 'kube-system']);
    expect(get.code).not.toBe(0);
    expect(get.stderr).toContain('User "nobody" cannot list resource "secrets" in API group "" in the namespace "kube-system"');
  });

  it('a RoleBinding to edit lets a user work in its namespace and nowhere else; can-i --list shows the rules', async () => {
    await cluster.kubectlOk(['create', 'rolebinding', 'alice-edit', '--clusterrole=edit', '--user=alice', '-n', 'default']);
    expect((await as(alice, ['auth', 'can-i', 'create', 'deployments'])).stdout.trim()).toBe('yes');
    expect((await as(alice, ['auth', 'can-i', 'create', 'deployments', '-n', 'kube-system'])).stdout.trim()).toBe('no');
    expect((await as(alice, ['auth', 'can-i', 'create', 'roles'])).stdout.trim()).toBe('no');
    await as(alice, ['create', 'deployment', 'alice-web', '--image=busybox', '-n', 'default']).then((r) => expect(r.stderr).toBe(''));
    const secrets = await as(alice, ['get', 'secrets', '-n', 'kube-system']);
    expect(secrets.code).not.toBe(0);
    expect(secrets.stderr).toContain('cannot list resource "secrets" in API group "" in the namespace "kube-system"');
    const list = (await as(alice, ['auth', 'can-i', '--list', '-n', 'default'])).stdout;
    expect(list).toMatch(/deployments\.apps\s+\[\]\s+\[\]\s+\[create delete deletecollection patch update get list watch\]/);
    expect(list).toMatch(/selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]/);
    // The binding is the namespace's only: elsewhere alice has only what every user has.
    expect((await as(alice, ['auth', 'can-i', '--list', '-n', 'kube-system'])).stdout).not.toContain('deployments.apps');
  });

  it('a ClusterRole labelled to aggregate into view extends view, edit and admin', async () => {
    await cluster.kubectlOk(['create', 'rolebinding', 'nobody-view', '--clusterrole=view', '--user=nobody', '-n', 'default']);
    expect((await as(nobody, ['auth', 'can-i', 'list', 'priorityclasses.scheduling.k8s.io', '-n', 'default'])).stdout.trim()).toBe('no');
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'view-priorities', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } },
      rules: [{ apiGroups: ['scheduling.k8s.io'], resources: ['priorityclasses'], verbs: ['list'] }],
    };
    await cluster.kubectlOk(['apply', '-f', '-'], { input: json(role) });
    expect((await as(nobody, ['auth', 'can-i', 'list', 'priorityclasses.scheduling.k8s.io', '-n', 'default'])).stdout.trim()).toBe('yes');
    expect((await as(alice, ['auth', 'can-i', 'list', 'priorityclasses.scheduling.k8s.io', '-n', 'default'])).stdout.trim()).toBe('yes');
  });

  it('roles and bindings are validated; a binding cannot change its role', async () => {
    const bad = await cluster.api('/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles', {
      method: 'POST',
      body: json({
        metadata: { name: 'bad' },
        rules: [
          { apiGroups: [''], resources: ['pods'] },
          { verbs: ['get'], nonResourceURLs: ['/metrics'] },
        ],
      }),
    });
    expect(bad.status).toBe(422);
    expect(bad.json().details.causes).toEqual([
      { reason: 'FieldValueRequired', message: 'Required value: verbs must contain at least one value', field: 'rules[0].verbs' },
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: ["/metrics"]: namespaced rules cannot apply to non-resource URLs',
        field: 'rules[1].nonResourceURLs',
      },
    ]);
    const r = await cluster.api('/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/alice-edit', {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: json({ roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' } }),
    });
    expect(r.status).toBe(422);
    expect(r.json().message).toContain('cannot change roleRef');
    const subject = await cluster.api('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      method: 'POST',
      body: json({
        metadata: { name: 'sa' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'ServiceAccount', name: 'x' }],
      }),
    });
    expect(subject.status).toBe(422);
    expect(subject.json().details.causes).toEqual([{ reason: 'FieldValueRequired', message: 'Required value', field: 'subjects[0].namespace' }]);
  });

  it('a namespace admin grants only what it holds: no escalation through roles or bindings', async () => {
    const lead = cluster.server.issueToken('lead', []);
    await cluster.kubectlOk(['create', 'namespace', 'team']);
    await cluster.kubectlOk(['create', 'rolebinding', 'lead-admin', '--clusterrole=admin', '--user=lead', '-n', 'team']);
    expect((await as(lead, ['create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods', '-n', 'team'])).code).toBe(0);
    expect((await as(lead, ['create', 'rolebinding', 'alice-edit', '--clusterrole=edit', '--user=alice', '-n', 'team'])).code).toBe(0);
    const role = await as(lead, ['create', 'role', 'node-reader', '--verb=list', '--resource=nodes', '-n', 'team']);
    expect(role.code).not.toBe(0);
    expect(role.stderr).toContain(
      'roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "lead" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:',
    );
    expect(role.stderr).toContain('{APIGroups:[""], Resources:["nodes"], Verbs:["list"]}');
    const binding = await as(lead, ['create', 'rolebinding', 'lead-root', '--clusterrole=cluster-admin', '--user=lead', '-n', 'team']);
    expect(binding.code).not.toBe(0);
    expect(binding.stderr).toContain('rolebindings.rbac.authorization.k8s.io "lead-root" is forbidden');
    expect((await as(lead, ['auth', 'can-i', 'list', 'secrets', '-n', 'kube-system'])).stdout.trim()).toBe('no');
    // The admin of the cluster may bind anything.
    expect((await cluster.kubectl(['create', 'rolebinding', 'lead-root', '--clusterrole=cluster-admin', '--user=lead', '-n', 'team'])).code).toBe(0);
  });

  it('a ServiceAccount token from `kubectl create token` works as the account, and stops when the account goes', async () => {
    await cluster.kubectlOk(['create', 'serviceaccount', 'ci']);
    await cluster.kubectlOk(['create', 'rolebinding', 'ci-edit', '--clusterrole=edit', '--serviceaccount=default:ci']);
    const token = (await cluster.kubectlOk(['create', 'token', 'ci', '--duration=15m'])).trim();
    expect(token.split('.')).toHaveLength(3);
    const whoami = JSON.parse((await as(token, ['auth', 'whoami', '-o', 'json'])).stdout);
    expect(whoami.status.userInfo.username).toBe('system:serviceaccount:default:ci');
    expect(whoami.status.userInfo.groups).toEqual(['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
    expect((await as(token, ['create', 'deployment', 'from-ci', '--image=busybox'])).code).toBe(0);
    const secrets = await as(token, ['get', 'secrets', '-n', 'kube-system']);
    expect(secrets.stderr).toContain('User "system:serviceaccount:default:ci" cannot list resource "secrets" in API group "" in the namespace "kube-system"');
    expect((await as(token, ['auth', 'can-i', '--list'])).stdout).toMatch(
      /deployments\.apps\s+\[\]\s+\[\]\s+\[create delete deletecollection patch update get list watch\]/,
    );
    // The issuer's keys are public, and the token is signed by one of them.
    const jwks = (await cluster.api('/openid/v1/jwks', { token: '' })).json();
    const kid = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid;
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(kid);
    expect((await cluster.api('/.well-known/openid-configuration', { token: '' })).json().issuer).toBe('https://kubernetes.default.svc.cluster.local');
    // Too short a token is refused; a token for an account that is gone is no one's.
    const short = await cluster.kubectl(['create', 'token', 'ci', '--duration=1m']);
    expect(short.stderr).toContain('may not specify a duration less than 10 minutes');
    await cluster.kubectlOk(['delete', 'serviceaccount', 'ci']);
    expect((await cluster.api('/api/v1/namespaces/default/pods', { token })).status).toBe(401);
    await cluster.kubectlOk(['create', 'serviceaccount', 'ci']);
    // Same name, another account: the old token stays dead.
    expect((await cluster.api('/api/v1/namespaces/default/pods', { token })).status).toBe(401);
  });

  it('impersonation needs the impersonate verb', async () => {
    expect((await cluster.kubectl(['auth', 'whoami', '--as=alice', '-o', 'json'])).stdout).toContain('"username": "alice"');
    expect((await cluster.kubectl(['auth', 'can-i', 'create', 'roles', '--as=alice'])).stdout.trim()).toBe('no');
    const denied = await as(alice, ['get', 'pods', '--as=skiff-admin', '--as-group=system:masters']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('users "skiff-admin" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope');
  });

  it('a node token touches only its own Node, Lease and pods, and what they reference: each probe is 403', async () => {
    const api = (path: string, method = 'GET', body?: unknown, type = 'application/json') =>
      cluster.api(path, {
        method,
        token: node,
        body: body === undefined ? undefined : json(body),
        headers: body === undefined ? {} : { 'content-type': type },
      });
    const nodeObject = (name: string) => ({ metadata: { name }, status: { addresses: [{ type: 'InternalIP', address: '169.254.169.254' }] } });
    // Its own Node, and its Lease.
    expect((await api('/api/v1/nodes', 'POST', nodeObject('node-a'))).status).toBe(201);
    const lease = { metadata: { name: 'node-a', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'node-a' } };
    expect((await api('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', 'POST', lease)).status).toBe(201);
    await cluster.kubectlOk(['create', 'configmap', 'used', '--from-literal=a=b']);
    await cluster.kubectlOk(['create', 'configmap', 'unused', '--from-literal=a=b']);
    const pod = (name: string, nodeName: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { nodeName, containers: [{ name: 'c', image: 'busybox', envFrom: [{ configMapRef: { name: 'used' } }] }] },
    });
    await cluster.kubectlOk(['apply', '-f', '-'], { input: json(pod('on-a', 'node-a')) });
    await cluster.kubectlOk(['apply', '-f', '-'], { input: json(pod('on-b', 'node-b')) });
    expect((await api('/api/v1/namespaces/default/configmaps/used')).status).toBe(200);
    expect((await api('/api/v1/namespaces/default/pods/on-a')).status).toBe(200);
    expect((await api(`/api/v1/pods?fieldSelector=${encodeURIComponent('spec.nodeName=node-a')}`)).status).toBe(200);
    expect((await api('/api/v1/namespaces/default/pods/on-a/status', 'PATCH', { status: { phase: 'Running' } }, 'application/merge-patch+json')).status).toBe(
      200,
    );

    const probes: [string, Awaited<ReturnType<typeof api>>][] = [
      ['read Secrets in kube-system', await api('/api/v1/namespaces/kube-system/secrets')],
      ['read every pod', await api('/api/v1/pods')],
      ['read a pod on another node', await api('/api/v1/namespaces/default/pods/on-b')],
      ['read a ConfigMap no pod of its own uses', await api('/api/v1/namespaces/default/configmaps/unused')],
      ['patch another Node', await api('/api/v1/nodes/node-b', 'PATCH', { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json')],
      ['create another Node (the log proxy SSRF)', await api('/api/v1/nodes', 'POST', nodeObject('node-evil'))],
      ['create a pod in kube-system', await api('/api/v1/namespaces/kube-system/pods', 'POST', pod('evil', 'node-a'))],
      ['delete a namespace', await api('/api/v1/namespaces/default', 'DELETE')],
      ['change a pod spec', await api('/api/v1/namespaces/default/pods/on-a', 'PATCH', { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json')],
      [
        "renew another node's Lease",
        await api('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-b', 'PATCH', {}, 'application/merge-patch+json'),
      ],
      ['create a RoleBinding', await api('/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings', 'POST', { metadata: { name: 'x' } })],
    ];
    for (const [probe, r] of probes) {
      expect(r.status, `${probe}: ${r.text}`).toBe(403);
      expect(r.json().reason, probe).toBe('Forbidden');
    }
    expect((await cluster.kubectl(['get', 'node', 'node-evil'])).code).not.toBe(0);
  });

  it("a deleted node's credential stops working", async () => {
    expect((await cluster.api('/api/v1/nodes/node-a', { token: node })).status).toBe(200);
    await cluster.kubectlOk(['delete', 'node', 'node-a']);
    await until('the node token is revoked', async () => (await cluster.api('/api/v1/nodes', { token: node })).status === 401);
  });
});

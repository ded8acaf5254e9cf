/** `kubectl get` answers for every served resource, in a namespace and across all of them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../shared/api/resources.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describe('kubectl get, every resource', () => {
  const named = (r: (typeof RESOURCES)[number]) => (r.group ? `${r.resource}.${r.group}` : r.resource);
  const listed = RESOURCES.filter((r) => r.verbs.includes('list'));
  const asked = RESOURCES.filter((r) => !r.verbs.includes('list'));

  it.each(listed.map((r) => [named(r), r.namespaced] as const))('get %s', async (name, namespaced) => {
    const r = await cluster.kubectl(['get', name]);
    expect(r.code, r.stderr).toBe(0);
    if (namespaced) expect(r.stderr + r.stdout).toMatch(/No resources found in default namespace\.|NAME/);
    const all = await cluster.kubectl(['get', name, '-A', '-o', 'json']);
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).kind).toBe('List');
  });

  // The kinds that are only asked (the access reviews) are not listed: kubectl says the method is not allowed.
  it.each(asked.map((r) => [named(r)] as const))('get %s is refused, as only create is served', async (name) => {
    const r = await cluster.kubectl(['get', name]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('the server does not allow this method on the requested resource');
  });

  it('the namespaces that exist from the start', async () => {
    const out = await cluster.kubectlOk(['get', 'namespaces', '-o', 'name']);
    expect(out.trim().split('\n').sort()).toEqual(['namespace/default', 'namespace/kube-node-lease', 'namespace/kube-public', 'namespace/kube-system']);
  });

  it('pods/log answers a clear error when no kubelet can serve them', async () => {
    await cluster.api('/api/v1/namespaces/default/pods', {
      method: 'POST',
      body: JSON.stringify({ metadata: { name: 'quiet' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }),
      headers: { 'content-type': 'application/json' },
    });
    const r = await cluster.kubectl(['logs', 'quiet']);
    expect(r.code).not.toBe(0);
    // Embedded with no kubelets, the API has no log source at all; in the AWS shape it has one,
    // and the pod, never scheduled, has no kubelet to ask (kube-apiserver's words).
    expect(r.stderr).toMatch(/Error from server \(BadRequest\): .*(no kubelet serves logs in this cluster yet|pod quiet does not have a host assigned)/);
  });
});

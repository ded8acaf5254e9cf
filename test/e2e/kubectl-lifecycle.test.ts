/**
 * Imperative creates (which kubectl sends as protobuf), deletion in all its forms, waiting on
 * conditions, describe with events, and watching: what a user sees from the real kubectl.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster({ watchBookmarkIntervalMs: 500 });
});
afterAll(async () => {
  await cluster?.stop();
});

const post = (path: string, body: unknown) =>
  cluster.api(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pod(name: string, labels: Record<string, string> = {}, nodeName?: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { nodeName, containers: [{ name: 'main', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
  };
}

describe('imperative creates', () => {
  it('create namespace, configmap, secret, deployment and service', async () => {
    expect((await cluster.kubectlOk(['create', 'namespace', 'shop'])).trim()).toBe('namespace/shop created');
    expect((await cluster.kubectlOk(['create', 'configmap', 'settings', '-n', 'shop', '--from-literal=color=blue'])).trim()).toBe('configmap/settings created');
    expect((await cluster.kubectlOk(['create', 'secret', 'generic', 'creds', '-n', 'shop', '--from-literal=password=s3cr3t'])).trim()).toBe(
      'secret/creds created',
    );
    expect((await cluster.kubectlOk(['create', 'deployment', 'web', '-n', 'shop', '--image=nginx:1.25', '--replicas=3', '--port=80'])).trim()).toBe(
      'deployment.apps/web created',
    );
    expect((await cluster.kubectlOk(['create', 'service', 'clusterip', 'web', '-n', 'shop', '--tcp=80:8080'])).trim()).toBe('service/web created');
    const secret = JSON.parse(await cluster.kubectlOk(['get', 'secret', 'creds', '-n', 'shop', '-o', 'json']));
    expect(Buffer.from(secret.data.password, 'base64').toString()).toBe('s3cr3t');
    expect(secret.type).toBe('Opaque');
    const deploy = JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'web', '-n', 'shop', '-o', 'json']));
    expect(deploy.spec.replicas).toBe(3);
    expect(deploy.spec.template.spec.containers[0]).toMatchObject({ name: 'nginx', image: 'nginx:1.25', imagePullPolicy: 'IfNotPresent' });
    const svc = await cluster.kubectlOk(['get', 'svc', 'web', '-n', 'shop']);
    expect(svc).toMatch(/^web\s+ClusterIP\s+127\.96\.\d+\.\d+\s+<none>\s+80\/TCP\s+\d+s$/m);
    const ns = await cluster.kubectlOk(['get', 'ns', 'shop']);
    expect(ns).toMatch(/^shop\s+Active\s+/m);
  });

  it('refuses a namespaced create in a namespace that does not exist', async () => {
    const r = await cluster.kubectl(['create', 'configmap', 'x', '-n', 'nowhere', '--from-literal=a=b']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('namespaces "nowhere" not found');
  });
});

describe('delete', () => {
  it('by name, by label, and --all', async () => {
    for (const name of ['a', 'b', 'c', 'd'])
      await post('/api/v1/namespaces/default/configmaps', { metadata: { name, labels: { group: name < 'c' ? 'first' : 'second' } } });
    expect((await cluster.kubectlOk(['delete', 'cm', 'a'])).trim()).toBe('configmap "a" deleted');
    expect((await cluster.kubectlOk(['delete', 'cm', '-l', 'group=second'])).trim().split('\n').sort()).toEqual([
      'configmap "c" deleted',
      'configmap "d" deleted',
    ]);
    expect((await cluster.kubectlOk(['delete', 'cm', '--all'])).trim()).toBe('configmap "b" deleted');
    expect((await cluster.kubectlOk(['get', 'cm', '-o', 'name'])).trim()).toBe('');
  });

  it('--cascade=foreground and --cascade=orphan record their intent as finalizers for the garbage collector', async () => {
    await cluster.kubectlOk(['create', 'deployment', 'fg', '--image=nginx']);
    await cluster.kubectlOk(['create', 'deployment', 'orph', '--image=nginx']);
    await cluster.kubectlOk(['delete', 'deploy', 'fg', '--cascade=foreground', '--wait=false']);
    await cluster.kubectlOk(['delete', 'deploy', 'orph', '--cascade=orphan', '--wait=false']);
    const fg = (await cluster.api('/apis/apps/v1/namespaces/default/deployments/fg')).json();
    const orph = (await cluster.api('/apis/apps/v1/namespaces/default/deployments/orph')).json();
    expect(fg.metadata.finalizers).toEqual(['foregroundDeletion']);
    expect(fg.metadata.deletionTimestamp).toBeTruthy();
    expect(orph.metadata.finalizers).toEqual(['orphan']);
    // The garbage collector removes the finalizer when done; then the object goes.
    await cluster.api('/apis/apps/v1/namespaces/default/deployments/orph', {
      method: 'PATCH',
      body: JSON.stringify({ metadata: { finalizers: null } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect((await cluster.api('/apis/apps/v1/namespaces/default/deployments/orph')).status).toBe(404);
  });

  it('a pod on a node is deleted gracefully: it lingers Terminating until its kubelet confirms', async () => {
    await post('/api/v1/namespaces/default/pods', pod('graceful', {}, 'node-1'));
    await cluster.kubectlOk(['delete', 'pod', 'graceful', '--wait=false']);
    const lingering = (await cluster.api('/api/v1/namespaces/default/pods/graceful')).json();
    expect(lingering.metadata.deletionGracePeriodSeconds).toBe(30);
    expect(await cluster.kubectlOk(['get', 'pod', 'graceful'])).toMatch(/Terminating/);
    // The kubelet confirms with a zero grace period.
    const confirm = await cluster.api('/api/v1/namespaces/default/pods/graceful', {
      method: 'DELETE',
      body: JSON.stringify({ gracePeriodSeconds: 0 }),
      headers: { 'content-type': 'application/json' },
    });
    expect(confirm.status, confirm.text).toBe(200);
    expect((await cluster.api('/api/v1/namespaces/default/pods/graceful')).status).toBe(404);
  });
});

describe('deletecollection', () => {
  it('DELETE on a collection deletes what the selector matches and answers the list of them', async () => {
    for (const [name, tier] of [
      ['dc-1', 'a'],
      ['dc-2', 'a'],
      ['dc-3', 'b'],
    ])
      await post('/api/v1/namespaces/default/configmaps', { metadata: { name, labels: { dc: tier } } });
    const r = await cluster.api('/api/v1/namespaces/default/configmaps?labelSelector=dc%3Da', { method: 'DELETE' });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ kind: 'ConfigMapList', apiVersion: 'v1' });
    expect(
      r
        .json()
        .items.map((i: { metadata: { name: string } }) => i.metadata.name)
        .sort(),
    ).toEqual(['dc-1', 'dc-2']);
    const left = (await cluster.api('/api/v1/namespaces/default/configmaps?labelSelector=dc')).json();
    expect(left.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['dc-3']);
  });
});

describe('wait', () => {
  it('--for=condition=Ready returns when the pod turns Ready', async () => {
    await post('/api/v1/namespaces/default/pods', pod('waiter'));
    const waiting = cluster.kubectl(['wait', '--for=condition=Ready', 'pod/waiter', '--timeout=20s']);
    await sleep(800);
    const status = await cluster.api('/api/v1/namespaces/default/pods/waiter/status', {
      method: 'PATCH',
      body: JSON.stringify({ status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(status.status).toBe(200);
    const r = await waiting;
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('pod/waiter condition met');
  });

  it('--for=delete returns when the object is gone', async () => {
    await post('/api/v1/namespaces/default/configmaps', { metadata: { name: 'doomed' } });
    const waiting = cluster.kubectl(['wait', '--for=delete', 'configmap/doomed', '--timeout=20s']);
    await sleep(800);
    await cluster.api('/api/v1/namespaces/default/configmaps/doomed', { method: 'DELETE' });
    const r = await waiting;
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('configmap/doomed condition met');
  });
});

describe('describe', () => {
  it('describe pod, deployment and node show their details and events', async () => {
    await post('/api/v1/nodes', {
      metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } },
      spec: { taints: [{ key: 'example.com/gpu', value: 'true', effect: 'NoSchedule' }] },
      status: {
        capacity: { cpu: '2', memory: '4Gi', pods: '110' },
        allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is ready' }],
      },
    });
    await post('/api/v1/namespaces/default/pods', pod('described', { app: 'd' }, 'node-1'));
    const created = (await cluster.api('/api/v1/namespaces/default/pods/described')).json();
    await post('/api/v1/namespaces/default/events', {
      metadata: { name: 'described.1' },
      involvedObject: { kind: 'Pod', namespace: 'default', name: 'described', uid: created.metadata.uid, apiVersion: 'v1' },
      reason: 'Scheduled',
      message: 'Successfully assigned default/described to node-1',
      type: 'Normal',
      source: { component: 'default-scheduler' },
      count: 1,
      firstTimestamp: new Date().toISOString().replace(/\.\d+Z/, 'Z'),
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z/, 'Z'),
    });
    const describedPod = await cluster.kubectlOk(['describe', 'pod', 'described']);
    expect(describedPod).toMatch(/^Name:\s+described$/m);
    expect(describedPod).toMatch(/^Node:\s+node-1/m);
    expect(describedPod).toMatch(/Image:\s+busybox:1\.36/);
    expect(describedPod).toMatch(/Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/described to node-1/);

    await cluster.kubectlOk(['create', 'deployment', 'described', '--image=nginx:1.25']);
    const deploy = (await cluster.api('/apis/apps/v1/namespaces/default/deployments/described')).json();
    const now = new Date().toISOString().replace(/\.\d+Z/, 'Z');
    await post('/api/v1/namespaces/default/events', {
      metadata: { name: 'described.2' },
      involvedObject: { kind: 'Deployment', namespace: 'default', name: 'described', uid: deploy.metadata.uid, apiVersion: 'apps/v1' },
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set described-abc to 1',
      type: 'Normal',
      source: { component: 'deployment-controller' },
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
    });
    await post('/api/v1/namespaces/default/events', {
      metadata: { name: 'node-1.1' },
      involvedObject: { kind: 'Node', name: 'node-1', uid: 'node-1', apiVersion: 'v1' },
      reason: 'NodeReady',
      message: 'Node node-1 status is now: NodeReady',
      type: 'Normal',
      source: { component: 'kubelet', host: 'node-1' },
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
    });
    const describedDeploy = await cluster.kubectlOk(['describe', 'deployment', 'described']);
    expect(describedDeploy).toMatch(/Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set described-abc to 1/);
    expect(describedDeploy).toMatch(/^StrategyType:\s+RollingUpdate$/m);
    expect(describedDeploy).toMatch(/^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$/m);
    expect(describedDeploy).toMatch(/Port:\s+<none>/);

    const describedNode = await cluster.kubectlOk(['describe', 'node', 'node-1']);
    expect(describedNode).toMatch(/^Taints:\s+example\.com\/gpu=true:NoSchedule$/m);
    expect(describedNode).toMatch(/default\s+described\s+0 \(0%\)/);
    expect(describedNode).toMatch(/Normal\s+NodeReady\s+\S+\s+kubelet\s+Node node-1 status is now: NodeReady/);
  });
});

describe('watch', () => {
  it('get -w prints changes as they happen', async () => {
    const child = spawn('kubectl', ['get', 'configmaps', '-w'], {
      env: { ...process.env, KUBECONFIG: cluster.server.kubeconfigPath, KUBECACHEDIR: `${cluster.dir}/kube-cache` },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    try {
      await sleep(1500);
      await post('/api/v1/namespaces/default/configmaps', { metadata: { name: 'watched' }, data: { a: '1' } });
      const deadline = Date.now() + 10_000;
      while (!/watched\s+1\s+/.test(out) && Date.now() < deadline) await sleep(50);
      expect(out).toMatch(/^watched\s+1\s+\d+s$/m);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

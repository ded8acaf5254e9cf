/**
 * Node bootstrap: a worker joins with a short-lived bootstrap token (a kube-system Secret of
 * type bootstrap.kubernetes.io/token, as `kubeadm token create` makes) and receives its own
 * node credential; the bootstrap token can do nothing else, and stops working when it expires
 * or its Secret goes. A real kubelet process joins this way and registers its Node: the kubelet
 * the API serves (its one-file build), fetched by the launch script's own lines with the
 * bootstrap token, as a worker in the cloud fetches it.
 */
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keptServing, nodeCredential } from '../../kubelet/bootstrap.js';
import { onceBuilt } from '../../kubelet/bundle.js';
import { fetchKubelet, KUBELET_BUNDLE_PATH } from '../../shared/cloud/kubelet-script.js';
import { kubeletCredential } from '../../shared/auth/cluster-state.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { until } from '../support/until.js';

let cluster: TestCluster;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-bootstrap-'));
  cluster = await startTestCluster({ kubeletBundle: onceBuilt(join(dir, 'build', 'skiff-kubelet.mjs')) });
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

async function bootstrapToken(id: string, secret: string, expiration = inAnHour()): Promise<string> {
  await cluster.kubectlOk([
    'create',
    'secret',
    'generic',
    `bootstrap-token-${id}`,
    '-n',
    'kube-system',
    '--type',
    'bootstrap.kubernetes.io/token',
    `--from-literal=token-id=${id}`,
    `--from-literal=token-secret=${secret}`,
    `--from-literal=expiration=${expiration}`,
    '--from-literal=usage-bootstrap-authentication=true',
  ]);
  return `${id}.${secret}`;
}

const post = (path: string, token: string, body: unknown = {}) =>
  cluster.api(path, { method: 'POST', token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

async function whoami(token: string): Promise<{ username: string; groups: string[] } | number> {
  const r = await post('/apis/authentication.k8s.io/v1/selfsubjectreviews', token, { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
  return r.status === 201 ? r.json().status.userInfo : r.status;
}

const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });

describe('node bootstrap', () => {
  it('a bootstrap token is exchanged for the node credential, and can do nothing else', async () => {
    const token = await bootstrapToken('abcdef', '0123456789abcdef');
    expect(await whoami(token)).toMatchObject({ username: 'system:bootstrap:abcdef', groups: expect.arrayContaining(['system:bootstrappers']) });
    expect((await cluster.api('/api/v1/namespaces/kube-system/secrets', { token })).status).toBe(403);
    expect((await cluster.api('/api/v1/nodes', { token })).status).toBe(403);
    expect((await post('/api/v1/nodes', token, node('sneaky'))).status).toBe(403);

    const credentialFile = join(dir, 'joiner.token');
    const credential = await nodeCredential({
      server: cluster.server.url,
      ca: cluster.server.caCert,
      nodeName: 'joiner',
      credentialFile,
      bootstrapToken: token,
    });
    expect(statSync(credentialFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(credentialFile, 'utf8')).toBe(credential);
    // A later start uses the kept credential, without asking again.
    expect(await nodeCredential({ server: 'https://127.0.0.1:1', nodeName: 'joiner', credentialFile })).toBe(credential);

    expect(await whoami(credential)).toMatchObject({ username: 'system:node:joiner', groups: expect.arrayContaining(['system:nodes']) });
    expect((await post('/api/v1/nodes', credential, node('joiner'))).status).toBe(201);
    expect((await post('/api/v1/nodes', credential, node('other'))).status).toBe(403);
    // A node does not make credentials, for itself or others.
    expect((await post('/api/v1/nodes/other/credential', credential)).status).toBe(403);
    expect((await post('/api/v1/nodes/Not_A_Name/credential', token)).status).toBe(422);

    // Joining again under the same name retires the credential before.
    const again = (await post('/api/v1/nodes/joiner/credential', token)).json().status.token as string;
    expect(await whoami(again)).toMatchObject({ username: 'system:node:joiner' });
    expect(await whoami(credential)).toBe(401);
  });

  it('a kubelet that names its addresses also gets its serving credential and a certificate the cluster CA signed for them', async () => {
    const token = await bootstrapToken('srvtok', 'eeeeeeeeeeeeeeee');
    const credentialFile = join(dir, 'server-0.token');
    await nodeCredential({
      server: cluster.server.url,
      ca: cluster.server.caCert,
      nodeName: 'server-0',
      credentialFile,
      bootstrapToken: token,
      servingAddresses: ['127.0.0.9'],
    });
    const serving = keptServing(credentialFile);
    expect(serving).toBeDefined();
    expect(statSync(`${credentialFile}.serving.json`).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(serving!.certificate);
    expect(cert.verify(new X509Certificate(cluster.server.caCert).publicKey)).toBe(true);
    expect(cert.checkIP('127.0.0.9')).toBe('127.0.0.9');
    expect(cert.checkIP('127.0.0.10')).toBeUndefined();
    // The API keeps the serving credential, to send to that kubelet alone.
    expect(await kubeletCredential(cluster.store, 'server-0')).toBe(serving!.token);
    // Addresses must be IP addresses, at most 8.
    const bad = await post('/api/v1/nodes/server-1/credential', token, { spec: { addresses: ['not-an-ip'] } });
    expect(bad.status).toBe(422);
    expect(bad.json().message).toContain('spec.addresses');
  });

  it('a wrong secret, an expired token and a deleted Secret sign in no one', async () => {
    const token = await bootstrapToken('qwerty', 'aaaaaaaaaaaaaaaa');
    expect(await whoami('qwerty.bbbbbbbbbbbbbbbb')).toBe(401);
    const expired = await bootstrapToken('zxcvbn', 'cccccccccccccccc', new Date(Date.now() - 1000).toISOString());
    expect(await whoami(expired)).toBe(401);
    expect((await post('/api/v1/nodes/late/credential', expired)).status).toBe(401);
    expect(await whoami(token)).toMatchObject({ username: 'system:bootstrap:qwerty' });
    await cluster.kubectlOk(['delete', 'secret', '-n', 'kube-system', 'bootstrap-token-qwerty']);
    expect(await whoami(token)).toBe(401);
  });

  it('a kubelet fetched from the API with a bootstrap token joins and registers its Node', async () => {
    const token = await bootstrapToken('kublet', 'dddddddddddddddd');
    writeFileSync(join(dir, 'bootstrap'), token, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), cluster.server.caCert);
    // Only those who join (and admins) may fetch it.
    expect((await cluster.api(KUBELET_BUNDLE_PATH, { token: 'nobody' })).status).toBe(401);
    // Not spawnSync: the API answering it runs in this process.
    await promisify(execFile)('sh', ['-c', fetchKubelet(cluster.server.url).join('\n')], { env: { ...process.env, dir }, timeout: 60_000 });
    const bundle = join(dir, 'skiff-kubelet.mjs');
    expect(readFileSync(bundle)).toEqual(readFileSync(join(dir, 'build', 'skiff-kubelet.mjs')));
    const kubelet = spawn(
      process.execPath,
      [
        bundle,
        '--name',
        'joined-0',
        '--server',
        cluster.server.url,
        '--ca-file',
        join(dir, 'ca.crt'),
        '--bootstrap-token-file',
        join(dir, 'bootstrap'),
        '--token-file',
        join(dir, 'joined-0.token'),
        '--data-dir',
        join(dir, 'joined-0'),
        '--pod-cidr',
        '127.61.0.0/16',
        '--register-with-taints',
        'example.com/dedicated=ci:NoSchedule,example.com/spot:PreferNoSchedule',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    kubelet.stdout.on('data', (d) => (out += String(d)));
    kubelet.stderr.on('data', (d) => (out += String(d)));
    const exited = new Promise((r) => kubelet.once('exit', r));
    try {
      const ready = await until(
        `node joined-0 Ready\n${out}`,
        async () => {
          const r = await cluster.api('/api/v1/nodes/joined-0');
          return r.status === 200 && r.json().status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
        },
        30_000,
      );
      expect(ready).toBe(true);
      // Made with the taints it was started with, as kubelet's --register-with-taints.
      expect((await cluster.api('/api/v1/nodes/joined-0')).json().spec.taints).toEqual([
        { key: 'example.com/dedicated', value: 'ci', effect: 'NoSchedule' },
        { key: 'example.com/spot', effect: 'PreferNoSchedule' },
      ]);
      expect(await whoami(readFileSync(join(dir, 'joined-0.token'), 'utf8'))).toMatchObject({ username: 'system:node:joined-0' });
    } finally {
      kubelet.kill('SIGTERM');
      await exited;
    }
  });
});

/**
 * A user drives Skiff's API with the real kubectl: creates, reads in every output format,
 * applies (client-side three times, server-side), diffs, replaces, patches, labels, scales
 * and edits, and sees what a Kubernetes cluster would show.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const deployment = (image: string, replicas = 2, extra = '') => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: ${image}
        ports:
        - containerPort: 80
${extra}`;

function manifest(name: string, text: string): string {
  const path = join(cluster.dir, name);
  writeFileSync(path, text);
  return path;
}

describe('discovery', () => {
  it('kubectl version shows the server version', async () => {
    const out = await cluster.kubectlOk(['version']);
    expect(out).toMatch(/Server Version: v1\.32\.\d+/);
  });

  it('kubectl api-resources lists every served resource with its short names', async () => {
    const out = await cluster.kubectlOk(['api-resources', '--no-headers']);
    for (const line of [
      /^pods\s+po\s+v1\s+true\s+Pod$/m,
      /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m,
      /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m,
      /^nodes\s+no\s+v1\s+false\s+Node$/m,
    ]) {
      expect(out).toMatch(line);
    }
  });

  it('kubectl cluster-info names the control plane', async () => {
    const out = await cluster.kubectlOk(['cluster-info']);
    expect(out).toContain(cluster.server.url);
  });
});

describe('create and get', () => {
  it('create -f makes a Deployment with server-side defaults', async () => {
    const out = await cluster.kubectlOk(['create', '-f', manifest('d1.yaml', deployment('nginx:1.25'))]);
    expect(out.trim()).toBe('deployment.apps/web created');
    const obj = JSON.parse(await cluster.kubectlOk(['get', 'deployment', 'web', '-o', 'json']));
    expect(obj.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } });
    expect(obj.spec.template.spec.containers[0].ports[0].protocol).toBe('TCP');
    expect(obj.metadata.generation).toBe(1);
    const again = await cluster.kubectl(['create', '-f', manifest('d1.yaml', deployment('nginx:1.25'))]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('deployments.apps "web" already exists');
  });

  it('get prints the columns users expect, and -o wide adds more', async () => {
    const out = await cluster.kubectlOk(['get', 'deployments']);
    expect(out).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
    // No node runs them: none ready or available (the AWS shape's controllers may have made them, up to date).
    expect(out).toMatch(/^web\s+0\/2\s+[0-2]\s+0\s+\d+s$/m);
    const wide = await cluster.kubectlOk(['get', 'deploy', '-o', 'wide']);
    expect(wide).toMatch(/CONTAINERS\s+IMAGES\s+SELECTOR/);
    expect(wide).toMatch(/web\s+nginx:1\.25\s+app=web/);
  });

  it('get -o yaml, name and jsonpath', async () => {
    const yaml = parseYaml(await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'yaml']));
    expect(yaml.kind).toBe('Deployment');
    expect((await cluster.kubectlOk(['get', 'deploy', '-o', 'name'])).trim()).toBe('deployment.apps/web');
    expect(await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).toBe('nginx:1.25');
  });

  it('get with -l, --field-selector and -A', async () => {
    await cluster.kubectlOk(['create', 'namespace', 'team-a']).catch(async () => {
      // create namespace sends protobuf; fall back to a manifest if that path is not served.
      await cluster.kubectlOk(['apply', '-f', manifest('ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n')]);
    });
    await cluster.kubectlOk([
      'apply',
      '-f',
      manifest(
        'cms.yaml',
        `
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: default, labels: {tier: front}}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two, namespace: default, labels: {tier: back}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: three, namespace: team-a, labels: {tier: front}}
`,
      ),
    ]);
    expect((await cluster.kubectlOk(['get', 'cm', '-l', 'tier=front', '-o', 'name'])).trim()).toBe('configmap/one');
    expect((await cluster.kubectlOk(['get', 'cm', '-l', 'tier in (front,back)', '-o', 'name'])).trim().split('\n').sort()).toEqual([
      'configmap/one',
      'configmap/two',
    ]);
    expect((await cluster.kubectlOk(['get', 'cm', '--field-selector', 'metadata.name=two', '-o', 'name'])).trim()).toBe('configmap/two');
    const all = await cluster.kubectlOk(['get', 'cm', '-A', '-l', 'tier=front']);
    expect(all).toMatch(/^NAMESPACE\s+NAME\s+DATA\s+AGE$/m);
    expect(all).toMatch(/^default\s+one\s+1\s+/m);
    expect(all).toMatch(/^team-a\s+three\s+0\s+/m);
    const bad = await cluster.kubectl(['get', 'pods', '--field-selector', 'spec.bogus=1']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('field label not supported: spec.bogus');
  });

  it('get --chunk-size pages through a list with continue tokens', async () => {
    for (let i = 0; i < 7; i++) {
      await cluster.api('/api/v1/namespaces/default/secrets', {
        method: 'POST',
        body: JSON.stringify({ metadata: { name: `s${i}` }, stringData: { a: 'b' } }),
        headers: { 'content-type': 'application/json' },
      });
    }
    const out = await cluster.kubectlOk(['get', 'secrets', '--chunk-size=2', '-o', 'name']);
    expect(out.trim().split('\n')).toEqual(Array.from({ length: 7 }, (_, i) => `secret/s${i}`));
  });
});

describe('apply, diff, replace', () => {
  it('client-side apply: first, unchanged, changed; the object and last-applied annotation follow', async () => {
    const file = manifest('apply.yaml', deployment('busybox:1.36', 1).replace('name: web\n', 'name: applied\n'));
    expect((await cluster.kubectlOk(['apply', '-f', file])).trim()).toBe('deployment.apps/applied created');
    expect((await cluster.kubectlOk(['apply', '-f', file])).trim()).toBe('deployment.apps/applied unchanged');
    writeFileSync(file, deployment('busybox:1.37', 3).replace('name: web\n', 'name: applied\n'));
    expect((await cluster.kubectlOk(['apply', '-f', file])).trim()).toBe('deployment.apps/applied configured');
    const obj = JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'applied', '-o', 'json']));
    expect(obj.spec.replicas).toBe(3);
    expect(obj.spec.template.spec.containers).toHaveLength(1);
    expect(obj.spec.template.spec.containers[0].image).toBe('busybox:1.37');
    const lastApplied = JSON.parse(obj.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
    expect(lastApplied.spec.replicas).toBe(3);
    expect(obj.metadata.generation).toBe(2);
  });

  it('a kind: List file (what get -o yaml prints for several objects) is created, applied back and checked item by item', async () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: ['one', 'two'].map((name) => ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `listed-${name}`, labels: { from: 'list' } },
        data: { name },
      })),
    };
    const file = manifest('list.yaml', JSON.stringify(list));
    expect((await cluster.kubectlOk(['create', '-f', file])).trim().split('\n')).toEqual(['configmap/listed-one created', 'configmap/listed-two created']);
    // What get -o yaml prints for the two is a List too, and applies back over them.
    const printed = manifest('printed.yaml', await cluster.kubectlOk(['get', 'cm', '-l', 'from=list', '-o', 'yaml']));
    expect(readFileSync(printed, 'utf8')).toMatch(/^kind: List$/m);
    const applied = await cluster.kubectl(['apply', '-f', printed]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout.trim().split('\n')).toEqual(['configmap/listed-one configured', 'configmap/listed-two configured']);
    list.items[1].data = { name: 'changed' };
    writeFileSync(file, JSON.stringify(list));
    // Server-side, item by item too: the changed value was kubectl create's, so taken by force.
    const conflict = await cluster.kubectl(['apply', '--server-side', '-f', file]);
    expect(conflict.stderr).toContain('conflict with "kubectl-create": .data.name');
    expect((await cluster.kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', file])).trim().split('\n')).toEqual([
      'configmap/listed-one serverside-applied',
      'configmap/listed-two serverside-applied',
    ]);
    expect(await cluster.kubectlOk(['get', 'cm', 'listed-two', '-o', 'jsonpath={.data.name}'])).toBe('changed');
    // An item with a field no ConfigMap has is refused by the server's strict field validation, as alone.
    const bad = manifest('bad-list.yaml', JSON.stringify({ ...list, items: [{ ...list.items[0], datum: { x: 'y' } }] }));
    const refused = await cluster.kubectl(['apply', '-f', bad]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('unknown field "datum"');
  });

  it('apply --server-side creates, updates, and reports conflicts with another manager', async () => {
    const file = manifest(
      'ssa.yaml',
      `apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
data:
  color: blue
  size: large
`,
    );
    expect((await cluster.kubectlOk(['apply', '--server-side', '-f', file])).trim()).toBe('configmap/ssa serverside-applied');
    let obj = JSON.parse(await cluster.kubectlOk(['get', 'cm', 'ssa', '-o', 'json', '--show-managed-fields']));
    expect(obj.metadata.managedFields[0]).toMatchObject({ manager: 'kubectl', operation: 'Apply' });
    expect(obj.metadata.managedFields[0].fieldsV1).toEqual({ 'f:data': { 'f:color': {}, 'f:size': {} } });
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  color: red\n');
    await cluster.kubectlOk(['apply', '--server-side', '-f', file]);
    obj = JSON.parse(await cluster.kubectlOk(['get', 'cm', 'ssa', '-o', 'json']));
    expect(obj.data).toEqual({ color: 'red' });
    const other = await cluster.kubectl([
      'apply',
      '--server-side',
      '--field-manager=other',
      '-f',
      manifest('ssa2.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  color: green\n'),
    ]);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/conflict/i);
    expect(other.stderr).toContain('.data.color');
    await cluster.kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=other', '-f', join(cluster.dir, 'ssa2.yaml')]);
    obj = JSON.parse(await cluster.kubectlOk(['get', 'cm', 'ssa', '-o', 'json']));
    expect(obj.data.color).toBe('green');
  });

  it('server-side apply: equal values are shared by managers, list items by merge key too; force moves only the conflicting fields', async () => {
    const text = deployment('nginx:1.27', 2)
      .replace(/name: web/g, 'name: shared')
      .replace(/app: web/g, 'app: shared');
    const file = manifest('shared.yaml', text);
    await cluster.kubectlOk(['apply', '--server-side', '--field-manager=ci', '-f', file]);
    // A second manager applying the identical manifest shares every field: no conflict.
    const same = await cluster.kubectl(['apply', '--server-side', '--field-manager=cd', '-f', file]);
    expect(same.stderr).not.toMatch(/conflict/i);
    expect(same.code).toBe(0);
    let obj = JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'shared', '-o', 'json', '--show-managed-fields']));
    const owners = (field: string) =>
      obj.metadata.managedFields
        .filter((e: { fieldsV1: unknown }) => JSON.stringify(e.fieldsV1).includes(field))
        .map((e: { manager: string }) => e.manager)
        .sort();
    expect(owners('"f:image"')).toEqual(['cd', 'ci']);
    // A changed image conflicts; with --force-conflicts cd takes the image alone, replicas stay shared.
    writeFileSync(file, text.replace('nginx:1.27', 'nginx:1.28'));
    const changed = await cluster.kubectl(['apply', '--server-side', '--field-manager=cd', '-f', file]);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('.spec.template.spec.containers[name="shared"].image');
    expect(changed.stderr).not.toContain('.spec.replicas');
    await cluster.kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=cd', '-f', file]);
    obj = JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'shared', '-o', 'json', '--show-managed-fields']));
    expect(owners('"f:image"')).toEqual(['cd']);
    expect(owners('"f:replicas"')).toEqual(['cd', 'ci']);
  });

  it('server-side apply after a client-side apply of the same file does not conflict', async () => {
    const file = join(process.cwd(), 'examples', 'batch.yaml');
    const ns = 'csa-to-ssa';
    await cluster.kubectlOk(['create', 'namespace', ns]);
    await cluster.kubectlOk(['apply', '-n', ns, '-f', file]);
    const ssa = await cluster.kubectl(['apply', '-n', ns, '--server-side', '-f', file]);
    expect(ssa.stderr).not.toMatch(/conflict/i);
    expect(ssa.code).toBe(0);
  });

  it('diff shows what apply would change and changes nothing', async () => {
    const file = manifest('diff.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n  labels:\n    tier: front\ndata:\n  k: changed\n');
    const r = await cluster.kubectl(['diff', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^-\s+k: v$/m);
    expect(r.stdout).toMatch(/^\+\s+k: changed$/m);
    const obj = JSON.parse(await cluster.kubectlOk(['get', 'cm', 'one', '-o', 'json']));
    expect(obj.data.k).toBe('v');
  });

  it('replace swaps the whole object', async () => {
    const current = JSON.parse(await cluster.kubectlOk(['get', 'cm', 'two', '-o', 'json']));
    current.data = { replaced: 'yes' };
    const out = await cluster.kubectlOk(['replace', '-f', manifest('replace.json', JSON.stringify(current))]);
    expect(out.trim()).toBe('configmap/two replaced');
    expect(JSON.parse(await cluster.kubectlOk(['get', 'cm', 'two', '-o', 'json'])).data).toEqual({ replaced: 'yes' });
    // A stale resourceVersion is a conflict.
    const stale = await cluster.kubectl(['replace', '-f', join(cluster.dir, 'replace.json')]);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain('the object has been modified; please apply your changes to the latest version and try again');
  });
});

describe('patch, label, annotate, scale, edit', () => {
  it('patch with strategic merge, merge and JSON patch', async () => {
    await cluster.kubectlOk(['patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}']);
    let obj = JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'json']));
    expect(obj.spec.template.spec.containers).toHaveLength(1);
    expect(obj.spec.template.spec.containers[0]).toMatchObject({ name: 'web', image: 'nginx:1.26', ports: [{ containerPort: 80, protocol: 'TCP' }] });
    await cluster.kubectlOk(['patch', 'deploy', 'web', '--type=merge', '-p', '{"metadata":{"labels":{"patched":"merge"}}}']);
    await cluster.kubectlOk(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":4}]']);
    obj = JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'json']));
    expect(obj.metadata.labels.patched).toBe('merge');
    expect(obj.spec.replicas).toBe(4);
    const bad = await cluster.kubectl(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":9}]']);
    expect(bad.code).not.toBe(0);
  });

  it('set image sends $setElementOrder and keeps the other containers', async () => {
    await cluster.kubectlOk(['patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:1"}]}}}}']);
    await cluster.kubectlOk(['set', 'image', 'deployment/web', 'web=nginx:1.27']);
    const obj = JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'json']));
    expect(obj.spec.template.spec.containers.map((c: { name: string; image: string }) => `${c.name}=${c.image}`)).toEqual(['web=nginx:1.27', 'side=busybox:1']);
  });

  it('label and annotate', async () => {
    await cluster.kubectlOk(['label', 'cm', 'one', 'env=prod']);
    await cluster.kubectlOk(['annotate', 'cm', 'one', 'owner=team-a']);
    let obj = JSON.parse(await cluster.kubectlOk(['get', 'cm', 'one', '-o', 'json']));
    expect(obj.metadata.labels).toMatchObject({ env: 'prod', tier: 'front' });
    expect(obj.metadata.annotations.owner).toBe('team-a');
    await cluster.kubectlOk(['label', 'cm', 'one', 'env-']);
    obj = JSON.parse(await cluster.kubectlOk(['get', 'cm', 'one', '-o', 'json']));
    expect(obj.metadata.labels.env).toBeUndefined();
    const bad = await cluster.kubectl(['label', 'cm', 'one', 'bad key=x']);
    expect(bad.code).not.toBe(0);
  });

  it('scale reads and writes the scale subresource', async () => {
    expect((await cluster.kubectlOk(['scale', 'deploy', 'web', '--replicas=5'])).trim()).toBe('deployment.apps/web scaled');
    expect(JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'json'])).spec.replicas).toBe(5);
    const guarded = await cluster.kubectl(['scale', 'deploy', 'web', '--current-replicas=2', '--replicas=1']);
    expect(guarded.code).not.toBe(0);
    expect(JSON.parse(await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'json'])).spec.replicas).toBe(5);
  });

  it('edit with a non-interactive editor', async () => {
    const editor = manifest('editor.sh', '#!/bin/sh\nsed -i "s/k: v$/k: edited/" "$1"\n');
    await import('node:fs').then((fs) => fs.chmodSync(editor, 0o755));
    const out = await cluster.kubectlOk(['edit', 'cm', 'one'], { env: { KUBE_EDITOR: editor, EDITOR: editor } });
    expect(out.trim()).toBe('configmap/one edited');
    expect(JSON.parse(await cluster.kubectlOk(['get', 'cm', 'one', '-o', 'json'])).data.k).toBe('edited');
  });
});

/**
 * Volumes and storage with the real kubectl on `skiff up` (two nodes, process runtime): a pod
 * reads a mounted ConfigMap and sees it change; the default local-path StorageClass provisions
 * a volume on the node of the claim's first pod, whose data a later pod finds there; a claim in
 * use waits for its pod before it goes, and its volume and folder go after it; a static volume
 * binds to the claim that fits it; a claim nothing can bind holds its pod Pending, with the
 * scheduler's reason; a StatefulSet's ordered pods, claims, DNS names, rollout, history and undo.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { kubectlOf, skiffUpForFile } from '../support/skiff-up.js';

const { dir, cluster } = skiffUpForFile('skiff-storage-', [
  '--nodes',
  '2',
  '--runtime',
  'process',
  '--volume-sync-seconds',
  '1',
  '--ingress-http-port',
  '0',
  '--ingress-https-port',
  '0',
]);
const { kubectl, ok } = kubectlOf(cluster);
/** Retries an assertion until it holds, failing with its last error. */
const eventually = (assertion: () => Promise<void>, timeout: number) => vi.waitFor(assertion, { timeout, interval: 200 });
const json = async (args: string[]) => JSON.parse(await ok([...args, '-o', 'json']));

/** A pod that runs `script` with the claim `claim` mounted at /data (a path of its own on the host). */
const claimPod = (name: string, claim: string, script: string, extra = '') => `
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  terminationGracePeriodSeconds: 1
  ${extra}
  volumes: [{ name: data, persistentVolumeClaim: { claimName: ${claim} } }]
  containers:
  - name: main
    image: busybox
    command: [sh, -c, '${script}']
    volumeMounts: [{ name: data, mountPath: ${join(dir, `mnt-${name}`)} }]
`;
const claim = (name: string, extra = '') => `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: ${name} }
spec:
  accessModes: [ReadWriteOnce]
  resources: { requests: { storage: 1Gi } }
  ${extra}
`;

describe('volumes and storage with kubectl', () => {
  it('a pod reads a mounted ConfigMap, and sees it change', async () => {
    await ok(['create', 'configmap', 'site', '--from-literal=greeting=hello']);
    const at = join(dir, 'mnt-site');
    await ok(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: Pod
metadata: { name: reader }
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{ name: site, configMap: { name: site } }]
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'while true; do sleep 1; done']
    volumeMounts: [{ name: site, mountPath: ${at} }]
`,
    );
    await ok(['wait', '--for=condition=Ready', 'pod/reader', '--timeout=60s']);
    expect(await ok(['exec', 'reader', '--', 'cat', `${at}/greeting`])).toBe('hello');
    await ok(['patch', 'configmap', 'site', '-p', '{"data":{"greeting":"bonjour"}}']);
    await eventually(async () => expect(await ok(['exec', 'reader', '--', 'cat', `${at}/greeting`])).toBe('bonjour'), 20_000);
    await ok(['delete', 'pod', 'reader', '--wait=true']);
  });

  it('the default local-path class provisions a volume on the first pod’s node; a later pod finds its data there', async () => {
    expect(await ok(['get', 'storageclass'])).toMatch(/^local-path \(default\)\s+skiff\.dev\/local-path\s+Delete\s+WaitForFirstConsumer\s+false\s+\d+s$/m);
    await ok(['apply', '-f', '-'], claim('notes'));
    const waiting = await json(['get', 'pvc', 'notes']);
    expect(waiting.spec.storageClassName).toBe('local-path');
    expect(waiting.status.phase).toBe('Pending');
    expect(waiting.metadata.finalizers).toEqual(['kubernetes.io/pvc-protection']);
    await eventually(
      async () => expect(await ok(['get', 'events', '--field-selector', 'involvedObject.name=notes'])).toContain('WaitForFirstConsumer'),
      15_000,
    );

    const mount = join(dir, 'mnt-writer');
    await ok(['apply', '-f', '-'], claimPod('writer', 'notes', `echo kept > ${mount}/note; while true; do sleep 1; done`));
    await ok(['wait', '--for=condition=Ready', 'pod/writer', '--timeout=60s']);
    const pvc = await json(['get', 'pvc', 'notes']);
    expect(pvc.status).toMatchObject({ phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } });
    const pv = await json(['get', 'pv', pvc.spec.volumeName]);
    const node = (await json(['get', 'pod', 'writer'])).spec.nodeName;
    expect(pv.spec.claimRef).toMatchObject({ namespace: 'default', name: 'notes', uid: pvc.metadata.uid });
    expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0]).toEqual({ key: 'kubernetes.io/hostname', operator: 'In', values: [node] });
    expect(pv.spec.hostPath.path).toContain(`pvc-${pvc.metadata.uid}_default_notes`);
    expect(existsSync(join(pv.spec.hostPath.path, 'note'))).toBe(true);
    expect(await ok(['get', 'pvc', 'notes'])).toMatch(
      new RegExp(`^notes\\s+Bound\\s+${pv.metadata.name}\\s+1Gi\\s+RWO\\s+local-path\\s+<unset>\\s+\\d+s$`, 'm'),
    );
    expect(await ok(['get', 'pv', pv.metadata.name])).toMatch(/\s1Gi\s+RWO\s+Delete\s+Bound\s+default\/notes\s+local-path\s+<unset>\s+\d+s$/m);

    await ok(['delete', 'pod', 'writer', '--wait=true']);
    const reread = join(dir, 'mnt-rereader');
    await ok(['apply', '-f', '-'], claimPod('rereader', 'notes', `cat ${reread}/note; while true; do sleep 1; done`));
    await ok(['wait', '--for=condition=Ready', 'pod/rereader', '--timeout=60s']);
    expect((await json(['get', 'pod', 'rereader'])).spec.nodeName).toBe(node);
    await eventually(async () => expect(await ok(['logs', 'rereader'])).toBe('kept\n'), 10_000);

    // In use, the claim waits for its pod; then it goes, and its volume and folder after it.
    await ok(['delete', 'pvc', 'notes', '--wait=false']);
    expect((await json(['get', 'pvc', 'notes'])).metadata.deletionTimestamp).toBeTruthy();
    expect(await ok(['get', 'pvc', 'notes'])).toMatch(/^notes\s+Bound/m);
    await ok(['delete', 'pod', 'rereader', '--wait=true']);
    await eventually(async () => expect((await kubectl(['get', 'pvc', 'notes'])).code).toBe(1), 15_000);
    await eventually(async () => expect((await kubectl(['get', 'pv', pv.metadata.name])).code).toBe(1), 15_000);
    await eventually(async () => expect(existsSync(pv.spec.hostPath.path)).toBe(false), 15_000);
  });

  it('a static volume binds to the claim that fits it; a claim of a class that does not exist holds its pod Pending', async () => {
    const path = join(dir, 'static');
    mkdirSync(path);
    writeFileSync(join(path, 'seed'), 'seeded');
    await ok(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: PersistentVolume
metadata: { name: small }
spec:
  capacity: { storage: 500Mi }
  accessModes: [ReadWriteOnce]
  hostPath: { path: ${path} }
---
apiVersion: v1
kind: PersistentVolume
metadata: { name: big }
spec:
  capacity: { storage: 5Gi }
  accessModes: [ReadWriteOnce]
  hostPath: { path: ${path} }
`,
    );
    await eventually(async () => expect(await ok(['get', 'pv', 'small'])).toMatch(/\s500Mi\s+RWO\s+Retain\s+Available\s/), 10_000);
    await ok(['apply', '-f', '-'], claim('fixed', 'storageClassName: ""').replace('1Gi', '400Mi'));
    await eventually(async () => expect((await json(['get', 'pvc', 'fixed'])).spec.volumeName).toBe('small'), 10_000);
    expect((await json(['get', 'pv', 'big'])).status.phase).toBe('Available');
    await ok(['apply', '-f', '-'], claimPod('seeded', 'fixed', `cat ${join(dir, 'mnt-seeded')}/seed; echo; sleep 30`));
    await eventually(async () => expect(await ok(['logs', 'seeded'])).toBe('seeded\n'), 30_000);
    await ok(['delete', 'pod', 'seeded', '--wait=true']);
    await ok(['delete', 'pvc', 'fixed', '--wait=true']);
    // Retain: the volume is Released and kept, with its data.
    await eventually(async () => expect((await json(['get', 'pv', 'small'])).status.phase).toBe('Released'), 10_000);
    expect(readdirSync(path)).toEqual(['seed']);

    await ok(['apply', '-f', '-'], claim('nowhere', 'storageClassName: fast'));
    await ok(['apply', '-f', '-'], claimPod('stuck', 'nowhere', 'sleep 30'));
    await eventually(async () => {
      const scheduled = (await json(['get', 'pod', 'stuck'])).status.conditions?.find((c: { type: string }) => c.type === 'PodScheduled');
      expect(scheduled).toMatchObject({
        status: 'False',
        reason: 'Unschedulable',
        message: '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.',
      });
    }, 15_000);
    await eventually(
      async () =>
        expect(await ok(['get', 'events', '--field-selector', 'involvedObject.name=nowhere'])).toContain('storageclass.storage.k8s.io "fast" not found'),
      15_000,
    );
    await ok(['delete', 'pod', 'stuck', '--wait=true']);
    await ok(['delete', 'pvc', 'nowhere', '--wait=true']);
    await ok(['delete', 'pv', 'small', 'big', '--wait=true']);
  });

  it('a StatefulSet starts web-0 before web-1, each with its claim and its DNS name; a pod made again, or scaled back, finds its data', async () => {
    const mount = join(dir, 'mnt-web');
    await ok(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { clusterIP: None, selector: { app: web }, ports: [{ name: http, port: 8080 }] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: web }
spec:
  serviceName: web
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: [sh, -c, 'test -f ${mount}/id || echo "$HOSTNAME $(date +%s%N)" > ${mount}/id; while true; do sleep 1; done']
        readinessProbe: { exec: { command: [test, -f, ${mount}/id] }, periodSeconds: 1 }
        volumeMounts: [{ name: data, mountPath: ${mount} }]
  volumeClaimTemplates:
  - metadata: { name: data }
    spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 100Mi } } }
`,
    );
    await ok(['rollout', 'status', 'statefulset/web', '--timeout=90s']);
    expect(await ok(['get', 'sts', 'web'])).toMatch(/^web\s+2\/2\s+\d+s$/m);
    const pod = (name: string) => json(['get', 'pod', name]);
    const [web0, web1] = [await pod('web-0'), await pod('web-1')];
    // OrderedReady: web-1 was made only once web-0 was Ready.
    const ready0 = web0.status.conditions.find((c: { type: string }) => c.type === 'Ready').lastTransitionTime;
    expect(Date.parse(web1.metadata.creationTimestamp)).toBeGreaterThanOrEqual(Date.parse(ready0));
    expect(web0.spec).toMatchObject({ hostname: 'web-0', subdomain: 'web' });
    expect(web0.metadata.labels).toMatchObject({ 'statefulset.kubernetes.io/pod-name': 'web-0', 'apps.kubernetes.io/pod-index': '0' });
    expect(web0.spec.volumes.find((v: { name: string }) => v.name === 'data').persistentVolumeClaim).toEqual({ claimName: 'data-web-0' });
    for (const claim of ['data-web-0', 'data-web-1']) expect((await json(['get', 'pvc', claim])).status.phase).toBe('Bound');

    // web-0's name resolves to its address through the headless Service.
    const dnsIP = (await ok(['get', 'svc', '-n', 'kube-system', 'kube-dns', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    await eventually(async () => {
      const answer = await ok(['exec', 'web-1', '--', 'busybox', 'nslookup', 'web-0.web.default.svc.cluster.local', dnsIP]);
      expect(answer).toContain(web0.status.podIP);
    }, 30_000);

    const id = async (name: string) => (await ok(['exec', name, '--', 'cat', `${mount}/id`])).trim();
    const [id0, id1] = [await id('web-0'), await id('web-1')];
    expect(id0).toMatch(/^web-0 \d+$/);
    await ok(['delete', 'pod', 'web-0', '--wait=true']);
    await eventually(async () => expect((await pod('web-0')).metadata.uid).not.toBe(web0.metadata.uid), 30_000);
    await ok(['wait', '--for=condition=Ready', 'pod/web-0', '--timeout=60s']);
    expect(await id('web-0')).toBe(id0);

    // Scaled down, web-1 goes and its claim stays (Retain); scaled up, it comes back to it.
    await ok(['scale', 'sts', 'web', '--replicas=1']);
    await eventually(async () => expect((await kubectl(['get', 'pod', 'web-1'])).code).toBe(1), 30_000);
    expect((await json(['get', 'pvc', 'data-web-1'])).status.phase).toBe('Bound');
    await ok(['scale', 'sts', 'web', '--replicas=2']);
    await ok(['rollout', 'status', 'statefulset/web', '--timeout=90s']);
    expect(await id('web-1')).toBe(id1);

    // A changed template rolls out, highest ordinal first, and the revisions meet.
    await ok(['set', 'env', 'statefulset/web', 'COLOR=blue']);
    await ok(['rollout', 'status', 'statefulset/web', '--timeout=90s']);
    const status = (await json(['get', 'sts', 'web'])).status;
    expect(status).toMatchObject({ replicas: 2, readyReplicas: 2, updatedReplicas: 2, currentReplicas: 2 });
    expect(status.currentRevision).toBe(status.updateRevision);
    const rolled = [await pod('web-0'), await pod('web-1')];
    for (const p of rolled) expect(p.spec.containers[0].env).toEqual([{ name: 'COLOR', value: 'blue' }]);
    expect(Date.parse(rolled[0].metadata.creationTimestamp)).toBeGreaterThanOrEqual(Date.parse(rolled[1].metadata.creationTimestamp));
    expect(await id('web-1')).toBe(id1);

    // Each template is a ControllerRevision: history lists them, undo puts the first back.
    expect(await ok(['rollout', 'history', 'statefulset/web'])).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/);
    expect(await ok(['get', 'controllerrevisions'])).toMatch(new RegExp(`^${status.updateRevision}\\s+statefulset\\.apps/web\\s+2\\s+\\d+s$`, 'm'));
    await ok(['rollout', 'undo', 'statefulset/web']);
    await ok(['rollout', 'status', 'statefulset/web', '--timeout=90s']);
    await eventually(async () => expect((await pod('web-0')).spec.containers[0].env).toBeUndefined(), 30_000);
    expect(await ok(['rollout', 'history', 'statefulset/web'])).toMatch(/REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>\n/);

    await ok(['delete', 'sts', 'web', '--wait=true']);
    await eventually(async () => expect(await ok(['get', 'pods', '-l', 'app=web', '-o', 'name'])).toBe(''), 30_000);
    expect((await json(['get', 'pvc', '-l', 'app=web'])).items.map((c: { metadata: { name: string } }) => c.metadata.name).sort()).toEqual([
      'data-web-0',
      'data-web-1',
    ]);
    await ok(['delete', 'pvc', '-l', 'app=web', '--wait=true']);
    await ok(['delete', 'svc', 'web']);
  });
});

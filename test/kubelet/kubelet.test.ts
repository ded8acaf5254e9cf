/**
 * The kubelet against a real API server, running pods on the process runtime: environment
 * from ConfigMaps, Secrets and the pod's fields; init containers in order; restart policies;
 * liveness, readiness and startup probes (exec, httpGet, tcpSocket); back-off; graceful
 * deletion; and adoption of its containers after a restart. Pods are created already bound
 * (`spec.nodeName`), so no scheduler is involved.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kubeletLogs } from '../../functions/api/kubelet-logs.js';
import { ApiClient } from '../../kubelet/api-client.js';
import { hashToken } from '../../shared/auth/tokens.js';
import { Kubelet, type KubeletOptions } from '../../kubelet/kubelet.js';
import { ProcessRuntime } from '../../kubelet/runtime/process.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { freePort } from '../../emulators/free-port.js';
import { until } from '../support/until.js';
import { claimLoopbackSlot } from '../support/loopback-slots.js';

const NODE = 'kubelet-test';
let cluster: TestCluster;
let dir: string;
let kubelet: Kubelet | undefined;
let n = 0;
// Pod addresses no other test's pods hold at the same time.
const slot = claimLoopbackSlot();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-kubelet-'));
  const store = openSqliteStore({ path: join(dir, 'skiff.db') });
  // pods/log goes to the kubelet's log server, as in `skiff up`.
  cluster = await startTestCluster({ store, logs: kubeletLogs(store, undefined) });
});
afterAll(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
  slot.release();
});
afterEach(async () => {
  await kubelet?.stop({ stopPods: true });
  kubelet = undefined;
});

/** The kubelet acts as its node, as in a cluster: the node authorizer decides what it may do. */
const nodeClient = () =>
  new ApiClient({
    server: cluster.server.url,
    token: cluster.server.issueToken(`system:node:${NODE}`, ['system:nodes'], { replace: true }),
    ca: cluster.server.caCert,
  });

async function startKubelet(extra: Partial<KubeletOptions> = {}): Promise<Kubelet> {
  kubelet = new Kubelet({
    nodeName: NODE,
    api: extra.api ?? nodeClient(),
    runtime: new ProcessRuntime(join(dir, 'containers')),
    podCidr: slot.clusterCidr,
    syncIntervalMs: 200,
    backoff: { initialMs: 600, maxMs: 2400, resetAfterMs: 60_000 },
    ...extra,
  });
  await kubelet.start();
  return kubelet;
}

interface PodStatus {
  phase?: string;
  podIP?: string;
  conditions?: { type: string; status: string }[];
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
}
interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  containerID?: string;
  state: {
    waiting?: { reason: string; message?: string };
    running?: { startedAt: string };
    terminated?: { exitCode: number; reason: string; startedAt: string; finishedAt: string };
  };
}

async function createPod(spec: Record<string, unknown>, labels: Record<string, string> = {}): Promise<string> {
  const name = `p${++n}`;
  const res = await cluster.api('/api/v1/namespaces/default/pods', {
    method: 'POST',
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 2, ...spec } }),
    headers: { 'content-type': 'application/json' },
  });
  expect(res.status, res.text).toBe(201);
  return name;
}

async function status(name: string): Promise<PodStatus> {
  const res = await cluster.api(`/api/v1/namespaces/default/pods/${name}`);
  return (res.json().status ?? {}) as PodStatus;
}

const logs = async (name: string, query = '') => (await cluster.api(`/api/v1/namespaces/default/pods/${name}/log${query}`)).text;
const sh = (script: string) => ({ name: 'main', image: 'busybox', command: ['sh', '-c', script] });
/** busybox httpd on the pod's own address, port 8080, serving `text` as /index.html. */
const webServer = (text: string) => ({
  name: 'web',
  image: 'busybox',
  command: ['sh', '-c', `mkdir -p /tmp/www-$(POD) && echo ${text} > /tmp/www-$(POD)/index.html && exec busybox httpd -f -p $(IP):8080 -h /tmp/www-$(POD)`],
  env: [
    { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ],
});
const ready = (s: PodStatus) => s.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

describe('kubelet', () => {
  it('registers its Node with capacity, addresses and pod range, and keeps a Lease', async () => {
    await startKubelet({ cpu: 3000, memory: 2 ** 32, labels: { 'topology.kubernetes.io/zone': 'z1' }, nodeStatusIntervalMs: 400 });
    const node = (await cluster.api(`/api/v1/nodes/${NODE}`)).json();
    expect(node.status.capacity).toMatchObject({ cpu: '3000m', memory: '4194304Ki', pods: '110' });
    expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: '127.0.0.1' });
    expect(node.status.conditions.find((c: { type: string }) => c.type === 'Ready').status).toBe('True');
    expect(node.spec.podCIDR).toBe(slot.clusterCidr);
    expect(node.metadata.labels).toMatchObject({ 'kubernetes.io/hostname': NODE, 'topology.kubernetes.io/zone': 'z1' });
    const lease = (await cluster.api(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`)).json();
    expect(lease.spec.holderIdentity).toBe(NODE);
    expect(Date.now() - Date.parse(lease.spec.renewTime)).toBeLessThan(10_000);
    // The conditions are posted again with a fresh heartbeat; the transition time stays.
    const readyOf = async () => (await cluster.api(`/api/v1/nodes/${NODE}`)).json().status.conditions.find((c: { type: string }) => c.type === 'Ready');
    const before = await readyOf();
    const later = await until(
      'a newer heartbeat',
      async () => {
        const r = await readyOf();
        return r.lastHeartbeatTime !== before.lastHeartbeatTime && r;
      },
      5000,
    );
    expect(later.lastTransitionTime).toBe(before.lastTransitionTime);
  });

  it('keeps trying to register while the API does not know its credential yet, and registers once it does', async () => {
    const token = `late-${randomUUID()}`;
    let started = false;
    const starting = startKubelet({ api: new ApiClient({ server: cluster.server.url, token, ca: cluster.server.caCert }) }).then(() => (started = true));
    // Refused twice at least (0.5 s, then 1 s): still trying, not exited.
    await new Promise((r) => setTimeout(r, 1200));
    expect(started).toBe(false);
    // The credential becomes known (as when another API instance issued it a moment ago).
    const file = join(cluster.dir, 'data', 'tokens.json');
    const records = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify([...records, { sha256: hashToken(token), user: `system:node:${NODE}`, groups: ['system:nodes'] }]));
    await until('registered', async () => started, 10_000);
    await starting;
  });

  it('with podPollIntervalMs, lists its pods instead of watching: new pods start and deleted pods stop', async () => {
    // A client that refuses to watch: the kubelet must never ask.
    class ListsOnly extends ApiClient {
      override watch(): Promise<void> {
        return Promise.reject(new Error('this kubelet lists, it does not watch'));
      }
    }
    const token = cluster.server.issueToken(`system:node:${NODE}`, ['system:nodes'], { replace: true });
    const logs: string[] = [];
    await startKubelet({
      api: new ListsOnly({ server: cluster.server.url, token, ca: cluster.server.caCert }),
      podPollIntervalMs: 300,
      log: (l) => logs.push(l),
    });
    const name = await createPod({ containers: [sh('sleep 60')] });
    await until('the polled pod runs', async () => (await status(name)).containerStatuses?.[0]?.state.running, 10_000);
    await cluster.api(`/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=0`, { method: 'DELETE' });
    const runtime = new ProcessRuntime(join(dir, 'containers'));
    await until('its container removed', async () => (await runtime.list()).every((c) => c.spec.podName !== name), 10_000);
    expect(logs.join('\n')).not.toContain('does not watch');
  });

  it('builds the environment from values, ConfigMaps, Secrets and the pod fields, and expands $(VAR) in args', async () => {
    await startKubelet();
    await cluster.kubectlOk(['create', 'configmap', 'settings', '--from-literal=COLOR=blue', '--from-literal=SIZE=9']);
    await cluster.kubectlOk(['create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret']);
    const name = await createPod(
      {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'busybox',
            command: ['sh', '-c', 'echo "$GREETING|$COLOR|$PASSWORD|$POD|$NS|$NODE|$IP|$APP|$CFG_SIZE|$1|$(pwd)"', 'sh'],
            workingDir: '/tmp',
            args: ['$(GREETING) again'],
            envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'settings' } }],
            env: [
              { name: 'NAME', value: 'skiff' },
              { name: 'GREETING', value: 'hello $(NAME)' },
              { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'settings', key: 'COLOR' } } },
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
              { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
              { name: 'MISSING', valueFrom: { configMapKeyRef: { name: 'nope', key: 'x', optional: true } } },
            ],
          },
        ],
      },
      { app: 'envtest' },
    );
    const done = await until('Succeeded', async () => {
      const s = await status(name);
      return s.phase === 'Succeeded' && s;
    });
    expect(done.podIP?.startsWith(`127.${32 + slot.index}.`)).toBe(true);
    expect(await logs(name)).toBe(`hello skiff|blue|s3cret|${name}|default|${NODE}|${done.podIP}|envtest|9|hello skiff again|/tmp\n`);
  });

  it("mounts a token for the pod's service account, bound to the pod and refreshed before it expires; automount false mounts none", async () => {
    // One credential for the kubelet and the asks below: a new one would revoke the kubelet's.
    const node = nodeClient();
    await startKubelet({ api: node, volumesDir: join(dir, 'volumes'), ca: cluster.server.caCert, tokenRefreshAfterMs: () => 1000 });
    await cluster.kubectlOk(['create', 'serviceaccount', 'robot']);
    const name = await createPod({ serviceAccountName: 'robot', containers: [sh('echo "$SKIFF_MOUNTS"; exec sleep 60')] });
    const pod = (await cluster.api(`/api/v1/namespaces/default/pods/${name}`)).json();
    const volume = pod.spec.volumes.find((v: { name: string }) => v.name.startsWith('kube-api-access-'));
    expect(pod.spec.containers[0].volumeMounts).toEqual([{ name: volume.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
    await until('Running', async () => (await status(name)).phase === 'Running');
    const mounts = await until('the mounts in the log', async () => (await logs(name)).trim() || undefined);
    const folder = JSON.parse(mounts)['/var/run/secrets/kubernetes.io/serviceaccount'] as string;
    expect(readFileSync(join(folder, 'namespace'), 'utf8')).toBe('default');
    expect(readFileSync(join(folder, 'ca.crt'), 'utf8')).toBe(cluster.server.caCert);
    const whoami = async (token: string) => {
      const r = await cluster.api('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        method: 'POST',
        token,
        body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
        headers: { 'content-type': 'application/json' },
      });
      return r.status === 201 ? (r.json().status.userInfo.username as string) : r.status;
    };
    const first = readFileSync(join(folder, 'token'), 'utf8');
    expect(await whoami(first)).toBe('system:serviceaccount:default:robot');
    const second = await until('a refreshed token', async () => {
      const now = readFileSync(join(folder, 'token'), 'utf8');
      return now !== first && now;
    });
    expect(await whoami(second)).toBe('system:serviceaccount:default:robot');

    // The kubelet's own credential gets tokens only bound to its pods, for the accounts they use.
    const ask = (account: string, boundObjectRef?: unknown) =>
      node.request('POST', `/api/v1/namespaces/default/serviceaccounts/${account}/token`, { spec: { boundObjectRef } }).then(
        () => 201,
        (err: { code: number }) => err.code,
      );
    expect(await ask('robot')).toBe(403);
    expect(await ask('default', { kind: 'Pod', name })).toBe(403);
    expect(await ask('robot', { kind: 'Pod', name, uid: pod.metadata.uid })).toBe(201);

    // The token dies with its pod, and the folder goes.
    await cluster.kubectlOk(['delete', 'pod', name, '--wait=true']);
    await until('the pod token refused', async () => (await whoami(second)) === 401);
    await until('the folder removed', async () => !existsSync(folder));

    const without = await createPod({ automountServiceAccountToken: false, restartPolicy: 'Never', containers: [sh('echo "mounts=$SKIFF_MOUNTS"')] });
    await until('Succeeded', async () => (await status(without)).phase === 'Succeeded');
    expect(await logs(without)).toBe('mounts=\n');
    expect((await cluster.api(`/api/v1/namespaces/default/pods/${without}`)).json().spec.volumes).toBeUndefined();
  });

  it('mounts configMap, secret, downwardAPI, emptyDir (Memory: tmpfs) and hostPath volumes in the process own mount namespace; a changed ConfigMap reaches it', async () => {
    await startKubelet({ volumesDir: join(dir, 'volumes'), ca: cluster.server.caCert, volumeSyncMs: 300 });
    await cluster.kubectlOk(['create', 'configmap', 'greetings', '--from-literal=greeting=hello', '--from-literal=unused=x']);
    await cluster.kubectlOk(['create', 'secret', 'generic', 'mounted-creds', '--from-literal=password=s3cret']);
    const host = mkdtempSync(join(dir, 'host-'));
    writeFileSync(join(host, 'file'), 'from the host');
    // Mount points that do not exist on the host: the runtime makes them, and removes them after.
    const at = join(dir, `mnt-${randomUUID().slice(0, 8)}`);
    const script = [
      'cat $M/sec/pw; echo; stat -c %a $M/sec/..data/pw',
      'cat $M/info/labels; echo; cat $M/info/name; echo',
      'echo scratch > $M/scratch/f && cat $M/scratch/f',
      "awk -v p=$M/mem '$2 == p { print $3 }' /proc/self/mounts",
      'cat $M/host/file; echo',
      'touch $M/cfg/new 2>/dev/null || echo read-only',
      'ls $M/cfg',
      'while true; do echo "greeting=$(cat $M/cfg/greeting)"; sleep 0.2; done',
    ].join('; ');
    const name = await createPod(
      {
        automountServiceAccountToken: false,
        volumes: [
          { name: 'cfg', configMap: { name: 'greetings', items: [{ key: 'greeting', path: 'greeting' }] } },
          { name: 'sec', secret: { secretName: 'mounted-creds', items: [{ key: 'password', path: 'pw', mode: 0o400 }] } },
          {
            name: 'info',
            downwardAPI: {
              items: [
                { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
              ],
            },
          },
          { name: 'scratch', emptyDir: {} },
          { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
          { name: 'host', hostPath: { path: host, type: 'Directory' } },
        ],
        containers: [
          {
            ...sh(script),
            env: [{ name: 'M', value: at }],
            volumeMounts: ['cfg', 'sec', 'info', 'scratch', 'mem', 'host'].map((v) => ({ name: v, mountPath: join(at, v) })),
          },
        ],
      },
      { app: 'vol', tier: 'x' },
    );
    const seen = await until('the volumes read', async () => {
      const text = await logs(name);
      return text.includes('greeting=') && text;
    });
    expect(seen).toContain(`s3cret\n400\napp="vol"\ntier="x"\n${name}\nscratch\ntmpfs\nfrom the host\nread-only\ngreeting\ngreeting=hello\n`);
    // The host does not see them at those paths: the binds live in the container's namespace.
    expect(existsSync(join(at, 'cfg', 'greeting'))).toBe(false);
    expect(existsSync(join(at, 'cfg'))).toBe(true);

    await cluster.kubectlOk(['patch', 'configmap', 'greetings', '-p', '{"data":{"greeting":"bonjour"}}']);
    await until('the new greeting', async () => (await logs(name)).includes('greeting=bonjour'));

    await cluster.kubectlOk(['delete', 'pod', name, '--wait=true']);
    await until('the mount points removed', async () => !existsSync(join(at, 'cfg')) && !existsSync(at));
    expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(join(dir, 'volumes'));
    expect(readFileSync(join(host, 'file'), 'utf8')).toBe('from the host');
  });

  it('a volume that cannot be set up holds the pod in ContainerCreating, with a FailedMount event, until it can', async () => {
    await startKubelet({ volumesDir: join(dir, 'volumes'), ca: cluster.server.caCert });
    const name = await createPod({
      automountServiceAccountToken: false,
      volumes: [{ name: 'cfg', configMap: { name: 'not-yet' } }],
      containers: [{ ...sh('cat /tmp/skiff-never/k; sleep 30'), volumeMounts: [{ name: 'cfg', mountPath: join(dir, 'never-mounted') }] }],
    });
    const waiting = await until('waiting to mount', async () => {
      const s = (await status(name)).containerStatuses?.[0];
      return s?.state.waiting?.reason === 'ContainerCreating' && s;
    });
    expect(waiting.state.waiting?.message).toBe('MountVolume.SetUp failed for volume "cfg" : configmap "not-yet" not found');
    const events = (await cluster.api('/api/v1/namespaces/default/events')).json().items as {
      reason: string;
      message: string;
      involvedObject: { name: string };
    }[];
    expect(events.find((e) => e.involvedObject.name === name && e.reason === 'FailedMount')?.message).toBe(waiting.state.waiting?.message);
    await cluster.kubectlOk(['create', 'configmap', 'not-yet', '--from-literal=k=v']);
    await until('running', async () => (await status(name)).containerStatuses?.[0]?.state.running);
  });

  it('answers what its node and pods use (/stats/usage), its last hour (/stats/history, or what came after a time) and Prometheus (/metrics, with kubelet_running_pods)', async () => {
    const k = await startKubelet({ historyIntervalMs: 200 });
    const name = await createPod({ automountServiceAccountToken: false, containers: [sh('while :; do :; done')] });
    await until('Running', async () => (await status(name)).phase === 'Running');
    const base = `http://127.0.0.1:${k.port}`;
    const usage = (await (await fetch(`${base}/stats/usage`)).json()) as {
      windowSeconds: number;
      node: { cpuNanoCores: number; memoryBytes: number };
      pods: { name: string; containers: { name: string; cpuNanoCores: number; memoryBytes: number }[] }[];
    };
    expect(usage.windowSeconds).toBeGreaterThanOrEqual(1);
    expect(usage.node.memoryBytes).toBeGreaterThan(0);
    const mine = usage.pods.find((p) => p.name === name)!;
    expect(mine.containers[0].name).toBe('main');
    // A busy loop: a good part of a core, even on a loaded machine.
    expect(mine.containers[0].cpuNanoCores).toBeGreaterThan(5e7);
    expect(mine.containers[0].memoryBytes).toBeGreaterThan(0);
    // The node sampled on its clock: CPU a rate between samples, memory then, oldest first.
    const history = await until('two points of history', async () => {
      const h = (await (await fetch(`${base}/stats/history`)).json()) as {
        intervalSeconds: number;
        points: { at: number; cpuNanoCores: number; memoryBytes: number }[];
      };
      return h.points.length >= 2 && h;
    });
    expect(history.points.map((p) => p.at)).toEqual(history.points.map((p) => p.at).sort((a, b) => a - b));
    // The busy loop runs on this machine: its CPU counts in the node's.
    expect(Math.max(...history.points.map((p) => p.cpuNanoCores))).toBeGreaterThan(5e7);
    expect(history.points.every((p) => p.memoryBytes > 0)).toBe(true);
    // Asked for what came after a point (a watch holding the rest): those points alone, the time
    // asked echoed and the oldest kept said; a time that is not one is refused.
    const since = history.points[0].at;
    const later = (await (await fetch(`${base}/stats/history?since=${since}`)).json()) as { since: number; oldest: number; points: { at: number }[] };
    expect(later.since).toBe(since);
    expect(later.oldest).toBeLessThanOrEqual(since);
    expect(later.points.length).toBeGreaterThanOrEqual(1);
    expect(later.points.every((p) => p.at > since)).toBe(true);
    expect(later.points[0].at).toBe(history.points[1].at);
    expect((await fetch(`${base}/stats/history?since=yesterday`)).status).toBe(400);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    // This pod, and those of earlier cases this node runs again (some restarting as they go).
    expect(Number(/^kubelet_running_pods (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^kubelet_running_containers\{container_state="running"\} [1-9]\d*$/m);
  });

  it('a missing ConfigMap holds the container in CreateContainerConfigError until it exists', async () => {
    await startKubelet();
    const name = await createPod({
      containers: [{ ...sh('echo $V; sleep 30'), env: [{ name: 'V', valueFrom: { configMapKeyRef: { name: 'later', key: 'v' } } }] }],
    });
    const waiting = await until('config error', async () => {
      const s = (await status(name)).containerStatuses?.[0];
      return s?.state.waiting?.reason === 'CreateContainerConfigError' && s;
    });
    expect(waiting.state.waiting?.message).toBe('configmap "later" not found');
    await cluster.kubectlOk(['create', 'configmap', 'later', '--from-literal=v=arrived']);
    await until('running', async () => (await status(name)).containerStatuses?.[0]?.state.running);
    await until('log', async () => (await logs(name)) === 'arrived\n');
  });

  it('securityContext: runs as the user asked (who cannot read root-only files); runAsNonRoot without a user is refused, not ignored', async () => {
    await startKubelet();
    const secret = join(dir, `root-only-${n}`);
    writeFileSync(secret, 'tokens', { mode: 0o600 });
    const runAs = await createPod({
      restartPolicy: 'Never',
      securityContext: { runAsUser: 65534, runAsNonRoot: true },
      containers: [sh(`id -u; cat ${secret} 2>/dev/null || echo denied`)],
    });
    const refused = await createPod({ securityContext: { runAsNonRoot: true }, containers: [sh('id -u; sleep 30')] });
    if (process.getuid?.() === 0) {
      await until('ran as 65534', async () => (await status(runAs)).phase === 'Succeeded');
      expect(await logs(runAs)).toBe('65534\ndenied\n');
      const waiting = await until('refused', async () => {
        const s = (await status(refused)).containerStatuses?.[0];
        return s?.state.waiting?.reason === 'CreateContainerConfigError' && s;
      });
      expect(waiting.state.waiting?.message).toBe('container has runAsNonRoot and image will run as root (container: main)');
    } else {
      // Not root: the kubelet cannot change user, and says so; its own user is not root.
      await until('refused', async () => (await status(runAs)).containerStatuses?.[0]?.state.waiting?.reason === 'CreateContainerConfigError');
      await until('runs as itself', async () => (await status(refused)).containerStatuses?.[0]?.state.running);
    }
  });

  it('runs init containers in order, each to success, before the containers', async () => {
    await startKubelet();
    const file = join(dir, `init-${n}.txt`);
    const name = await createPod({
      restartPolicy: 'Never',
      initContainers: [
        { name: 'first', image: 'busybox', command: ['sh', '-c', `sleep 0.3; echo first >> ${file}`] },
        { name: 'second', image: 'busybox', command: ['sh', '-c', `echo second >> ${file}`] },
      ],
      containers: [sh(`cat ${file}`)],
    });
    const done = await until('Succeeded', async () => {
      const s = await status(name);
      return s.phase === 'Succeeded' && s;
    });
    expect(await logs(name)).toBe('first\nsecond\n');
    const [first, second] = done.initContainerStatuses!;
    expect([first.state.terminated?.reason, second.state.terminated?.reason]).toEqual(['Completed', 'Completed']);
    expect(done.conditions?.find((c) => c.type === 'Initialized')?.status).toBe('True');
  });

  it('a failing init container with restartPolicy Never fails the pod; the containers never start', async () => {
    await startKubelet();
    const name = await createPod({
      restartPolicy: 'Never',
      initContainers: [{ name: 'check', image: 'busybox', command: ['sh', '-c', 'exit 7'] }],
      containers: [sh('echo should not run')],
    });
    const failed = await until('Failed', async () => {
      const s = await status(name);
      return s.phase === 'Failed' && s;
    });
    expect(failed.initContainerStatuses?.[0].state.terminated?.exitCode).toBe(7);
    expect(failed.containerStatuses?.[0].state.waiting?.reason).toBe('PodInitializing');
  });

  it('restart policies: OnFailure retries a failure until it succeeds; Never leaves a failure Failed', async () => {
    await startKubelet();
    const marker = join(dir, `second-try-${n}`);
    const retried = await createPod({ restartPolicy: 'OnFailure', containers: [sh(`if [ -e ${marker} ]; then echo ok; exit 0; fi; touch ${marker}; exit 1`)] });
    const never = await createPod({ restartPolicy: 'Never', containers: [sh('exit 2')] });
    const ok = await until('Succeeded', async () => {
      const s = await status(retried);
      return s.phase === 'Succeeded' && s;
    });
    expect(ok.containerStatuses?.[0].restartCount).toBe(1);
    const failed = await until('Failed', async () => {
      const s = await status(never);
      return s.phase === 'Failed' && s;
    });
    expect(failed.containerStatuses?.[0]).toMatchObject({ restartCount: 0, state: { terminated: { exitCode: 2, reason: 'Error' } } });
  });

  it('backs off between restarts of a crashing container, doubling, with CrashLoopBackOff while it waits', async () => {
    await startKubelet();
    const name = await createPod({ containers: [sh('exit 1')] });
    const starts: number[] = [];
    let sawBackOff = '';
    await until(
      'three restarts',
      async () => {
        const s = (await status(name)).containerStatuses?.[0];
        if (s?.state.waiting?.reason === 'CrashLoopBackOff') sawBackOff = s.state.waiting.message ?? '';
        if (s && s.restartCount > starts.length) starts.push(Date.now());
        return starts.length >= 3;
      },
      20_000,
    );
    expect(sawBackOff).toMatch(/^back-off \d+s restarting failed container=main pod=p\d+_default\(/);
    // First restart at once; then 600 ms, then 1200 ms (doubling).
    expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(1000);
  });

  it('a failing liveness probe restarts the container', async () => {
    await startKubelet();
    const name = await createPod({
      containers: [{ ...sh('echo up; sleep 30'), livenessProbe: { exec: { command: ['sh', '-c', 'exit 1'] }, periodSeconds: 1, failureThreshold: 2 } }],
    });
    await until('restarted by liveness', async () => ((await status(name)).containerStatuses?.[0]?.restartCount ?? 0) >= 1, 15_000);
    const events = await cluster.kubectlOk([
      'get',
      'events',
      '--field-selector',
      `involvedObject.name=${name}`,
      '-o',
      'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}',
    ]);
    expect(events).toMatch(/Unhealthy: Liveness probe failed: command failed with exit code 1/);
    expect(events).toMatch(/Killing: Container main failed liveness probe, will be restarted/);
  });

  it('httpGet readiness and tcpSocket liveness against a server on the pod IP; the startup probe gates them', async () => {
    await startKubelet();
    const gate = join(dir, `started-${n}`);
    const name = await createPod({
      containers: [
        {
          ...webServer('hi'),
          ports: [{ name: 'http', containerPort: 8080 }],
          startupProbe: { exec: { command: ['test', '-e', gate] }, periodSeconds: 1, failureThreshold: 30 },
          readinessProbe: { httpGet: { path: '/index.html', port: 'http' }, periodSeconds: 1 },
          livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        },
      ],
    });
    await until('running', async () => (await status(name)).containerStatuses?.[0]?.state.running);
    await new Promise((r) => setTimeout(r, 1500));
    const gated = await status(name);
    expect(ready(gated)).toBe(false);
    expect(gated.containerStatuses?.[0]).toMatchObject({ ready: false, started: false });
    rmSync(gate, { force: true });
    await import('node:fs').then((fs) => fs.writeFileSync(gate, ''));
    const up = await until(
      'Ready',
      async () => {
        const s = await status(name);
        return ready(s) && s;
      },
      15_000,
    );
    expect(up.containerStatuses?.[0].restartCount).toBe(0);
    const body = await fetch(`http://${up.podIP}:8080/index.html`).then((r) => r.text());
    expect(body).toBe('hi\n');
  });

  it('forwards a hostPort on the node address to the pod, and stops when the pod goes', async () => {
    await startKubelet();
    const hostPort = await freePort();
    const name = await createPod({
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          ...webServer('via-host-port'),
          ports: [{ containerPort: 8080, hostPort }],
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
        },
      ],
    });
    await until('Ready', async () => ready(await status(name)), 15_000);
    expect(await fetch(`http://127.0.0.1:${hostPort}/index.html`).then((r) => r.text())).toBe('via-host-port\n');
    await cluster.kubectlOk(['delete', 'pod', name, '--wait=true']);
    await until('host port closed', async () =>
      fetch(`http://127.0.0.1:${hostPort}/`).then(
        () => false,
        () => true,
      ),
    );
  });

  it('deletes gracefully: SIGTERM first, SIGKILL after the grace period, then confirms the deletion', async () => {
    await startKubelet();
    const polite = await createPod({ containers: [sh('trap "echo got TERM; exit 0" TERM; echo ready; while true; do sleep 0.1; done')] });
    const stubborn = await createPod({ terminationGracePeriodSeconds: 1, containers: [sh('trap "" TERM; while true; do sleep 0.1; done')] });
    await until(
      'both running',
      async () => (await status(polite)).containerStatuses?.[0]?.state.running && (await status(stubborn)).containerStatuses?.[0]?.state.running,
    );
    await until('ready logged', async () => (await logs(polite)).includes('ready'));
    const id = (await status(polite)).containerStatuses![0].containerID!.replace('process://', '');
    const runtime = new ProcessRuntime(join(dir, 'containers'));
    const started = Date.now();
    await cluster.kubectlOk(['delete', 'pod', polite, stubborn, '--wait=true']);
    // The stubborn one took its whole grace period; both are gone from the API and the runtime.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect((await cluster.api(`/api/v1/namespaces/default/pods/${polite}`)).status).toBe(404);
    expect((await runtime.list()).filter((c) => [polite, stubborn].includes(c.spec.podName))).toEqual([]);
    expect(id).toBeTruthy();
  });

  it('after a restart it adopts the containers of its pods and removes those of pods that went away', async () => {
    const first = await startKubelet();
    const kept = await createPod({ containers: [sh('sleep 60')] });
    const dropped = await createPod({ containers: [sh('sleep 60')] });
    await until(
      'both running',
      async () => (await status(kept)).containerStatuses?.[0]?.state.running && (await status(dropped)).containerStatuses?.[0]?.state.running,
    );
    const keptId = (await status(kept)).containerStatuses![0].containerID;
    await first.stop(); // the containers keep running
    kubelet = undefined;
    await cluster.api(`/api/v1/namespaces/default/pods/${dropped}?gracePeriodSeconds=0`, { method: 'DELETE' });
    const runtime = new ProcessRuntime(join(dir, 'containers'));
    expect((await runtime.list()).filter((c) => c.spec.podName === dropped && c.state === 'running')).toHaveLength(1);
    await startKubelet();
    await until('dropped removed', async () => (await runtime.list()).every((c) => c.spec.podName !== dropped));
    await new Promise((r) => setTimeout(r, 500));
    const after = (await status(kept)).containerStatuses![0];
    expect(after.containerID).toBe(keptId);
    expect(after.restartCount).toBe(0);
    expect(after.state.running).toBeTruthy();
  });

  it('a pod that finished stays finished, its status untouched, when the whole node restarts', async () => {
    const first = await startKubelet();
    const name = await createPod({ restartPolicy: 'OnFailure', initContainers: [{ ...sh('echo init'), name: 'prepare' }], containers: [sh('echo done')] });
    await until('Succeeded', async () => (await status(name)).phase === 'Succeeded');
    const finished = await status(name);
    expect(finished.containerStatuses?.[0]?.state.terminated?.reason).toBe('Completed');
    await first.stop({ stopPods: true }); // as `skiff up` stops: every container removed
    kubelet = undefined;
    await startKubelet();
    const runtime = new ProcessRuntime(join(dir, 'containers'));
    // Several sync rounds: nothing runs again and nothing is rewritten.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await runtime.list()).filter((c) => c.spec.podName === name)).toEqual([]);
    expect(await status(name)).toEqual(finished);
  });

  it('stop ends within its bound and leaves no process, even while pods are starting', async () => {
    const first = await startKubelet();
    const names = await Promise.all(
      [1, 2, 3].map(() => createPod({ terminationGracePeriodSeconds: 1, containers: [sh('trap "" TERM; while true; do sleep 0.1; done')] })),
    );
    await until('first running', async () => Boolean((await status(names[0])).containerStatuses?.[0]?.state.running));
    const started = Date.now();
    await first.stop({ stopPods: true });
    kubelet = undefined;
    expect(Date.now() - started).toBeLessThan(15_000);
    const runtime = new ProcessRuntime(join(dir, 'containers'));
    expect(await runtime.list()).toEqual([]);
  });
});

/**
 * Jobs as a CI pipeline runs them, with the real kubectl and @kubernetes/client-node on
 * `skiff up` (process runtime): `kubectl create job`, `kubectl wait --for=condition=complete`,
 * `kubectl logs job/x`; an Indexed Job whose pods print their index; a failing Job that ends
 * Failed; deleting a Job takes its pods; a Job kubectl would not accept is refused as
 * kube-apiserver refuses it; a CronJob, and a Job made from it with `--from`.
 */
import { describe, expect, it } from 'vitest';
import { k8s } from '../support/client-node.js';
import { eventually, kubectlOf, skiffUpForFile } from '../support/skiff-up.js';

interface BatchApi {
  createNamespacedJob(at: { namespace: string; body: object }): Promise<{ metadata?: { uid?: string } }>;
  readNamespacedJobStatus(at: {
    namespace: string;
    name: string;
  }): Promise<{ status?: { succeeded?: number; conditions?: { type: string; status: string }[] } }>;
}

const { cluster } = skiffUpForFile('skiff-jobs-', ['--nodes', '1', '--runtime', 'process', '--ingress-http-port', '0', '--ingress-https-port', '0']);
const { kubectl, ok } = kubectlOf(cluster);

describe('Jobs with kubectl', () => {
  it('kubectl create job runs to Complete; wait, logs and get show it', async () => {
    expect((await ok(['create', 'job', 'hello', '--image=busybox', '--', 'sh', '-c', 'echo hello from the job'])).trim()).toBe('job.batch/hello created');
    expect((await ok(['wait', '--for=condition=complete', 'job/hello', '--timeout=60s'])).trim()).toBe('job.batch/hello condition met');
    expect(await ok(['logs', 'job/hello'])).toBe('hello from the job\n');
    expect(await ok(['get', 'job', 'hello'])).toMatch(/^hello\s+Complete\s+1\/1\s+\d+s\s+\d+s\n$/m);
    const pods = JSON.parse(await ok(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=hello', '-o', 'json'])).items;
    expect(pods).toHaveLength(1);
    expect(pods[0].status.phase).toBe('Succeeded');
    expect(pods[0].metadata.finalizers ?? []).toEqual([]);
  });

  it('runs an Indexed Job, each pod with its JOB_COMPLETION_INDEX', async () => {
    const manifest = `
apiVersion: batch/v1
kind: Job
metadata: { name: shards }
spec:
  completions: 3
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: shard
          image: busybox
          command: ["sh", "-c", "echo shard $JOB_COMPLETION_INDEX of 3"]
`;
    await ok(['apply', '-f', '-'], manifest);
    await ok(['wait', '--for=condition=complete', 'job/shards', '--timeout=60s']);
    expect(await ok(['get', 'job', 'shards', '-o', 'jsonpath={.status.completedIndexes}'])).toBe('0-2');
    const names = (await ok(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=shards', '-o', 'name'])).trim().split('\n');
    const said = await Promise.all(names.map((n) => ok(['logs', n])));
    expect(said.sort()).toEqual(['shard 0 of 3\n', 'shard 1 of 3\n', 'shard 2 of 3\n']);
  });

  it('a Job whose pod fails ends Failed at its backoff limit', async () => {
    await ok(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'broken' },
        spec: {
          backoffLimit: 0,
          template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 3'] }] } },
        },
      }),
    );
    await ok(['wait', '--for=condition=failed', 'job/broken', '--timeout=60s']);
    const job = JSON.parse(await ok(['get', 'job', 'broken', '-o', 'json']));
    expect(job.status.failed).toBe(1);
    expect(job.status.conditions.find((c: { type: string }) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    expect(await ok(['get', 'job', 'broken', '--no-headers'])).toMatch(/^broken\s+Failed\s+0\/1\s/);
  });

  it('deleting a Job takes its pods with it', async () => {
    await ok(['delete', 'job', 'hello']);
    await eventually('its pods gone', async () => (await ok(['get', 'pods', '-l', 'batch.kubernetes.io/job-name=hello', '-o', 'name'])).trim() === '');
  });

  it('refuses a Job that would restart its pods, in kube-apiserver’s words', async () => {
    const r = await kubectl(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'forever' },
        spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'busybox' }] } } },
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"');
  });

  it('kubectl create cronjob; a Job made from it by hand runs; suspend shows; deleting it takes its Jobs', async () => {
    const made = await ok(['create', 'cronjob', 'nightly', '--image=busybox', '--schedule=0 3 * * *', '--', 'sh', '-c', 'echo from cron']);
    expect(made.trim()).toBe('cronjob.batch/nightly created');
    expect(await ok(['get', 'cronjob', 'nightly', '--no-headers'])).toMatch(/^nightly\s+0 3 \* \* \*\s+<none>\s+False\s+0\s+<none>\s+\d+s\n$/);
    expect((await ok(['create', 'job', 'manual', '--from=cronjob/nightly'])).trim()).toBe('job.batch/manual created');
    await ok(['wait', '--for=condition=complete', 'job/manual', '--timeout=60s']);
    expect(await ok(['logs', 'job/manual'])).toBe('from cron\n');
    const job = JSON.parse(await ok(['get', 'job', 'manual', '-o', 'json']));
    expect(job.metadata.ownerReferences[0]).toMatchObject({ kind: 'CronJob', name: 'nightly', controller: true });
    expect(job.metadata.annotations['cronjob.kubernetes.io/instantiate']).toBe('manual');
    await ok(['patch', 'cronjob', 'nightly', '-p', '{"spec":{"suspend":true}}']);
    expect(await ok(['get', 'cronjob', 'nightly', '-o', 'jsonpath={.spec.suspend}'])).toBe('true');
    await ok(['delete', 'cronjob', 'nightly']);
    await eventually('its Job gone', async () => (await kubectl(['get', 'job', 'manual'])).code !== 0);
  });

  it('runs a Job made through client-node', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster().kubeconfig);
    const BatchV1Api = (k8s as unknown as { BatchV1Api: abstract new (...args: never[]) => BatchApi }).BatchV1Api;
    const batch = kc.makeApiClient(BatchV1Api);
    const body = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'from-client-node' },
      spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox', command: ['true'] }] } } },
    };
    const made = await batch.createNamespacedJob({ namespace: 'default', body });
    expect(made.metadata?.uid).toBeTruthy();
    const done = await eventually(
      'Complete',
      async () => {
        const j = await batch.readNamespacedJobStatus({ namespace: 'default', name: 'from-client-node' });
        return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') && j;
      },
      60_000,
    );
    expect(done.status?.succeeded).toBe(1);
  });
});

describe('DaemonSets and ReplicationControllers with kubectl', () => {
  it('a DaemonSet runs on the node, rolls out a changed template, and goes with its pods', async () => {
    const manifest = `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent }
spec:
  selector: { matchLabels: { app: agent } }
  template:
    metadata: { labels: { app: agent } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: agent
          image: busybox
          command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
`;
    expect((await ok(['apply', '-f', '-'], manifest)).trim()).toBe('daemonset.apps/agent created');
    await ok(['rollout', 'status', 'ds/agent', '--timeout=60s']);
    expect(await ok(['get', 'ds', 'agent', '--no-headers'])).toMatch(/^agent\s+1\s+1\s+1\s+1\s+1\s+<none>\s+\d+s\n$/);
    const first = (await ok(['get', 'pods', '-l', 'app=agent', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    await ok(['set', 'env', 'ds/agent', 'MODE=fast']);
    await ok(['rollout', 'status', 'ds/agent', '--timeout=60s']);
    const now = await eventually('one new pod', async () => {
      const names = (await ok(['get', 'pods', '-l', 'app=agent', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(' ');
      return names.length === 1 && names[0] !== first && names[0];
    });
    expect(await ok(['get', 'pod', now, '-o', 'jsonpath={.spec.nodeName}'])).toBe('local-0');
    await ok(['delete', 'ds', 'agent']);
    await eventually('its pod gone', async () => (await ok(['get', 'pods', '-l', 'app=agent', '-o', 'name'])).trim() === '');
  });

  it('a ReplicationController keeps its replicas, scales, and goes with its pods', async () => {
    const manifest = `
apiVersion: v1
kind: ReplicationController
metadata: { name: legacy }
spec:
  replicas: 2
  template:
    metadata: { labels: { app: legacy } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: c
          image: busybox
          command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
`;
    await ok(['apply', '-f', '-'], manifest);
    // Its selector was defaulted from the template's labels.
    expect(await ok(['get', 'rc', 'legacy', '-o', 'jsonpath={.spec.selector.app}'])).toBe('legacy');
    await eventually('2 ready', async () => (await ok(['get', 'rc', 'legacy', '--no-headers'])).match(/^legacy\s+2\s+2\s+2\s+\d+s\n$/));
    await ok(['scale', 'rc', 'legacy', '--replicas=1']);
    await eventually('1 pod', async () => (await ok(['get', 'pods', '-l', 'app=legacy', '-o', 'name'])).trim().split('\n').length === 1);
    await ok(['delete', 'rc', 'legacy']);
    await eventually('its pods gone', async () => (await ok(['get', 'pods', '-l', 'app=legacy', '-o', 'name'])).trim() === '');
  });
});

/**
 * ResourceQuotas and LimitRanges with the real kubectl, on the API with its controllers and
 * simulated nodes: a quota refuses the pod over it with kube-apiserver's words and gives the room
 * back when a pod goes; a quota of compute resources refuses a pod that names none; object
 * counts; a Deployment over its quota says so on its ReplicaSet; a LimitRange fills in
 * containers' requests and limits and refuses what passes its bounds; `kubectl get quota` and
 * `describe` show the use.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ControlledCluster, kubectlCalls, startControlledCluster } from '../support/api-server.js';

let cluster: ControlledCluster;
beforeAll(async () => {
  cluster = await startControlledCluster(1);
});
afterAll(() => cluster?.stop());

const { ok, refused } = kubectlCalls(() => cluster);
const pod = (name: string, ns: string, resources?: object) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { containers: [{ name: 'main', image: 'busybox', ...(resources ? { resources } : {}) }] },
  });
const used = async (ns: string, quota: string) => JSON.parse(await ok(['get', 'quota', quota, '-n', ns, '-o', 'json'])).status?.used ?? {};
const eventually = (assertion: () => Promise<void>) => vi.waitFor(assertion, { timeout: 15_000, interval: 100 });

describe('ResourceQuota and LimitRange', () => {
  it('a quota refuses the pod over it, in kube-apiserver’s words, and gives the room back when a pod goes', async () => {
    await ok(['create', 'namespace', 'team-a']);
    await ok(['create', 'quota', 'small', '-n', 'team-a', '--hard=pods=2,requests.cpu=1,limits.cpu=2']);
    const small = { requests: { cpu: '400m' }, limits: { cpu: '800m' } };
    await ok(['apply', '-f', '-'], pod('one', 'team-a', small));
    await ok(['apply', '-f', '-'], pod('two', 'team-a', { requests: { cpu: '500m' }, limits: { cpu: '1' } }));
    expect(await refused(['apply', '-f', '-'], pod('three', 'team-a', { requests: { cpu: '50m' }, limits: { cpu: '50m' } }))).toBe(
      'Error from server (Forbidden): error when creating "STDIN": pods "three" is forbidden: exceeded quota: small, requested: pods=1, used: pods=2, limited: pods=2',
    );
    // Only what would pass its limit is named.
    await ok(['delete', 'pod', 'one', '-n', 'team-a', '--wait=true']);
    await eventually(async () => expect((await used('team-a', 'small')).pods).toBe('1'));
    expect(await refused(['apply', '-f', '-'], pod('greedy', 'team-a', { requests: { cpu: '600m' }, limits: { cpu: '600m' } }))).toContain(
      'exceeded quota: small, requested: requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1',
    );
    await ok(['apply', '-f', '-'], pod('one', 'team-a', small));
    await eventually(async () => expect(await used('team-a', 'small')).toEqual({ pods: '2', 'requests.cpu': '900m', 'limits.cpu': '1800m' }));
    expect(await ok(['get', 'quota', '-n', 'team-a'])).toMatch(/^small\s+\d+s\s+pods: 2\/2, requests\.cpu: 900m\/1\s+limits\.cpu: 1800m\/2$/m);
    expect(await ok(['describe', 'quota', 'small', '-n', 'team-a'])).toMatch(/requests\.cpu\s+900m\s+1/);

    await ok(['delete', 'pod', 'two', '-n', 'team-a', '--wait=true']);
    await eventually(async () => expect((await used('team-a', 'small')).pods).toBe('1'));
    await ok(['apply', '-f', '-'], pod('three', 'team-a', { requests: { cpu: '50m' }, limits: { cpu: '50m' } }));
  });

  it('a quota of compute resources refuses a pod that names none; counts of objects', async () => {
    await ok(['create', 'namespace', 'team-b']);
    await ok(['create', 'quota', 'mem', '-n', 'team-b', '--hard=limits.memory=1Gi,count/configmaps=1']);
    expect(await refused(['apply', '-f', '-'], pod('bare', 'team-b'))).toContain(
      'pods "bare" is forbidden: failed quota: mem: must specify limits.memory for: main',
    );
    await ok(['create', 'configmap', 'first', '-n', 'team-b']);
    expect(await refused(['create', 'configmap', 'second', '-n', 'team-b'])).toContain(
      'configmaps "second" is forbidden: exceeded quota: mem, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1',
    );
  });

  it('a Deployment over its quota makes what fits, and says why on its ReplicaSet', async () => {
    await ok(['create', 'namespace', 'team-c']);
    await ok(['create', 'quota', 'three', '-n', 'team-c', '--hard=pods=3']);
    await ok(['create', 'deployment', 'web', '-n', 'team-c', '--image=busybox', '--replicas=5']);
    await eventually(async () => expect(JSON.parse(await ok(['get', 'pods', '-n', 'team-c', '-o', 'json'])).items).toHaveLength(3));
    await eventually(async () =>
      expect(await ok(['get', 'events', '-n', 'team-c', '--field-selector', 'reason=FailedCreate'])).toMatch(/exceeded quota: three/),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(JSON.parse(await ok(['get', 'pods', '-n', 'team-c', '-o', 'json'])).items).toHaveLength(3);
  });

  it('a LimitRange fills in containers’ requests and limits, and refuses what passes its bounds', async () => {
    await ok(['create', 'namespace', 'team-d']);
    await ok(
      ['apply', '-f', '-'],
      `
apiVersion: v1
kind: LimitRange
metadata: { name: bounds, namespace: team-d }
spec:
  limits:
  - type: Container
    default: { cpu: 500m, memory: 256Mi }
    defaultRequest: { cpu: 100m }
    max: { cpu: "2" }
    min: { cpu: 50m }
  - type: PersistentVolumeClaim
    max: { storage: 1Gi }
`,
    );
    await ok(['apply', '-f', '-'], pod('plain', 'team-d'));
    const filled = JSON.parse(await ok(['get', 'pod', 'plain', '-n', 'team-d', '-o', 'json'])).spec.containers[0].resources;
    expect(filled).toEqual({ requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
    expect(await refused(['apply', '-f', '-'], pod('big', 'team-d', { limits: { cpu: '3' } }))).toContain(
      'pods "big" is forbidden: [maximum cpu usage per Container is 2, but limit is 3]',
    );
    expect(await refused(['apply', '-f', '-'], pod('tiny', 'team-d', { requests: { cpu: '10m' } }))).toContain(
      'pods "tiny" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m]',
    );
    const claim = `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"huge","namespace":"team-d"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"5Gi"}}}}`;
    expect(await refused(['apply', '-f', '-'], claim)).toContain(
      'persistentvolumeclaims "huge" is forbidden: [maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 5Gi]',
    );
    expect(await ok(['get', 'limitrange', '-n', 'team-d'])).toMatch(/^bounds\s+\d{4}-\d\d-\d\dT/m);
  });
});

/**
 * PodDisruptionBudgets and the Eviction subresource with the real kubectl (simulated nodes run
 * the pods): `kubectl create pdb`, the budget's status kept by the disruption controller,
 * `kubectl drain` stopped by a budget that allows no disruption and let through, one pod at a
 * time, by one that allows some; and the API's answers to what a budget or an eviction may not be.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlledCluster, startControlledCluster } from '../support/api-server.js';
import { until } from '../support/until.js';

let cluster: ControlledCluster;

beforeAll(async () => {
  cluster = await startControlledCluster(2);
  await cluster.kubectlOk(['create', 'deployment', 'web', '--image=app:v1', '--replicas=4']);
  await cluster.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
});
afterAll(async () => {
  await cluster?.stop();
});

const allowed = async () => (await cluster.kubectlOk(['get', 'pdb', 'web', '-o', 'jsonpath={.status.disruptionsAllowed}'])).trim();
const nodeOfWeb = async () => (await cluster.kubectlOk(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].spec.nodeName}'])).trim();

describe('kubectl drain within a PodDisruptionBudget', () => {
  it('keeps the budget’s status, and drain stops at a budget that allows nothing', async () => {
    expect((await cluster.kubectlOk(['create', 'pdb', 'web', '--selector=app=web', '--min-available=4'])).trim()).toBe(
      'poddisruptionbudget.policy/web created',
    );
    await until(
      'the budget counted',
      async () => (await cluster.kubectlOk(['get', 'pdb', 'web', '-o', 'jsonpath={.status.currentHealthy}'])).trim() === '4',
      20_000,
      200,
    );
    expect(await allowed()).toBe('0');
    const table = await cluster.kubectlOk(['get', 'pdb', 'web']);
    expect(table).toMatch(/^NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE$/m);
    expect(table).toMatch(/^web\s+4\s+N\/A\s+0\s+/m);

    const node = await nodeOfWeb();
    const drained = await cluster.kubectl(['drain', node, '--timeout=8s'], { timeoutMs: 30_000 });
    expect(drained.code).not.toBe(0);
    expect(drained.stderr).toContain("Cannot evict pod as it would violate the pod's disruption budget.");
    // Cordoned, but every pod still there and ready.
    expect(await cluster.kubectlOk(['get', 'node', node])).toContain('SchedulingDisabled');
    expect((await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'jsonpath={.status.readyReplicas}'])).trim()).toBe('4');
    await cluster.kubectlOk(['uncordon', node]);
  }, 60_000);

  it('lets drain through once the budget allows a disruption, one pod at a time', async () => {
    await cluster.kubectlOk(['patch', 'pdb', 'web', '--type=merge', '-p', '{"spec":{"minAvailable":3}}']);
    await until('one disruption allowed', async () => (await allowed()) === '1', 20_000, 200);
    const node = await nodeOfWeb();
    const onNode = async () =>
      (await cluster.kubectlOk(['get', 'pods', '-l', 'app=web', '--field-selector', `spec.nodeName=${node}`, '-o', 'name'])).trim().split('\n').filter(Boolean);
    expect((await onNode()).length).toBeGreaterThan(0);
    // Sampled throughout: never fewer than the budget's 3 ready.
    let fewest = 4;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const ready = Number((await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'jsonpath={.status.readyReplicas}'])).trim() || 0);
        fewest = Math.min(fewest, ready);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const drained = await cluster.kubectl(['drain', node, '--timeout=90s'], { timeoutMs: 100_000 });
    sampling = false;
    await sampler;
    expect(drained.code, drained.stderr).toBe(0);
    expect(drained.stdout).toContain(`node/${node} drained`);
    expect(await onNode()).toEqual([]);
    expect(fewest).toBeGreaterThanOrEqual(3);
    await cluster.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=30s'], { timeoutMs: 40_000 });
    await cluster.kubectlOk(['uncordon', node]);
  }, 120_000);
});

describe('what a budget or an eviction may not be', () => {
  const eviction = (pod: string, body: object = {}) =>
    cluster.api(`/api/v1/namespaces/default/pods/${pod}/eviction`, {
      method: 'POST',
      body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: 'default' }, ...body }),
    });

  it('refuses a budget with both fields, or a percentage over 100, with the field named', async () => {
    const both = await cluster.kubectl(['create', 'pdb', 'bad', '--selector=app=web', '--min-available=1', '--max-unavailable=1']);
    expect(both.code).not.toBe(0);
    const body = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'bad' }, spec: { minAvailable: 1, maxUnavailable: 1 } };
    const refused = await cluster.api('/apis/policy/v1/namespaces/default/poddisruptionbudgets', { method: 'POST', body: JSON.stringify(body) });
    expect(refused.status).toBe(422);
    expect(refused.json().message).toContain('minAvailable and maxUnavailable cannot be both set');
    const over = await cluster.api('/apis/policy/v1/namespaces/default/poddisruptionbudgets', {
      method: 'POST',
      body: JSON.stringify({ ...body, spec: { maxUnavailable: '120%' } }),
    });
    expect(over.status).toBe(422);
    expect(over.json().details.causes[0]).toMatchObject({ field: 'spec.maxUnavailable', message: expect.stringContaining('must not be greater than 100%') });
    expect((await cluster.api('/apis/policy/v1/namespaces/default/poddisruptionbudgets/bad')).status).toBe(404);
  });

  it('answers 429 with the budget’s numbers, 500 under two budgets, 404 for no pod, and evicts a pod no budget covers', async () => {
    await cluster.kubectlOk(['patch', 'pdb', 'web', '--type=merge', '-p', '{"spec":{"minAvailable":4}}']);
    await until('no disruption allowed', async () => (await allowed()) === '0', 20_000, 200);
    const pod = (await cluster.kubectlOk(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    const refused = await eviction(pod);
    expect(refused.status).toBe(429);
    expect(refused.json()).toMatchObject({
      kind: 'Status',
      reason: 'TooManyRequests',
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 4 healthy pods and has 4 currently' }] },
    });
    await cluster.kubectlOk(['create', 'pdb', 'web-too', '--selector=app=web', '--max-unavailable=1']);
    const twice = await eviction(pod);
    expect(twice.status).toBe(500);
    expect(twice.json().message).toContain('more than one PodDisruptionBudget');
    await cluster.kubectlOk(['delete', 'pdb', 'web-too']);
    expect((await eviction('no-such-pod')).status).toBe(404);
    expect((await eviction(pod, { metadata: { name: 'another' } })).status).toBe(400);
    // A pod no budget covers is evicted at once.
    await cluster.kubectlOk(['run', 'lone', '--image=app:v1']);
    await until(
      'the lone pod running',
      async () => (await cluster.kubectlOk(['get', 'pod', 'lone', '-o', 'jsonpath={.status.phase}'])).trim() === 'Running',
      20_000,
      200,
    );
    const evicted = await eviction('lone');
    expect(evicted.status).toBe(201);
    expect(evicted.json()).toMatchObject({ kind: 'Status', status: 'Success' });
    await until('the lone pod gone', async () => (await cluster.api('/api/v1/namespaces/default/pods/lone')).status === 404, 20_000, 200);
    // Nothing was spent or lost: the refused evictions left every web pod in place.
    expect((await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'jsonpath={.status.readyReplicas}'])).trim()).toBe('4');
  });
});

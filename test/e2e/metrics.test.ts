/**
 * Prometheus' scrape, under Kubernetes' metric names: the API's `/metrics` counts and times its
 * requests by verb, resource and code, and carries the controllers' work queues and the
 * scheduler's attempts where they share its process; it is for those allowed `get` on
 * `/metrics` (cluster admins, the system:monitoring group), as in Kubernetes.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ControlledCluster, startControlledCluster } from '../support/api-server.js';

let cluster: ControlledCluster;
beforeAll(async () => {
  cluster = await startControlledCluster(1);
});
afterAll(() => cluster?.stop());

/** The value of the first sample whose name and labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('/metrics', () => {
  it('counts and times requests by verb, resource and code, with the work queues and the scheduler beside them', async () => {
    await cluster.kubectlOk(['create', 'deployment', 'measured', '--image=busybox']);
    await cluster.kubectlOk(['get', 'pods']);
    expect((await cluster.kubectl(['get', 'pod', 'no-such-pod'])).code).toBe(1);
    await vi.waitFor(
      async () => {
        const text = await cluster.kubectlOk(['get', '--raw', '/metrics']);
        expect(sample(text, 'apiserver_request_total', { verb: 'LIST', resource: 'pods', scope: 'namespace', code: '200' })).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'apiserver_request_total', { verb: 'GET', resource: 'pods', scope: 'resource', code: '404' })).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'apiserver_request_total', { verb: 'POST', group: 'apps', resource: 'deployments', code: '201' })).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'apiserver_request_duration_seconds_count', { verb: 'LIST', resource: 'pods' })).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'workqueue_adds_total', { name: 'deployment' })).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'scheduler_schedule_attempts_total', { result: 'scheduled', profile: 'default-scheduler' })).toBeGreaterThanOrEqual(1);
        expect(text).toContain('# TYPE apiserver_request_duration_seconds histogram');
        expect(text).toMatch(/^process_cpu_seconds_total \d/m);
      },
      { timeout: 15_000, interval: 200 },
    );
  });

  it('is for those allowed get on /metrics: the system:monitoring group, not any signed-in user', async () => {
    const someone = cluster.server.issueToken('someone', []);
    const refused = await cluster.api('/metrics', { token: someone });
    expect(refused.status).toBe(403);
    expect(refused.json().message).toBe('forbidden: User "someone" cannot get path "/metrics"');
    const monitor = cluster.server.issueToken('prometheus', ['system:monitoring']);
    const allowed = await cluster.api('/metrics', { token: monitor });
    expect(allowed.status).toBe(200);
    expect(allowed.text).toContain('apiserver_request_total');
  });
});

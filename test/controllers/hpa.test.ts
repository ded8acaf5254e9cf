/**
 * The horizontal pod autoscaler's arithmetic, on simulated nodes with a metrics source and a
 * clock the test sets (the kubectl suite, test/e2e/local-workers.test.ts, scales real burning
 * pods): the tolerance, the scale-up limit, the stabilization window of a scale-down, min and
 * max, and pods without a CPU request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResource } from '../../shared/api/resources.js';
import type { Deployment } from '../../shared/api/schemas/index.js';
import { HorizontalPodAutoscalerController } from '../../shared/controllers/hpa.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { deployment } from '../support/manifests.js';
import { startSimCluster, type SimCluster, until } from '../support/sim-cluster.js';

const DEPLOYMENTS = findResource('apps', 'v1', 'deployments')!;
const HPAS = findResource('autoscaling', 'v1', 'horizontalpodautoscalers')!;
let sim: SimCluster;
let now = 1_000_000;
/** Each pod's CPU use in millicores, as the test says. */
let perPod = 0;

beforeAll(async () => {
  sim = await startSimCluster({ nodes: 2 });
});
afterAll(() => sim?.stop());

async function setUp(name: string, requests: Record<string, string> | undefined, hpa: Record<string, unknown>) {
  const made = deployment(name);
  if (requests) Object.assign(made.spec.template.spec.containers[0], { resources: { requests } });
  await sim.registry.create(DEPLOYMENTS, 'default', made);
  await sim.registry.create(HPAS, 'default', {
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, maxReplicas: 10, targetCPUUtilizationPercentage: 50, ...hpa },
  });
  const controller = new HorizontalPodAutoscalerController(sim.store, {
    clock: () => now,
    downscaleStabilizationMs: 60_000,
    metrics: async (namespace, selector) => {
      const pods = (await sim.store.list('pods', { namespace, labelSelector: selector })).items.filter(
        (p) => (p.status as { phase?: string })?.phase === 'Running',
      );
      return new Map(pods.map((p) => [p.metadata.name!, perPod]));
    },
  });
  const replicas = async () => ((await sim.store.get('deployments.apps', 'default', name)) as unknown as Deployment).spec.replicas;
  /** One pass, once every wanted pod runs (as a real pass sees them). */
  const pass = async () => {
    const want = await replicas();
    await until('pods running', async () => {
      const pods = (await sim.store.list('pods', { namespace: 'default', labelSelector: `app=${name}` })).items;
      return pods.filter((p) => !p.metadata.deletionTimestamp && (p.status as { phase?: string })?.phase === 'Running').length === want;
    });
    await controller.reconcile(`default/${name}`);
    return replicas();
  };
  return { pass, replicas };
}

describe('HorizontalPodAutoscaler', () => {
  it('scales up by at most double or 4 more a pass, never past max; within the tolerance it stays', async () => {
    const { pass } = await setUp('up', { cpu: '100m' }, { maxReplicas: 7 });
    perPod = 54; // 54% of the request against 50%: within 10%
    expect(await pass()).toBe(1);
    perPod = 1000; // 1000%: twenty times the target
    expect(await pass()).toBe(5); // 1 + 4
    expect(await pass()).toBe(7); // 10 wanted, max 7
    const hpa = (await sim.store.get('horizontalpodautoscalers.autoscaling', 'default', 'up')) as { status?: Record<string, unknown> };
    expect(hpa.status).toMatchObject({ currentReplicas: 5, desiredReplicas: 7, currentCPUUtilizationPercentage: 1000 });
  });

  it('scales down only to the highest recommendation of its window, and not under min', async () => {
    const { pass, replicas } = await setUp('down', { cpu: '100m' }, { minReplicas: 2 });
    await guaranteedUpdate(sim.store, 'deployments.apps', 'default', 'down', (d) => ({ ...d, spec: { ...(d.spec as object), replicas: 6 } }));
    perPod = 50;
    expect(await pass()).toBe(6);
    perPod = 25; // half the target: 3 wanted, but 6 was recommended within the window
    now += 10_000;
    expect(await pass()).toBe(6);
    perPod = 0;
    now += 61_000; // the 6 has left the window; the 3 too: 0 wanted, min 2
    expect(await pass()).toBe(2);
    expect(await replicas()).toBe(2);
  });

  it('pods without a CPU request cannot be measured: it says so and leaves the replicas', async () => {
    const { pass } = await setUp('norequest', undefined, {});
    perPod = 1000;
    expect(await pass()).toBe(1);
    const events = (await sim.store.list('events', { namespace: 'default' })).items as unknown as {
      reason: string;
      message: string;
      involvedObject: { name: string };
    }[];
    expect(events.find((e) => e.involvedObject.name === 'norequest' && e.reason === 'FailedGetResourceMetric')?.message).toBe(
      'failed to get cpu utilization: missing request for cpu',
    );
  });
});

/**
 * The horizontal pod autoscaler's arithmetic, on simulated nodes with a metrics source and a
 * clock the test sets (the kubectl suite, test/e2e/local-workers.test.ts, scales real burning
 * pods): the tolerance, the scale-up limit, the stabilization window of a scale-down, min and
 * max, and pods without a CPU request; autoscaling/v2's behavior, memory targets and conversion
 * to and from v1; a custom resource scaled through its CRD's scale paths.
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
const HPAS_V2 = findResource('autoscaling', 'v2', 'horizontalpodautoscalers')!;
let sim: SimCluster;
let now = 1_000_000;
/** Each pod's CPU use in millicores, as the test says. */
let perPod = 0;

beforeAll(async () => {
  sim = await startSimCluster({ nodes: 2 });
});
afterAll(() => sim?.stop());

/** Each pod's memory use in bytes, as the test says. */
let memoryPerPod = 0;

async function setUp(name: string, requests: Record<string, string> | undefined, hpa: Record<string, unknown>, version: 'v1' | 'v2' = 'v1') {
  const made = deployment(name);
  if (requests) Object.assign(made.spec.template.spec.containers[0], { resources: { requests } });
  await sim.registry.create(DEPLOYMENTS, 'default', made);
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name };
  await sim.registry.create(version === 'v1' ? HPAS : HPAS_V2, 'default', {
    apiVersion: `autoscaling/${version}`,
    kind: 'HorizontalPodAutoscaler',
    metadata: { name },
    spec:
      version === 'v1'
        ? { scaleTargetRef: ref, maxReplicas: 10, targetCPUUtilizationPercentage: 50, ...hpa }
        : { scaleTargetRef: ref, maxReplicas: 10, ...hpa },
  });
  const controller = new HorizontalPodAutoscalerController(sim.store, {
    clock: () => now,
    downscaleStabilizationMs: 60_000,
    metrics: async (namespace, selector, resource) => {
      const pods = (await sim.store.list('pods', { namespace, labelSelector: selector })).items.filter(
        (p) => (p.status as { phase?: string })?.phase === 'Running',
      );
      return new Map(pods.map((p) => [p.metadata.name!, resource === 'cpu' ? perPod : memoryPerPod]));
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
    // Read as v1 (what kubectl autoscale made), converted from the stored v2.
    const hpa = (await sim.registry.get(HPAS, 'default', 'up')) as { status?: Record<string, unknown> };
    expect(hpa.status).toMatchObject({ currentReplicas: 5, desiredReplicas: 7, currentCPUUtilizationPercentage: 1000 });
    const v2 = (await sim.registry.get(HPAS_V2, 'default', 'up')) as { status?: { conditions?: { type: string; status: string; reason: string }[] } };
    expect(v2.status?.conditions?.find((c) => c.type === 'ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooManyReplicas' });
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

  it('autoscaling/v2: behavior policies limit each step, a scale-up window holds the lowest recommendation', async () => {
    const behavior = {
      scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
      scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] },
    };
    const cpu = { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } };
    const { pass } = await setUp('stepped', { cpu: '100m' }, { metrics: [cpu], behavior }, 'v2');
    perPod = 1000;
    expect(await pass()).toBe(2); // one pod a minute
    now += 10_000;
    expect(await pass()).toBe(2); // still within the minute
    now += 60_000;
    expect(await pass()).toBe(3);
    perPod = 0;
    now += 61_000;
    expect(await pass()).toBe(2); // half of 3, rounded up, at most, in a minute
    now += 10_000;
    expect(await pass()).toBe(2);
    now += 61_000;
    expect(await pass()).toBe(1);
  });

  it('autoscaling/v2: a memory AverageValue target; a Pods metric it cannot read is reported and the others decide', async () => {
    const memory = { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } };
    const pods = { type: 'Pods', pods: { metric: { name: 'queue_depth' }, target: { type: 'AverageValue', averageValue: '10' } } };
    const { pass } = await setUp('memory', undefined, { metrics: [pods, memory] }, 'v2');
    memoryPerPod = 300 * 1024 * 1024;
    expect(await pass()).toBe(3);
    const hpa = (await sim.registry.get(HPAS_V2, 'default', 'memory')) as { status?: { currentMetrics?: unknown[] } };
    expect(hpa.status?.currentMetrics).toEqual([{ type: 'Resource', resource: { name: 'memory', current: { averageValue: '307200Ki' } } }]);
    const events = (await sim.store.list('events', { namespace: 'default' })).items as unknown as { reason: string; involvedObject: { name: string } }[];
    expect(events.some((e) => e.involvedObject.name === 'memory' && e.reason === 'FailedGetPodsMetric')).toBe(true);
  });

  it('one autoscaler, two versions: v1 keeps what only v2 has in annotations, and an update through v1 keeps it', async () => {
    const behavior = { scaleDown: { stabilizationWindowSeconds: 60 } };
    const memory = { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 70 } } };
    const cpu = { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } };
    await sim.registry.create(HPAS_V2, 'default', {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'both' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'both' }, maxReplicas: 4, metrics: [cpu, memory], behavior },
    });
    const v1 = (await sim.registry.get(HPAS, 'default', 'both')) as {
      apiVersion: string;
      metadata: { annotations: Record<string, string> };
      spec: Record<string, unknown>;
    };
    expect(v1.apiVersion).toBe('autoscaling/v1');
    expect(v1.spec.targetCPUUtilizationPercentage).toBe(60);
    expect(JSON.parse(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/metrics'])).toEqual([memory]);
    expect(JSON.parse(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/behavior']).scaleDown.stabilizationWindowSeconds).toBe(60);
    await sim.registry.update(HPAS, 'default', 'both', { ...v1, spec: { ...v1.spec, maxReplicas: 6, targetCPUUtilizationPercentage: 40 } });
    const v2 = (await sim.registry.get(HPAS_V2, 'default', 'both')) as { metadata: { annotations?: Record<string, string> }; spec: Record<string, unknown> };
    expect(v2.spec.maxReplicas).toBe(6);
    expect(v2.spec.metrics).toEqual([{ ...cpu, resource: { ...cpu.resource, target: { type: 'Utilization', averageUtilization: 40 } } }, memory]);
    expect((v2.spec.behavior as { scaleDown: { stabilizationWindowSeconds: number } }).scaleDown.stabilizationWindowSeconds).toBe(60);
    expect(v2.metadata.annotations ?? {}).not.toHaveProperty('autoscaling.alpha.kubernetes.io/behavior');
  });
});

describe('HorizontalPodAutoscaler of a custom resource', () => {
  it('scales a custom resource through its CRD’s scale paths', async () => {
    const CRDS = findResource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
    const PODS = findResource('', 'v1', 'pods')!;
    await sim.registry.create(CRDS, '', {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'workers.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'workers', kind: 'Worker' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            subresources: { status: {}, scale: { specReplicasPath: '.spec.size', statusReplicasPath: '.status.size', labelSelectorPath: '.status.selector' } },
          },
        ],
      },
    });
    await until('Established', async () =>
      (
        (await sim.store.get('customresourcedefinitions.apiextensions.k8s.io', '', 'workers.example.com')) as {
          status?: { conditions?: { type: string; status: string }[] };
        }
      ).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'),
    );
    await sim.store.create('workers.example.com', {
      apiVersion: 'example.com/v1',
      kind: 'Worker',
      metadata: { name: 'w', namespace: 'default' },
      spec: { size: 1 },
      status: { size: 1, selector: 'app=worker' },
    });
    await sim.registry.create(PODS, 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'worker-0', labels: { app: 'worker' } },
      spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '100m' } } }] },
    });
    await until(
      'worker running',
      async () => ((await sim.store.get('pods', 'default', 'worker-0')) as unknown as { status?: { phase?: string } }).status?.phase === 'Running',
    );
    await sim.registry.create(HPAS_V2, 'default', {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'w' },
      spec: {
        scaleTargetRef: { apiVersion: 'example.com/v1', kind: 'Worker', name: 'w' },
        maxReplicas: 5,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      },
    });
    const controller = new HorizontalPodAutoscalerController(sim.store, { clock: () => now, metrics: async () => new Map([['worker-0', 150]]) });
    await controller.reconcile('default/w');
    // 150% of the request against 50%: three times the one pod.
    expect(((await sim.store.get('workers.example.com', 'default', 'w')) as unknown as { spec: { size: number } }).spec.size).toBe(3);
  });
});

/**
 * HorizontalPodAutoscalers in both versions with the real kubectl: a Helm chart's autoscaling/v2
 * manifest (metrics, behavior) applies and prints its targets; `kubectl autoscale` (v1) makes
 * one that reads back as v2 with its CPU metric; each version reads the other's object, v1
 * keeping v2's extra metrics in annotations; bad metrics and policies are refused in
 * kube-apiserver's words. The scaling itself: test/controllers/hpa.test.ts and, with real
 * burning pods, test/e2e/local-workers.test.ts (in the AWS shape the functions run the
 * controller, which counts the replicas here; no metrics reach it, so targets stay unknown).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlledCluster, startControlledCluster } from '../support/api-server.js';

let cluster: ControlledCluster;
beforeAll(async () => {
  cluster = await startControlledCluster(0);
});
afterAll(() => cluster?.stop());

const ok = (args: string[], input?: string) => cluster.kubectlOk(args, { input });

const v2 = `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: web }
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: web }
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: { name: cpu, target: { type: Utilization, averageUtilization: 50 } }
  - type: Resource
    resource: { name: memory, target: { type: AverageValue, averageValue: 100Mi } }
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
      policies: [{ type: Pods, value: 1, periodSeconds: 30 }]
`;

describe('HorizontalPodAutoscaler, autoscaling/v2 and v1', () => {
  it('a v2 manifest applies, is defaulted, prints its targets, and reads as v1 too', async () => {
    await ok(['create', 'deployment', 'web', '--image=busybox', '--replicas=2']);
    await ok(['apply', '-f', '-'], v2);
    expect(await ok(['get', 'hpa', 'web'])).toMatch(/^web\s+Deployment\/web\s+cpu: <unknown>\/50%, memory: <unknown>\/100Mi\s+2\s+10\s+\d+\s+\d+s$/m);
    const stored = JSON.parse(await ok(['get', 'hpa', 'web', '-o', 'json']));
    expect(stored.apiVersion).toBe('autoscaling/v2');
    // The direction the manifest left out gets Kubernetes' defaults; the one it gave, the rest of them.
    expect(stored.spec.behavior.scaleUp).toEqual({
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    });
    expect(stored.spec.behavior.scaleDown).toEqual({
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }],
    });
    const v1 = JSON.parse(await ok(['get', 'horizontalpodautoscalers.v1.autoscaling', 'web', '-o', 'json']));
    expect(v1.apiVersion).toBe('autoscaling/v1');
    expect(v1.spec.targetCPUUtilizationPercentage).toBe(50);
    expect(JSON.parse(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/metrics'])[0].resource.name).toBe('memory');
    expect(await ok(['describe', 'hpa', 'web'])).toMatch(/Min replicas:\s+2/);
  });

  it('kubectl autoscale makes one that reads back as v2 with its CPU metric', async () => {
    await ok(['create', 'deployment', 'api', '--image=busybox']);
    expect((await ok(['autoscale', 'deployment', 'api', '--min=1', '--max=4', '--cpu-percent=70'])).trim()).toBe(
      'horizontalpodautoscaler.autoscaling/api autoscaled',
    );
    const made = JSON.parse(await ok(['get', 'hpa', 'api', '-o', 'json']));
    expect(made.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
    expect(await ok(['get', 'hpa', 'api'])).toMatch(/^api\s+Deployment\/api\s+cpu: <unknown>\/70%\s+1\s+4\s+\d+\s/m);
  });

  it('refuses bad metrics and policies in kube-apiserver’s words', async () => {
    const bad = v2
      .replace('name: web }', 'name: bad }')
      .replace('averageUtilization: 50', 'averageValue: 50m')
      .replace('type: Pods, value: 1', 'type: Pods, value: 0');
    const r = await cluster.kubectl(['apply', '-f', '-'], { input: bad });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('The HorizontalPodAutoscaler "bad" is invalid:');
    expect(r.stderr).toContain('spec.metrics[0].resource.target.averageUtilization: Required value: must set averageUtilization when type is Utilization');
    expect(r.stderr).toContain('spec.behavior.scaleDown.policies[0].value: Invalid value: 0: must be greater than zero');
  });
});

/**
 * The zod schemas accept what real manifests hold, and find what kube-apiserver would refuse:
 * unknown fields by path (for fieldValidation), wrong JSON types, unsupported values.
 */
import { describe, expect, it } from 'vitest';
import { checkSchema, unknownFields } from '../../shared/api/admission.js';
import { Deployment, type Pod } from '../../shared/api/schemas/index.js';
import { findResource } from '../../shared/api/resources.js';

const DEPLOYMENTS = findResource('apps', 'v1', 'deployments')!;
const PODS = findResource('', 'v1', 'pods')!;

const realistic = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' }, annotations: { 'kubernetes.io/change-cause': 'v2' } },
  spec: {
    replicas: 3,
    revisionHistoryLimit: 5,
    selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: '25%' } },
    template: {
      metadata: { labels: { app: 'web', tier: 'front' } },
      spec: {
        serviceAccountName: 'web',
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'example.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] },
          },
        },
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'web' } } },
        ],
        securityContext: { runAsNonRoot: true, fsGroup: 2000 },
        volumes: [
          { name: 'config', configMap: { name: 'web-config' } },
          { name: 'scratch', emptyDir: {} },
        ],
        initContainers: [{ name: 'init', image: 'busybox:1.36', command: ['sh', '-c', 'echo ready'] }],
        containers: [
          {
            name: 'web',
            image: 'nginx:1.25',
            ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
            env: [
              { name: 'MODE', value: 'prod' },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
            envFrom: [{ configMapRef: { name: 'web-env' } }],
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: 1, memory: '256Mi' } },
            readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 2, periodSeconds: 5 },
            livenessProbe: { tcpSocket: { port: 80 }, failureThreshold: 3 },
            volumeMounts: [{ name: 'config', mountPath: '/etc/web', readOnly: true }],
            lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
            securityContext: { allowPrivilegeEscalation: false },
          },
        ],
      },
    },
  },
};

describe('schemas', () => {
  it('accept a realistic Deployment with all its usual fields', () => {
    expect(Deployment.safeParse(realistic).success).toBe(true);
    expect(checkSchema(DEPLOYMENTS, realistic)).toEqual({ unknown: [], decodeErrors: [], causes: [] });
  });

  it('name unknown fields by path, however deep', () => {
    const typo = structuredClone(realistic) as Record<string, any>;
    typo.spec.replicaz = 2;
    typo.spec.template.spec.containers[0].imagee = 'x';
    typo.metadata.lables = {};
    expect(unknownFields(DEPLOYMENTS, typo).sort()).toEqual(['metadata.lables', 'spec.replicaz', 'spec.template.spec.containers[0].imagee']);
  });

  it('report wrong JSON types as decode errors and unsupported values as causes', () => {
    const wrong = structuredClone(realistic) as Record<string, any>;
    wrong.spec.replicas = 'three';
    wrong.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
    const report = checkSchema(DEPLOYMENTS, wrong);
    expect(report.decodeErrors).toEqual([expect.stringMatching(/^spec\.replicas: /)]);
    expect(report.causes).toEqual([
      {
        type: 'FieldValueNotSupported',
        field: 'spec.template.spec.containers[0].imagePullPolicy',
        message: 'Unsupported value: "Sometimes": supported values: "Always", "Never", "IfNotPresent"',
      },
    ]);
  });

  it('leave missing required fields to validation (422, not a decode error)', () => {
    const pod: Partial<Pod> = { metadata: { name: 'p' } };
    expect(checkSchema(PODS, pod as Record<string, unknown>).decodeErrors).toEqual([]);
  });
});

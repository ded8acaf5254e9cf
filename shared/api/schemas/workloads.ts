/** apps/v1 Deployment, ReplicaSet and DaemonSet. */
import { z } from 'zod';
import { Condition, LabelSelector, int32, int64, intOrString, objectOf, stringMap } from './common.js';
import { PodTemplateSpec } from './pod.js';

export const DeploymentStrategy = z.strictObject({
  type: z.string().optional(),
  rollingUpdate: z.strictObject({ maxUnavailable: intOrString.optional(), maxSurge: intOrString.optional() }).optional(),
});

export const DeploymentSpec = z.strictObject({
  replicas: int32.optional(),
  selector: LabelSelector,
  template: PodTemplateSpec,
  strategy: DeploymentStrategy.optional(),
  minReadySeconds: int32.optional(),
  revisionHistoryLimit: int32.optional(),
  paused: z.boolean().optional(),
  progressDeadlineSeconds: int32.optional(),
});

export const DeploymentStatus = z.looseObject({
  observedGeneration: int64.optional(),
  replicas: int32.optional(),
  updatedReplicas: int32.optional(),
  readyReplicas: int32.optional(),
  availableReplicas: int32.optional(),
  unavailableReplicas: int32.optional(),
  terminatingReplicas: int32.optional(),
  conditions: z.array(Condition).optional(),
  collisionCount: int32.optional(),
});

export const Deployment = objectOf('apps/v1', 'Deployment', { spec: DeploymentSpec, status: DeploymentStatus.optional() });
export type Deployment = z.infer<typeof Deployment>;

export const ReplicaSetSpec = z.strictObject({
  replicas: int32.optional(),
  selector: LabelSelector,
  template: PodTemplateSpec.optional(),
  minReadySeconds: int32.optional(),
});

export const ReplicaSetStatus = z.looseObject({
  replicas: int32,
  fullyLabeledReplicas: int32.optional(),
  readyReplicas: int32.optional(),
  availableReplicas: int32.optional(),
  terminatingReplicas: int32.optional(),
  observedGeneration: int64.optional(),
  conditions: z.array(Condition).optional(),
});

export const ReplicaSet = objectOf('apps/v1', 'ReplicaSet', { spec: ReplicaSetSpec, status: ReplicaSetStatus.partial().optional() });
export type ReplicaSet = z.infer<typeof ReplicaSet>;

export const DaemonSetSpec = z.strictObject({
  selector: LabelSelector,
  template: PodTemplateSpec,
  updateStrategy: z
    .strictObject({
      type: z.string().optional(),
      rollingUpdate: z.strictObject({ maxUnavailable: intOrString.optional(), maxSurge: intOrString.optional() }).optional(),
    })
    .optional(),
  minReadySeconds: int32.optional(),
  revisionHistoryLimit: int32.optional(),
});

export const DaemonSetStatus = z.looseObject({
  currentNumberScheduled: int32.optional(),
  numberMisscheduled: int32.optional(),
  desiredNumberScheduled: int32.optional(),
  numberReady: int32.optional(),
  observedGeneration: int64.optional(),
  updatedNumberScheduled: int32.optional(),
  numberAvailable: int32.optional(),
  numberUnavailable: int32.optional(),
  collisionCount: int32.optional(),
  conditions: z.array(Condition).optional(),
});

export const DaemonSet = objectOf('apps/v1', 'DaemonSet', { spec: DaemonSetSpec, status: DaemonSetStatus.optional() });
export type DaemonSet = z.infer<typeof DaemonSet>;

/** A claim a StatefulSet makes for each of its pods (its `volumeClaimTemplates`), kept as written. */
const ClaimTemplate = z.looseObject({ metadata: z.looseObject({ name: z.string().optional() }).optional(), spec: z.looseObject({}).optional() });

export const StatefulSetSpec = z.strictObject({
  replicas: int32.optional(),
  selector: LabelSelector,
  template: PodTemplateSpec,
  volumeClaimTemplates: z.array(ClaimTemplate).optional(),
  serviceName: z.string().optional(),
  podManagementPolicy: z.string().optional(),
  updateStrategy: z
    .strictObject({
      type: z.string().optional(),
      rollingUpdate: z.strictObject({ partition: int32.optional(), maxUnavailable: intOrString.optional() }).optional(),
    })
    .optional(),
  revisionHistoryLimit: int32.optional(),
  minReadySeconds: int32.optional(),
  persistentVolumeClaimRetentionPolicy: z.strictObject({ whenDeleted: z.string().optional(), whenScaled: z.string().optional() }).optional(),
  ordinals: z.strictObject({ start: int32.optional() }).optional(),
});

export const StatefulSetStatus = z.looseObject({
  observedGeneration: int64.optional(),
  replicas: int32.optional(),
  readyReplicas: int32.optional(),
  currentReplicas: int32.optional(),
  updatedReplicas: int32.optional(),
  availableReplicas: int32.optional(),
  currentRevision: z.string().optional(),
  updateRevision: z.string().optional(),
  collisionCount: int32.optional(),
  conditions: z.array(Condition).optional(),
});

export const StatefulSet = objectOf('apps/v1', 'StatefulSet', { spec: StatefulSetSpec, status: StatefulSetStatus.optional() });
export type StatefulSet = z.infer<typeof StatefulSet>;

/** v1 ReplicationController: a ReplicaSet whose selector is a plain map. */
export const ReplicationController = objectOf('v1', 'ReplicationController', {
  spec: z.strictObject({ replicas: int32.optional(), selector: stringMap.optional(), template: PodTemplateSpec.optional(), minReadySeconds: int32.optional() }),
  status: ReplicaSetStatus.partial().optional(),
});

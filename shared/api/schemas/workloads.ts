/** apps/v1 Deployment and ReplicaSet. */
import { z } from 'zod';
import { Condition, LabelSelector, intOrString, objectOf } from './common.js';
import { PodTemplateSpec } from './pod.js';

export const DeploymentStrategy = z.strictObject({
  type: z.string().optional(),
  rollingUpdate: z.strictObject({ maxUnavailable: intOrString.optional(), maxSurge: intOrString.optional() }).optional(),
});

export const DeploymentSpec = z.strictObject({
  replicas: z.number().int().optional(),
  selector: LabelSelector,
  template: PodTemplateSpec,
  strategy: DeploymentStrategy.optional(),
  minReadySeconds: z.number().int().optional(),
  revisionHistoryLimit: z.number().int().optional(),
  paused: z.boolean().optional(),
  progressDeadlineSeconds: z.number().int().optional(),
});

export const DeploymentStatus = z.looseObject({
  observedGeneration: z.number().int().optional(),
  replicas: z.number().int().optional(),
  updatedReplicas: z.number().int().optional(),
  readyReplicas: z.number().int().optional(),
  availableReplicas: z.number().int().optional(),
  unavailableReplicas: z.number().int().optional(),
  terminatingReplicas: z.number().int().optional(),
  conditions: z.array(Condition).optional(),
  collisionCount: z.number().int().optional(),
});

export const Deployment = objectOf('apps/v1', 'Deployment', { spec: DeploymentSpec, status: DeploymentStatus.optional() });
export type Deployment = z.infer<typeof Deployment>;

export const ReplicaSetSpec = z.strictObject({
  replicas: z.number().int().optional(),
  selector: LabelSelector,
  template: PodTemplateSpec.optional(),
  minReadySeconds: z.number().int().optional(),
});

export const ReplicaSetStatus = z.looseObject({
  replicas: z.number().int(),
  fullyLabeledReplicas: z.number().int().optional(),
  readyReplicas: z.number().int().optional(),
  availableReplicas: z.number().int().optional(),
  terminatingReplicas: z.number().int().optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(Condition).optional(),
});

export const ReplicaSet = objectOf('apps/v1', 'ReplicaSet', { spec: ReplicaSetSpec, status: ReplicaSetStatus.partial().optional() });
export type ReplicaSet = z.infer<typeof ReplicaSet>;

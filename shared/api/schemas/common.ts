/**
 * Building blocks of the Kubernetes object schemas. Objects are strict (an unknown field is a
 * zod `unrecognized_keys` issue, which is how `fieldValidation` finds unknown fields by name)
 * where users write fields by hand; deep, rarely hand-written structures are `loose`.
 */
import { z } from 'zod';

export const loose = z.looseObject({});
export const intOrString = z.union([z.number().int(), z.string()]);
/** A resource quantity: `100m`, `1Gi`, or a plain number. */
export const quantity = z.union([z.string(), z.number()]);
export const stringMap = z.record(z.string(), z.string());
export const timestamp = z.string().nullable();

export const OwnerReference = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

export const ObjectMeta = z.strictObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  selfLink: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: timestamp.optional(),
  deletionTimestamp: timestamp.optional(),
  deletionGracePeriodSeconds: z.number().int().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  ownerReferences: z.array(OwnerReference).optional(),
  finalizers: z.array(z.string()).optional(),
  managedFields: z.array(loose).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

export const LabelSelectorRequirement = z.strictObject({
  key: z.string(),
  operator: z.string(),
  values: z.array(z.string()).optional(),
});

export const LabelSelector = z.strictObject({
  matchLabels: stringMap.optional(),
  matchExpressions: z.array(LabelSelectorRequirement).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

export const Condition = z.looseObject({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: timestamp.optional(),
  lastUpdateTime: timestamp.optional(),
  lastProbeTime: timestamp.optional(),
  lastHeartbeatTime: timestamp.optional(),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof Condition>;

/** apiVersion, kind, metadata: what every object starts with. */
export function objectOf<A extends string, K extends string, S extends z.ZodRawShape>(apiVersion: A, kind: K, shape: S) {
  return z.strictObject({
    apiVersion: z.literal(apiVersion).optional(),
    kind: z.literal(kind).optional(),
    metadata: ObjectMeta,
    ...shape,
  });
}

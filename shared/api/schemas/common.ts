/**
 * Building blocks of the Kubernetes object schemas. Objects are strict (an unknown field is a
 * zod `unrecognized_keys` issue, which is how `fieldValidation` finds unknown fields by name)
 * where users write fields by hand; deep, rarely hand-written structures are `loose`.
 */
import { z } from 'zod';

export const loose = z.looseObject({});

/**
 * Go's integer fields. A number that does not fit (2147483648 in an int32, 1e10, 1.5) cannot be
 * decoded, which kube-apiserver answers 400 with encoding/json's words; the message here
 * follows them. int64 stops at 2^53, the last integer a JSON number holds exactly in JS.
 */
function goInteger(type: 'int32' | 'int64') {
  const error = (issue: { input?: unknown }) => {
    if (typeof issue.input !== 'number') return undefined;
    const shown = Number.isFinite(issue.input) ? JSON.stringify(issue.input) : String(issue.input);
    return `json: cannot unmarshal number ${shown} into Go value of type ${type}`;
  };
  return type === 'int32' ? z.int32({ error }) : z.int({ error });
}
export const int32 = goInteger('int32');
export const int64 = goInteger('int64');
/** IntOrString's number is an int32. */
export const intOrString = z.union([int32, z.string()], {
  error: (issue) => (typeof issue.input === 'number' ? `json: cannot unmarshal number ${JSON.stringify(issue.input)} into Go value of type int32` : undefined),
});
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
export type OwnerReference = z.infer<typeof OwnerReference>;

export const ObjectMeta = z.strictObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  selfLink: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: int64.optional(),
  creationTimestamp: timestamp.optional(),
  deletionTimestamp: timestamp.optional(),
  deletionGracePeriodSeconds: int64.optional(),
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
  observedGeneration: int64.optional(),
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

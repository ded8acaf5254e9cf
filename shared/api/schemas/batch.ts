/** batch/v1 Job and CronJob. */
import { z } from 'zod';
import { Condition, LabelSelector, ObjectMeta, int32, int64, objectOf, timestamp } from './common.js';
import { PodTemplateSpec } from './pod.js';

const PodFailurePolicyRule = z.strictObject({
  action: z.string(),
  onExitCodes: z.strictObject({ containerName: z.string().optional(), operator: z.string(), values: z.array(int32) }).optional(),
  onPodConditions: z.array(z.strictObject({ type: z.string(), status: z.string().optional() })).optional(),
});

export const JobSpec = z.strictObject({
  parallelism: int32.optional(),
  completions: int32.optional(),
  activeDeadlineSeconds: int64.optional(),
  podFailurePolicy: z.strictObject({ rules: z.array(PodFailurePolicyRule) }).optional(),
  successPolicy: z.strictObject({ rules: z.array(z.strictObject({ succeededIndexes: z.string().optional(), succeededCount: int32.optional() })) }).optional(),
  backoffLimit: int32.optional(),
  backoffLimitPerIndex: int32.optional(),
  maxFailedIndexes: int32.optional(),
  selector: LabelSelector.optional(),
  manualSelector: z.boolean().optional(),
  template: PodTemplateSpec,
  ttlSecondsAfterFinished: int32.optional(),
  completionMode: z.string().optional(),
  suspend: z.boolean().optional(),
  podReplacementPolicy: z.string().optional(),
  managedBy: z.string().optional(),
});

export const JobStatus = z.looseObject({
  conditions: z.array(Condition).optional(),
  startTime: timestamp.optional(),
  completionTime: timestamp.optional(),
  active: int32.optional(),
  succeeded: int32.optional(),
  failed: int32.optional(),
  terminating: int32.optional(),
  ready: int32.optional(),
  completedIndexes: z.string().optional(),
  failedIndexes: z.string().optional(),
  uncountedTerminatedPods: z.strictObject({ succeeded: z.array(z.string()).optional(), failed: z.array(z.string()).optional() }).optional(),
});

export const Job = objectOf('batch/v1', 'Job', { spec: JobSpec, status: JobStatus.optional() });
export type Job = z.infer<typeof Job>;

/** batch/v1 CronJob. */
export const CronJobSpec = z.strictObject({
  schedule: z.string(),
  timeZone: z.string().optional(),
  startingDeadlineSeconds: int64.optional(),
  concurrencyPolicy: z.string().optional(),
  suspend: z.boolean().optional(),
  jobTemplate: z.strictObject({ metadata: ObjectMeta.partial().optional(), spec: JobSpec }),
  successfulJobsHistoryLimit: int32.optional(),
  failedJobsHistoryLimit: int32.optional(),
});

export const CronJobStatus = z.looseObject({
  active: z.array(z.looseObject({})).optional(),
  lastScheduleTime: timestamp.optional(),
  lastSuccessfulTime: timestamp.optional(),
});

export const CronJob = objectOf('batch/v1', 'CronJob', { spec: CronJobSpec, status: CronJobStatus.optional() });
export type CronJob = z.infer<typeof CronJob>;

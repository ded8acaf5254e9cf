/**
 * batch/v1 Job, as kube-apiserver's strategy has it: defaults (one completion at parallelism 1,
 * backoffLimit 6, NonIndexed), a selector generated from the Job's own uid (with the
 * `batch.kubernetes.io/controller-uid` and `job-name` labels on its template) unless
 * `manualSelector`, validation with Kubernetes' messages, and what may not change.
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../../store/object.js';
import { ageColumn, humanDuration, nameColumn } from '../columns.js';
import { Job } from '../schemas/index.js';
import type { StatusCause } from '../status.js';
import { asArray, asObj, forbiddenField, invalidValue, isObj, notSupported, required, sameJson } from '../validation.js';
import { resource, type Kind } from './kind.js';
import { defaultPodSpec, podTemplateSecurity, validatePodSpec, workloadWideColumns } from './pod-spec.js';

export const CONTROLLER_UID = 'batch.kubernetes.io/controller-uid';
export const JOB_NAME = 'batch.kubernetes.io/job-name';
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
const MAX_INT32 = 2 ** 31 - 1;

const conditionTrue = (o: KubeObject, type: string) => asArray(asObj(o.status).conditions).some((c) => asObj(c).type === type && asObj(c).status === 'True');

/** `kubectl get jobs`' Status column. */
function jobStatus(o: KubeObject): string {
  if (conditionTrue(o, 'Complete')) return 'Complete';
  if (conditionTrue(o, 'Failed')) return 'Failed';
  if (conditionTrue(o, 'FailureTarget')) return 'FailureTarget';
  if (conditionTrue(o, 'Suspended')) return 'Suspended';
  if (conditionTrue(o, 'SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  return 'Running';
}

function duration(o: KubeObject, now: Date): string {
  const status = asObj(o.status);
  if (typeof status.startTime !== 'string') return '';
  const end = typeof status.completionTime === 'string' ? Date.parse(status.completionTime) : now.getTime();
  return humanDuration(end - Date.parse(status.startTime));
}

function defaults(object: KubeObject): void {
  if (!isObj(object.spec)) return;
  const spec = object.spec;
  if (spec.completions === undefined && spec.parallelism === undefined) spec.completions = 1;
  spec.parallelism ??= 1;
  spec.backoffLimit ??= spec.backoffLimitPerIndex !== undefined ? MAX_INT32 : 6;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= spec.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  const template = asObj(spec.template);
  defaultPodSpec(template.spec);
  if (spec.manualSelector === true || spec.selector !== undefined) return;
  // The selector names the Job's own uid, drawn here (the store keeps it): no other Job's pods match.
  object.metadata.uid ||= randomUUID();
  const uid = object.metadata.uid;
  const name = object.metadata.name ?? '';
  spec.selector = { matchLabels: { [CONTROLLER_UID]: uid } };
  const meta = asObj(template.metadata);
  meta.labels = { ...asObj(meta.labels), [CONTROLLER_UID]: uid, [JOB_NAME]: name, 'controller-uid': uid, 'job-name': name };
  template.metadata = meta;
  spec.template = template;
}

function nonNegative(spec: Record<string, unknown>, field: string, causes: StatusCause[]): void {
  const v = spec[field];
  if (v !== undefined && (typeof v !== 'number' || v < 0)) causes.push(invalidValue(`spec.${field}`, v, 'must be greater than or equal to 0'));
}

function validatePodFailurePolicy(spec: Record<string, unknown>, restartPolicy: unknown, causes: StatusCause[]): void {
  if (spec.podFailurePolicy === undefined) return;
  if (restartPolicy !== 'Never')
    causes.push(invalidValue('spec.template.spec.restartPolicy', restartPolicy, 'only "Never" is supported when podFailurePolicy is specified'));
  asArray(asObj(spec.podFailurePolicy).rules).forEach((raw, i) => {
    const rule = asObj(raw);
    const path = `spec.podFailurePolicy.rules[${i}]`;
    if (!['FailJob', 'Ignore', 'Count', 'FailIndex'].includes(String(rule.action)))
      causes.push(notSupported(`${path}.action`, rule.action, ['Count', 'FailIndex', 'FailJob', 'Ignore']));
    const codes = rule.onExitCodes === undefined ? undefined : asObj(rule.onExitCodes);
    if ((codes === undefined) === (rule.onPodConditions === undefined))
      causes.push(invalidValue(path, '', 'specifying one of onExitCodes and onPodConditions is required'));
    if (codes && !['In', 'NotIn'].includes(String(codes.operator))) causes.push(notSupported(`${path}.onExitCodes.operator`, codes.operator, ['In', 'NotIn']));
    if (codes && asArray(codes.values).length === 0) causes.push(required(`${path}.onExitCodes.values`));
    if (codes?.operator === 'In' && asArray(codes.values).includes(0))
      causes.push(invalidValue(`${path}.onExitCodes.values[0]`, 0, 'must not be 0 for the In operator'));
  });
}

/** backoffLimitPerIndex and maxFailedIndexes: an Indexed Job's, within its completions; FailIndex needs them. */
function validatePerIndex(spec: Record<string, unknown>, causes: StatusCause[]): void {
  const indexed = spec.completionMode === 'Indexed';
  const perIndex = spec.backoffLimitPerIndex;
  nonNegative(spec, 'backoffLimitPerIndex', causes);
  nonNegative(spec, 'maxFailedIndexes', causes);
  if (perIndex !== undefined && !indexed) causes.push(forbiddenField('spec.backoffLimitPerIndex', 'requires indexed completion mode'));
  if (spec.maxFailedIndexes !== undefined) {
    if (perIndex === undefined) causes.push(forbiddenField('spec.maxFailedIndexes', 'cannot set maxFailedIndexes when backoffLimitPerIndex is nil'));
    if (typeof spec.completions === 'number' && Number(spec.maxFailedIndexes) > spec.completions)
      causes.push(invalidValue('spec.maxFailedIndexes', spec.maxFailedIndexes, 'must be less than or equal to completions'));
  }
  asArray(asObj(spec.podFailurePolicy).rules).forEach((raw, i) => {
    if (asObj(raw).action === 'FailIndex' && perIndex === undefined)
      causes.push(invalidValue(`spec.podFailurePolicy.rules[${i}].action`, 'FailIndex', 'requires the backoffLimitPerIndex to be set'));
  });
}

/** successPolicy: an Indexed Job's, 1 to 20 rules, each naming succeeded indexes (within completions), a count, or both. */
function validateSuccessPolicy(spec: Record<string, unknown>, causes: StatusCause[]): void {
  if (spec.successPolicy === undefined) return;
  if (spec.completionMode !== 'Indexed') {
    causes.push(invalidValue('spec.successPolicy', spec.successPolicy, 'requires indexed completion mode'));
    return;
  }
  const rules = asArray(asObj(spec.successPolicy).rules);
  if (rules.length === 0) causes.push(required('spec.successPolicy.rules', 'Required value: at least one rule'));
  if (rules.length > 20)
    causes.push({ type: 'FieldValueTooMany', field: 'spec.successPolicy.rules', message: `Too many: ${rules.length}: must have at most 20 items` });
  const completions = typeof spec.completions === 'number' ? spec.completions : 0;
  rules.forEach((raw, i) => {
    const rule = asObj(raw);
    const at = `spec.successPolicy.rules[${i}]`;
    if (rule.succeededIndexes === undefined && rule.succeededCount === undefined)
      causes.push(required(at, 'Required value: at least one of succeededCount or succeededIndexes must be specified'));
    const count = rule.succeededCount;
    if (typeof count === 'number' && (count < 0 || count > completions))
      causes.push(invalidValue(`${at}.succeededCount`, count, `must be between 0 and completions (${completions})`));
    if (typeof rule.succeededIndexes === 'string') {
      const ok = /^(\d+(-\d+)?)(,\d+(-\d+)?)*$/.test(rule.succeededIndexes);
      const bad = ok
        ? rule.succeededIndexes
            .split(',')
            .some((part) => part.split('-').some((n) => Number(n) >= completions) || Number(part.split('-')[0]) > Number(part.split('-')[1] ?? part))
        : true;
      if (bad)
        causes.push(
          invalidValue(
            `${at}.succeededIndexes`,
            rule.succeededIndexes,
            `must be ascending intervals of indexes below completions (${completions}), as "0-2,5"`,
          ),
        );
      if (
        !bad &&
        typeof count === 'number' &&
        count > rule.succeededIndexes.split(',').reduce((n, part) => n + (Number(part.split('-')[1] ?? part.split('-')[0]) - Number(part.split('-')[0]) + 1), 0)
      )
        causes.push(invalidValue(`${at}.succeededCount`, count, 'must be less than or equal to the number of indexes in succeededIndexes'));
    }
  });
}

function validate(object: KubeObject, causes: StatusCause[]): void {
  if (!isObj(object.spec)) {
    causes.push(required('spec'));
    return;
  }
  const spec = object.spec;
  for (const field of ['parallelism', 'completions', 'backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished']) nonNegative(spec, field, causes);
  if (typeof spec.activeDeadlineSeconds === 'number' && spec.activeDeadlineSeconds === 0)
    causes.push(invalidValue('spec.activeDeadlineSeconds', 0, 'must be greater than 0'));
  if (!['NonIndexed', 'Indexed'].includes(String(spec.completionMode)))
    causes.push(notSupported('spec.completionMode', spec.completionMode, ['NonIndexed', 'Indexed']));
  if (spec.completionMode === 'Indexed' && spec.completions === undefined) causes.push(required('spec.completions', 'when completion mode is Indexed'));
  const template = asObj(spec.template);
  const restartPolicy = asObj(template.spec).restartPolicy;
  if (restartPolicy !== 'Never' && restartPolicy !== 'OnFailure')
    causes.push(notSupported('spec.template.spec.restartPolicy', restartPolicy, ['OnFailure', 'Never']));
  validatePodFailurePolicy(spec, restartPolicy, causes);
  validatePerIndex(spec, causes);
  validateSuccessPolicy(spec, causes);
  const selector = asObj(spec.selector);
  const matchLabels = asObj(selector.matchLabels);
  if (Object.keys(matchLabels).length === 0 && asArray(selector.matchExpressions).length === 0) causes.push(required('spec.selector'));
  else {
    const labels = asObj(asObj(template.metadata).labels);
    if (Object.entries(matchLabels).some(([k, v]) => labels[k] !== v))
      causes.push(invalidValue('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  }
  validatePodSpec(template.spec, 'spec.template.spec', causes);
}

/** The selector, completions and (outside suspension) the template may not change; an Indexed Job's mode neither. */
function validateUpdate(object: KubeObject, old: KubeObject, causes: StatusCause[]): void {
  const [now, was] = [asObj(object.spec), asObj(old.spec)];
  for (const field of ['selector', 'completions', 'completionMode', 'podFailurePolicy', 'backoffLimitPerIndex', 'manualSelector'])
    if (!sameJson(now[field], was[field])) causes.push(invalidValue(`spec.${field}`, now[field], 'field is immutable'));
  if (!sameJson(now.template, was.template) && was.suspend !== true) causes.push(invalidValue('spec.template', now.template, 'field is immutable'));
}

export const job: Kind = {
  info: resource('batch', 'v1', 'jobs', 'Job', { categories: ['all'], subresources: ['status'] }),
  schema: Job,
  admit: podTemplateSecurity,
  columns: [
    nameColumn,
    { name: 'Status', type: 'string', description: 'Status of the job.', cell: jobStatus },
    {
      name: 'Completions',
      type: 'string',
      description: 'The completion status of the job.',
      cell: (o) => {
        const spec = asObj(o.spec);
        const done = asObj(o.status).succeeded ?? 0;
        if (spec.completions !== undefined) return `${done}/${spec.completions}`;
        return Number(spec.parallelism ?? 1) > 1 ? `${done}/1 of ${spec.parallelism}` : `${done}/1`;
      },
    },
    { name: 'Duration', type: 'string', description: 'Time required to complete the job.', cell: duration },
    ageColumn,
    ...workloadWideColumns,
  ],
  initialStatus: () => ({}),
  defaults,
  validate,
  validateUpdate,
};

/**
 * batch/v1 CronJob: a schedule in cron's five fields or a macro (`@hourly`, `@daily`, ...),
 * parsed by croner; a time zone from the IANA database (`timeZone`, never a `TZ=` prefix, as
 * Kubernetes refuses it since 1.27); Kubernetes' defaults (Allow, history limits 3 and 1) and
 * its words for what is invalid. The Jobs are made by `shared/controllers/cronjob.ts`.
 */
import { Cron } from 'croner';
import type { KubeObject } from '../../store/object.js';
import { age, ageColumn, nameColumn } from '../columns.js';
import { CronJob } from '../schemas/index.js';
import type { StatusCause } from '../status.js';
import { asArray, asObj, invalidValue, isObj, notSupported, required } from '../validation.js';
import { resource, type Kind } from './kind.js';
import { defaultPodSpec, podTemplateSecurity, validatePodSpec } from './pod-spec.js';

/** The schedule as croner runs it, or why it is not one Kubernetes takes. */
export function parseSchedule(schedule: string, timeZone?: string): Cron | string {
  const text = schedule.trim();
  if (/^(CRON_)?TZ=/.test(text)) return 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead';
  if (!text.startsWith('@') && text.split(/\s+/).length !== 5) return `expected exactly 5 fields, found ${text.split(/\s+/).length}: ${text}`;
  if (text === '@every' || text.startsWith('@every ')) return 'the @every form is not supported';
  try {
    return new Cron(text, { paused: true, timezone: timeZone });
  } catch (err) {
    return (err as Error).message;
  }
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function defaults(object: KubeObject): void {
  if (!isObj(object.spec)) return;
  const spec = object.spec;
  spec.concurrencyPolicy ??= 'Allow';
  spec.suspend ??= false;
  spec.successfulJobsHistoryLimit ??= 3;
  spec.failedJobsHistoryLimit ??= 1;
  const jobSpec = asObj(asObj(spec.jobTemplate).spec);
  defaultPodSpec(asObj(jobSpec.template).spec);
}

function validate(object: KubeObject, causes: StatusCause[]): void {
  if (!isObj(object.spec)) {
    causes.push(required('spec'));
    return;
  }
  const spec = object.spec;
  if (typeof spec.timeZone === 'string' && !validTimeZone(spec.timeZone)) causes.push(invalidValue('spec.timeZone', spec.timeZone, 'unknown time zone'));
  if (typeof spec.schedule !== 'string' || !spec.schedule.trim()) causes.push(required('spec.schedule'));
  else {
    const parsed = parseSchedule(spec.schedule, typeof spec.timeZone === 'string' && validTimeZone(spec.timeZone) ? spec.timeZone : undefined);
    if (typeof parsed === 'string') causes.push(invalidValue('spec.schedule', spec.schedule, parsed));
  }
  if (!['Allow', 'Forbid', 'Replace'].includes(String(spec.concurrencyPolicy)))
    causes.push(notSupported('spec.concurrencyPolicy', spec.concurrencyPolicy, ['Allow', 'Forbid', 'Replace']));
  for (const field of ['startingDeadlineSeconds', 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit']) {
    const v = spec[field];
    if (v !== undefined && (typeof v !== 'number' || v < 0)) causes.push(invalidValue(`spec.${field}`, v, 'must be greater than or equal to 0'));
  }
  const template = asObj(asObj(asObj(spec.jobTemplate).spec).template);
  const restartPolicy = asObj(template.spec).restartPolicy;
  if (restartPolicy !== 'Never' && restartPolicy !== 'OnFailure')
    causes.push(notSupported('spec.jobTemplate.spec.template.spec.restartPolicy', restartPolicy, ['OnFailure', 'Never']));
  validatePodSpec(template.spec, 'spec.jobTemplate.spec.template.spec', causes);
}

export const cronJob: Kind = {
  info: resource('batch', 'v1', 'cronjobs', 'CronJob', { shortNames: ['cj'], categories: ['all'], subresources: ['status'] }),
  schema: CronJob,
  admit: (object, context) => podTemplateSecurity({ ...object, spec: asObj(asObj(object.spec).jobTemplate).spec }, context),
  columns: [
    nameColumn,
    { name: 'Schedule', type: 'string', description: 'The schedule in Cron format.', cell: (o) => asObj(o.spec).schedule },
    { name: 'Timezone', type: 'string', description: 'The time zone of the schedule.', cell: (o) => asObj(o.spec).timeZone ?? '<none>' },
    { name: 'Suspend', type: 'string', description: 'Whether the CronJob is suspended.', cell: (o) => (asObj(o.spec).suspend === true ? 'True' : 'False') },
    { name: 'Active', type: 'integer', description: 'The number of its Jobs running.', cell: (o) => asArray(asObj(o.status).active).length },
    {
      name: 'Last Schedule',
      type: 'date',
      description: 'When a Job was last scheduled.',
      cell: (o, now) => (asObj(o.status).lastScheduleTime ? age(asObj(o.status).lastScheduleTime, now) : '<none>'),
    },
    ageColumn,
  ],
  initialStatus: () => ({}),
  defaults,
  validate,
};

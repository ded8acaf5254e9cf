/** The scheduler's public face: `schedule` and what it returns. */
export {
  schedule,
  formatMessage,
  SchedulingCache,
  type Binding,
  type ScheduleInput,
  type ScheduleOptions,
  type ScheduleResult,
  type Unschedulable,
  type PodRef,
} from './schedule.js';
export { ZONE_LABEL, HOSTNAME_LABEL } from './compile.js';

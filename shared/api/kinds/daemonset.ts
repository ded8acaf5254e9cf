/** apps/v1 DaemonSet: Kubernetes' defaults (RollingUpdate, maxUnavailable 1), a workload's checks, its columns. */
import type { KubeObject } from '../../store/object.js';
import { ageColumn, mapSelector, nameColumn } from '../columns.js';
import { DaemonSet } from '../schemas/index.js';
import { asObj, isObj, notSupported } from '../validation.js';
import { resource, type Kind } from './kind.js';
import { defaultPodSpec, podTemplateSecurity, selectorImmutable, validateWorkloadSpec, workloadWideColumns } from './pod-spec.js';

const status = (key: string) => (o: KubeObject) => asObj(o.status)[key] ?? 0;

export const daemonSet: Kind = {
  info: resource('apps', 'v1', 'daemonsets', 'DaemonSet', { shortNames: ['ds'], categories: ['all'], subresources: ['status'] }),
  schema: DaemonSet,
  admit: podTemplateSecurity,
  columns: [
    nameColumn,
    { name: 'Desired', type: 'integer', cell: status('desiredNumberScheduled') },
    { name: 'Current', type: 'integer', cell: status('currentNumberScheduled') },
    { name: 'Ready', type: 'integer', cell: status('numberReady') },
    { name: 'Up-to-date', type: 'integer', cell: status('updatedNumberScheduled') },
    { name: 'Available', type: 'integer', cell: status('numberAvailable') },
    { name: 'Node Selector', type: 'string', cell: (o) => mapSelector(asObj(asObj(asObj(o.spec).template).spec).nodeSelector) },
    ageColumn,
    ...workloadWideColumns,
  ],
  initialStatus: () => ({ currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 }),
  defaults(object) {
    if (!isObj(object.spec)) return;
    const spec = object.spec;
    spec.updateStrategy ??= { type: 'RollingUpdate' };
    const strategy = asObj(spec.updateStrategy);
    strategy.type ??= 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') strategy.rollingUpdate = { maxUnavailable: 1, maxSurge: 0, ...asObj(strategy.rollingUpdate) };
    spec.revisionHistoryLimit ??= 10;
    defaultPodSpec(asObj(spec.template).spec);
  },
  validate(object, causes) {
    const spec = validateWorkloadSpec(object, causes);
    const restartPolicy = asObj(asObj(spec?.template).spec).restartPolicy;
    if (spec && restartPolicy !== 'Always') causes.push(notSupported('spec.template.spec.restartPolicy', restartPolicy, ['Always']));
    const type = asObj(spec?.updateStrategy).type;
    if (spec && !['RollingUpdate', 'OnDelete'].includes(String(type)))
      causes.push(notSupported('spec.updateStrategy.type', type, ['OnDelete', 'RollingUpdate']));
  },
  validateUpdate: selectorImmutable,
};

/** apps/v1 Deployment. */
import { ageColumn, nameColumn } from '../columns.js';
import { Deployment } from '../schemas/index.js';
import { asObj, invalidValue, isObj, notSupported } from '../validation.js';
import { resource, type Kind } from './kind.js';
import { defaultPodSpec, podTemplateSecurity, selectorImmutable, validateWorkloadSpec, workloadWideColumns } from './pod-spec.js';

const isZero = (v: unknown) => v === 0 || v === '0' || v === '0%';

export const deployment: Kind = {
  info: resource('apps', 'v1', 'deployments', 'Deployment', { shortNames: ['deploy'], categories: ['all'], subresources: ['status', 'scale'] }),
  schema: Deployment,
  admit: podTemplateSecurity,
  columns: [
    nameColumn,
    {
      name: 'Ready',
      type: 'string',
      description: 'Number of the pod with ready state',
      cell: (o) => `${asObj(o.status).readyReplicas ?? 0}/${asObj(o.spec).replicas ?? 0}`,
    },
    {
      name: 'Up-to-date',
      type: 'integer',
      description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
      cell: (o) => asObj(o.status).updatedReplicas ?? 0,
    },
    {
      name: 'Available',
      type: 'integer',
      description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
      cell: (o) => asObj(o.status).availableReplicas ?? 0,
    },
    ageColumn,
    ...workloadWideColumns,
  ],
  initialStatus: () => ({}),
  defaults(object) {
    const spec = object.spec;
    if (!isObj(spec)) return;
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    const strategy = (spec.strategy = asObj(spec.strategy));
    strategy.type ??= 'RollingUpdate';
    if (strategy.type === 'RollingUpdate') {
      const ru = (strategy.rollingUpdate = asObj(strategy.rollingUpdate));
      ru.maxUnavailable ??= '25%';
      ru.maxSurge ??= '25%';
    }
    defaultPodSpec(asObj(spec.template).spec);
  },
  validate(object, causes) {
    const spec = validateWorkloadSpec(object, causes);
    if (!spec) return;
    const strategy = asObj(spec.strategy);
    if (strategy.type !== undefined && !['RollingUpdate', 'Recreate'].includes(strategy.type as string))
      causes.push(notSupported('spec.strategy.type', strategy.type, ['Recreate', 'RollingUpdate']));
    const ru = asObj(strategy.rollingUpdate);
    if (ru.maxSurge !== undefined && ru.maxUnavailable !== undefined && isZero(ru.maxSurge) && isZero(ru.maxUnavailable)) {
      causes.push(invalidValue('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
    }
  },
  validateUpdate: selectorImmutable,
};

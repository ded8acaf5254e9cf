/** v1 ReplicationController: run by the ReplicaSet controller, its selector a plain map defaulted from the template's labels. */
import { mapSelector } from '../columns.js';
import { ReplicationController } from '../schemas/index.js';
import { asObj, invalidValue, isObj, notSupported, required, sameJson } from '../validation.js';
import { resource, type Kind } from './kind.js';
import { replicaColumns } from './replicaset.js';
import { defaultPodSpec, podTemplateSecurity, validatePodSpec, workloadWideColumns } from './pod-spec.js';

export const replicationController: Kind = {
  info: resource('', 'v1', 'replicationcontrollers', 'ReplicationController', { shortNames: ['rc'], categories: ['all'], subresources: ['status', 'scale'] }),
  schema: ReplicationController,
  admit: podTemplateSecurity,
  columns: [
    ...replicaColumns,
    ...workloadWideColumns.slice(0, 2),
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => mapSelector(asObj(o.spec).selector) },
  ],
  initialStatus: () => ({ replicas: 0 }),
  defaults(object) {
    if (!isObj(object.spec)) return;
    const spec = object.spec;
    spec.replicas ??= 1;
    const template = asObj(spec.template);
    const labels = asObj(asObj(template.metadata).labels);
    // As Kubernetes: an empty selector is the template's labels, and empty labels the selector.
    if (Object.keys(asObj(spec.selector)).length === 0 && Object.keys(labels).length) spec.selector = { ...labels };
    if (isObj(spec.template) && Object.keys(labels).length === 0 && isObj(spec.selector))
      template.metadata = { ...asObj(template.metadata), labels: { ...spec.selector } };
    defaultPodSpec(template.spec);
  },
  validate(object, causes) {
    const spec = asObj(object.spec);
    const selector = asObj(spec.selector);
    if (Object.keys(selector).length === 0) causes.push(required('spec.selector'));
    const template = asObj(spec.template);
    if (!isObj(spec.template)) {
      causes.push(required('spec.template'));
      return;
    }
    const labels = asObj(asObj(template.metadata).labels);
    if (Object.entries(selector).some(([k, v]) => labels[k] !== v))
      causes.push(invalidValue('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
    const restartPolicy = asObj(template.spec).restartPolicy;
    if (restartPolicy !== 'Always') causes.push(notSupported('spec.template.spec.restartPolicy', restartPolicy, ['Always']));
    validatePodSpec(template.spec, 'spec.template.spec', causes);
  },
  validateUpdate(object, old, causes) {
    const now = asObj(object.spec).selector;
    if (!sameJson(now, asObj(old.spec).selector)) causes.push(invalidValue('spec.selector', now, 'field is immutable'));
  },
};

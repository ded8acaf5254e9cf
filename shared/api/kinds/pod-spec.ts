/**
 * What Pods and the workloads that template them share: the pod spec's defaults and
 * validation, a workload's selector check, and the `-o wide` columns of a workload.
 */
import type { KubeObject } from '../../store/object.js';
import type { Column } from '../columns.js';
import { podSecurity } from '../pod-security.js';
import type { StatusCause } from '../status.js';
import { labelSelectorText } from '../../store/selectors.js';
import { defaultVolumes, validateVolumes } from '../volumes.js';
import { asArray, asObj, checkPort, checkUniqueLabel, invalidValue, isObj, notSupported, required, sameJson, type Obj } from '../validation.js';

function defaultContainer(c: Obj): void {
  const image = typeof c.image === 'string' ? c.image : '';
  const tag = image.includes('@') ? 'digest' : image.split('/').pop()!.split(':')[1];
  c.imagePullPolicy ??= !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  for (const p of asArray(c.ports).map(asObj)) p.protocol ??= 'TCP';
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    if (!isObj(c[probe])) continue;
    const pr = c[probe] as Obj;
    pr.timeoutSeconds ??= 1;
    pr.periodSeconds ??= 10;
    pr.successThreshold ??= 1;
    pr.failureThreshold ??= 3;
    if (isObj(pr.httpGet)) (pr.httpGet as Obj).scheme ??= 'HTTP';
    if (isObj(pr.httpGet)) (pr.httpGet as Obj).path ??= '/';
  }
}

/** Kubernetes' pod spec defaults, in place (a pod's, or a workload's template's). */
export function defaultPodSpec(spec: unknown): void {
  if (!isObj(spec)) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  for (const c of [...asArray(spec.containers), ...asArray(spec.initContainers)]) if (isObj(c)) defaultContainer(c);
  defaultVolumes(spec);
}

export function validatePodSpec(spec: unknown, path: string, causes: StatusCause[]): void {
  if (!isObj(spec)) {
    causes.push(required(path));
    return;
  }
  const containers = asArray(spec.containers);
  if (containers.length === 0) causes.push(required(`${path}.containers`));
  const names = new Set<string>();
  const all = [
    ...containers.map((c, i) => [`${path}.containers[${i}]`, c] as const),
    ...asArray(spec.initContainers).map((c, i) => [`${path}.initContainers[${i}]`, c] as const),
  ];
  for (const [p, raw] of all) {
    const c = asObj(raw);
    checkUniqueLabel(c.name, `${p}.name`, names, causes);
    if (typeof c.image !== 'string' || !c.image.trim()) causes.push(required(`${p}.image`));
    asArray(c.ports).forEach((port, j) => {
      checkPort(asObj(port).containerPort, `${p}.ports[${j}].containerPort`, causes);
    });
  }
  validateVolumes(spec, path, all, causes);
  const policy = spec.restartPolicy;
  if (policy !== undefined && !['Always', 'OnFailure', 'Never'].includes(policy as string))
    causes.push(notSupported(`${path}.restartPolicy`, policy, ['Always', 'OnFailure', 'Never']));
}

/**
 * A workload's spec (Deployment, ReplicaSet): replicas, a selector its template's labels match,
 * and a valid pod template.
 */
export function validateWorkloadSpec(object: KubeObject, causes: StatusCause[]): Obj | undefined {
  const spec = object.spec;
  if (!isObj(spec)) {
    causes.push(required('spec'));
    return undefined;
  }
  const replicas = spec.replicas;
  if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)) {
    causes.push(invalidValue('spec.replicas', replicas, 'must be greater than or equal to 0'));
  }
  const selector = asObj(spec.selector);
  const matchLabels = asObj(selector.matchLabels);
  if (!isObj(spec.selector) || (Object.keys(matchLabels).length === 0 && asArray(selector.matchExpressions).length === 0))
    causes.push(required('spec.selector'));
  else {
    const labels = asObj(asObj(asObj(spec.template).metadata).labels);
    if (Object.entries(matchLabels).some(([k, v]) => labels[k] !== v))
      causes.push(invalidValue('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  }
  validatePodSpec(asObj(spec.template).spec, 'spec.template.spec', causes);
  return spec;
}

/** A workload's selector may not change. */
export function selectorImmutable(object: KubeObject, old: KubeObject, causes: StatusCause[]): void {
  const now = asObj(object.spec).selector;
  if (!sameJson(now, asObj(old.spec).selector)) causes.push(invalidValue('spec.selector', now, 'field is immutable'));
}

function selectorText(selector: unknown): string {
  return labelSelectorText(asObj(selector) as Parameters<typeof labelSelectorText>[0]) || '<none>';
}

const templateContainers = (o: KubeObject) => asArray(asObj(asObj(asObj(o.spec).template).spec).containers).map(asObj);

/** What `-o wide` adds for Deployments and ReplicaSets. */
export const workloadWideColumns: Column[] = [
  {
    name: 'Containers',
    type: 'string',
    priority: 1,
    cell: (o) =>
      templateContainers(o)
        .map((c) => c.name)
        .join(','),
  },
  {
    name: 'Images',
    type: 'string',
    priority: 1,
    cell: (o) =>
      templateContainers(o)
        .map((c) => c.image)
        .join(','),
  },
  { name: 'Selector', type: 'string', priority: 1, cell: (o) => selectorText(asObj(o.spec).selector) },
];

/** Pod Security's warn and audit modes for a workload's pod template: enforce applies to the pods it makes, these already here. */
export function podTemplateSecurity(object: KubeObject, { namespace, audit }: { namespace: KubeObject | undefined; audit?: Record<string, string> }): string[] {
  const template = asObj(asObj(object.spec).template);
  if (!isObj(template.spec)) return [];
  return podSecurity(namespace, { metadata: {}, spec: template.spec }, undefined, audit);
}

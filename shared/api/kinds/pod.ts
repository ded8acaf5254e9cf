/** core/v1 Pod. */
import { admitPriority } from '../priority.js';
import { mountServiceAccountToken } from '../service-account-admission.js';
import type { KubeObject } from '../../store/object.js';
import { ageColumn, humanDuration, nameColumn, type Column } from '../columns.js';
import { Pod } from '../schemas/index.js';
import { asArray, asObj, forbiddenField, sameJson } from '../validation.js';
import type { Kind } from './kind.js';
import { resource } from './kind.js';
import { podSecurity } from '../pod-security.js';
import { forbidden } from '../status.js';
import { defaultPodSpec, validatePodSpec } from './pod-spec.js';

function qosClass(pod: KubeObject): string {
  const containers = asArray(asObj(pod.spec).containers).map(asObj);
  let anyRequest = false;
  let allGuaranteed = containers.length > 0;
  for (const c of containers) {
    const res = asObj(c.resources);
    const limits = asObj(res.limits);
    const requests = asObj(res.requests);
    if (Object.keys(limits).length || Object.keys(requests).length) anyRequest = true;
    for (const r of ['cpu', 'memory']) {
      const limit = limits[r];
      const request = requests[r] ?? limit;
      if (limit === undefined || request !== limit) allGuaranteed = false;
    }
  }
  if (allGuaranteed) return 'Guaranteed';
  return anyRequest ? 'Burstable' : 'BestEffort';
}

/** The fields of a pod an update may change (kube-apiserver's pod update validation). */
const MUTABLE_CONTAINER_FIELDS = ['image'];

function immutablePart(spec: unknown, oldSpec: unknown): unknown {
  const copy = structuredClone(asObj(spec));
  for (const list of ['containers', 'initContainers']) {
    copy[list] = asArray(copy[list]).map((c) => {
      const cc = { ...asObj(c) };
      for (const f of MUTABLE_CONTAINER_FIELDS) delete cc[f];
      return cc;
    });
  }
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  delete copy.terminationGracePeriodSeconds;
  // The scheduler's binding writes nodeName once.
  if (!asObj(oldSpec).nodeName) delete copy.nodeName;
  return copy;
}

/** READY, STATUS and RESTARTS as kubectl's pod printer works them out. */
function podStatus(pod: KubeObject): { ready: string; status: string; restarts: string } {
  const spec = asObj(pod.spec);
  const status = asObj(pod.status);
  const containers = asArray(spec.containers);
  const statuses = asArray(status.containerStatuses).map(asObj);
  let reason = (status.reason as string) || (status.phase as string) || 'Pending';
  let restarts = 0;
  let lastRestart: string | undefined;
  let ready = 0;
  const init = asArray(status.initContainerStatuses).map(asObj);
  let initializing = false;
  init.forEach((c, i) => {
    const state = asObj(c.state);
    const terminated = asObj(state.terminated);
    restarts += Number(c.restartCount ?? 0);
    if (state.terminated && terminated.exitCode === 0) return;
    if (initializing) return;
    initializing = true;
    if (state.terminated) reason = `Init:${(terminated.reason as string) || `ExitCode:${terminated.exitCode}`}`;
    else if (asObj(state.waiting).reason && asObj(state.waiting).reason !== 'PodInitializing') reason = `Init:${asObj(state.waiting).reason}`;
    else reason = `Init:${i}/${asArray(spec.initContainers).length}`;
  });
  if (!initializing) {
    let hasRunning = false;
    for (const c of [...statuses].reverse()) {
      restarts += Number(c.restartCount ?? 0);
      const state = asObj(c.state);
      const last = asObj(asObj(c.lastState).terminated);
      if (typeof last.finishedAt === 'string' && (!lastRestart || last.finishedAt > lastRestart)) lastRestart = last.finishedAt;
      if (asObj(state.waiting).reason) reason = asObj(state.waiting).reason as string;
      else if (state.terminated) {
        const t = asObj(state.terminated);
        reason = (t.reason as string) || (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`);
      } else if (state.running && c.ready) {
        hasRunning = true;
        ready++;
      } else if (state.running) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (pod.metadata.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  let restartText = String(restarts);
  if (restarts > 0 && lastRestart) restartText += ` (${humanDuration(Date.now() - Date.parse(lastRestart))} ago)`;
  return { ready: `${ready}/${containers.length}`, status: reason, restarts: restartText };
}

const columns: Column[] = [
  nameColumn,
  { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.', cell: (o) => podStatus(o).ready },
  { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.', cell: (o) => podStatus(o).status },
  { name: 'Restarts', type: 'string', description: 'The number of times the containers in this pod have been restarted.', cell: (o) => podStatus(o).restarts },
  ageColumn,
  { name: 'IP', type: 'string', priority: 1, description: 'IP address allocated to the pod.', cell: (o) => asObj(o.status).podIP ?? '<none>' },
  { name: 'Node', type: 'string', priority: 1, description: 'Name of the Node this pod is assigned to.', cell: (o) => asObj(o.spec).nodeName ?? '<none>' },
  { name: 'Nominated Node', type: 'string', priority: 1, cell: (o) => asObj(o.status).nominatedNodeName ?? '<none>' },
  {
    name: 'Readiness Gates',
    type: 'string',
    priority: 1,
    cell: (o) => (asArray(asObj(o.spec).readinessGates).length ? `${asArray(asObj(o.spec).readinessGates).length}` : '<none>'),
  },
];

export const pod: Kind = {
  info: resource('', 'v1', 'pods', 'Pod', {
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status', 'log', 'binding', 'eviction', 'exec', 'attach', 'portforward'],
    fieldSelectors: [
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
  }),
  schema: Pod,
  columns,
  initialStatus: (object) => ({ phase: 'Pending', qosClass: qosClass(object) }),
  defaults: (object) => defaultPodSpec(object.spec),
  validate: (object, causes) => validatePodSpec(object.spec, 'spec', causes),
  async admit(object, { namespace, store, audit }) {
    const name = object.metadata.name || object.metadata.generateName || '';
    // A mirror pod (the kubelet's own) gets no token: it may not reach the API as an account.
    if (!object.metadata.annotations?.['kubernetes.io/config.mirror']) await mountServiceAccountToken(object, store);
    await admitPriority(object, store);
    return podSecurity(
      namespace,
      object,
      (why) => {
        throw forbidden(`pods "${name}" is forbidden: ${why}`, { name, kind: 'pods' });
      },
      audit,
    );
  },
  validateUpdate(object, old, causes) {
    if (!sameJson(immutablePart(object.spec, old.spec), immutablePart(old.spec, old.spec))) {
      causes.push(
        forbiddenField(
          'spec',
          'pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
        ),
      );
    }
  },
  deletion: {
    // Bound and not finished: the kubelet stops it within its grace period, then confirms.
    graceSeconds(object, requested) {
      const spec = asObj(object.spec);
      const phase = asObj(object.status).phase;
      if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
      if (requested !== undefined) return requested;
      const fromSpec = spec.terminationGracePeriodSeconds;
      return typeof fromSpec === 'number' && fromSpec >= 0 ? fromSpec : 30;
    },
  },
};

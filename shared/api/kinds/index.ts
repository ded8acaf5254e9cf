/**
 * The kinds the API serves, in discovery order. Serving a kind that needs no controller is a
 * file beside this one and a line here.
 */
import { configMap } from './configmap.js';
import { customResourceDefinition } from './crd.js';
import { horizontalPodAutoscaler, horizontalPodAutoscalerV1 } from './hpa.js';
import { nodeHistory, nodeMetrics, podMetrics } from './metrics.js';
import { controllerRevision } from './controllerrevision.js';
import { cronJob } from './cronjob.js';
import { daemonSet } from './daemonset.js';
import { deployment } from './deployment.js';
import { endpoints } from './endpoints.js';
import { endpointSlice } from './endpointslice.js';
import { ingress, ingressClass } from './ingress.js';
import { event } from './event.js';
import type { Kind } from './kind.js';
import { job } from './job.js';
import { lease } from './lease.js';
import { migration } from './migration.js';
import { namespace } from './namespace.js';
import { node } from './node.js';
import { pod } from './pod.js';
import { podDisruptionBudget } from './poddisruptionbudget.js';
import { priorityClass } from './priorityclass.js';
import { clusterRole, clusterRoleBinding, role, roleBinding } from './rbac.js';
import { replicaSet } from './replicaset.js';
import { replicationController } from './replicationcontroller.js';
import { localSubjectAccessReview, selfSubjectAccessReview, selfSubjectReview, selfSubjectRulesReview, subjectAccessReview } from './reviews.js';
import { secret } from './secret.js';
import { service } from './service.js';
import { serviceAccount } from './serviceaccount.js';
import { limitRange, resourceQuota } from './quota.js';
import { statefulSet } from './statefulset.js';
import { persistentVolume, persistentVolumeClaim, storageClass } from './storage.js';

export const KINDS: Kind[] = [
  namespace,
  pod,
  node,
  service,
  endpoints,
  event,
  configMap,
  secret,
  resourceQuota,
  limitRange,
  persistentVolume,
  persistentVolumeClaim,
  storageClass,
  serviceAccount,
  deployment,
  replicaSet,
  replicationController,
  daemonSet,
  statefulSet,
  controllerRevision,
  job,
  cronJob,
  horizontalPodAutoscaler,
  horizontalPodAutoscalerV1,
  lease,
  priorityClass,
  podDisruptionBudget,
  endpointSlice,
  ingress,
  ingressClass,
  customResourceDefinition,
  migration,
  role,
  clusterRole,
  roleBinding,
  clusterRoleBinding,
  selfSubjectAccessReview,
  selfSubjectRulesReview,
  subjectAccessReview,
  localSubjectAccessReview,
  selfSubjectReview,
  nodeMetrics,
  podMetrics,
  nodeHistory,
];

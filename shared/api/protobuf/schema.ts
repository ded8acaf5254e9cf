/**
 * The Kubernetes protobuf messages kubectl's imperative commands send, as field tables
 * (after k8s.io/api's generated.proto): field number -> JSON name and type. Fields not listed
 * are skipped. `keep` marks pointer fields whose zero value is meaningful (replicas: 0).
 */
export type FieldType =
  | { kind: 'string' }
  | { kind: 'bytes' }
  | { kind: 'int' }
  | { kind: 'bool' }
  | { kind: 'message'; message: string }
  | { kind: 'map'; value: 'string' | 'bytes' | 'quantity' }
  | { kind: 'intOrString' }
  | { kind: 'time' };

export interface FieldDef {
  name: string;
  type: FieldType;
  repeated?: boolean;
  keep?: boolean;
}

const s = (name: string, repeated = false): FieldDef => ({ name, type: { kind: 'string' }, repeated });
const i = (name: string, keep = false): FieldDef => ({ name, type: { kind: 'int' }, keep });
const b = (name: string, keep = false): FieldDef => ({ name, type: { kind: 'bool' }, keep });
const m = (name: string, message: string, repeated = false): FieldDef => ({ name, type: { kind: 'message', message }, repeated });
const map = (name: string, value: 'string' | 'bytes' | 'quantity' = 'string'): FieldDef => ({ name, type: { kind: 'map', value } });
const ios = (name: string): FieldDef => ({ name, type: { kind: 'intOrString' } });
const t = (name: string): FieldDef => ({ name, type: { kind: 'time' } });

export const MESSAGES: Record<string, Record<number, FieldDef>> = {
  ObjectMeta: {
    1: s('name'),
    2: s('generateName'),
    3: s('namespace'),
    5: s('uid'),
    6: s('resourceVersion'),
    7: i('generation'),
    8: t('creationTimestamp'),
    9: t('deletionTimestamp'),
    10: i('deletionGracePeriodSeconds', true),
    11: map('labels'),
    12: map('annotations'),
    13: m('ownerReferences', 'OwnerReference', true),
    14: s('finalizers', true),
  },
  OwnerReference: { 1: s('kind'), 3: s('name'), 4: s('uid'), 5: s('apiVersion'), 6: b('controller', true), 7: b('blockOwnerDeletion', true) },
  LabelSelector: { 1: map('matchLabels'), 2: m('matchExpressions', 'LabelSelectorRequirement', true) },
  LabelSelectorRequirement: { 1: s('key'), 2: s('operator'), 3: s('values', true) },

  Namespace: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'NamespaceSpec'), 3: m('status', 'NamespaceStatus') },
  NamespaceSpec: { 1: s('finalizers', true) },
  NamespaceStatus: { 1: s('phase') },

  ConfigMap: { 1: m('metadata', 'ObjectMeta'), 2: map('data'), 3: map('binaryData', 'bytes'), 4: b('immutable', true) },
  Secret: { 1: m('metadata', 'ObjectMeta'), 2: map('data', 'bytes'), 3: s('type'), 4: map('stringData'), 5: b('immutable', true) },

  Service: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'ServiceSpec'), 3: m('status', 'ServiceStatus') },
  ServiceSpec: {
    1: m('ports', 'ServicePort', true),
    2: map('selector'),
    3: s('clusterIP'),
    4: s('type'),
    5: s('externalIPs', true),
    7: s('sessionAffinity'),
    8: s('loadBalancerIP'),
    9: s('loadBalancerSourceRanges', true),
    10: s('externalName'),
    11: s('externalTrafficPolicy'),
    12: i('healthCheckNodePort'),
    13: b('publishNotReadyAddresses'),
    18: s('clusterIPs', true),
    19: s('ipFamilies', true),
    17: s('ipFamilyPolicy'),
    20: b('allocateLoadBalancerNodePorts', true),
    21: s('loadBalancerClass'),
    22: s('internalTrafficPolicy'),
  },
  ServicePort: { 1: s('name'), 2: s('protocol'), 3: i('port'), 4: ios('targetPort'), 5: i('nodePort'), 6: s('appProtocol') },
  ServiceStatus: { 1: m('loadBalancer', 'LoadBalancerStatus') },
  LoadBalancerStatus: {},

  Deployment: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'DeploymentSpec'), 3: m('status', 'Empty') },
  DeploymentSpec: {
    1: i('replicas', true),
    2: m('selector', 'LabelSelector'),
    3: m('template', 'PodTemplateSpec'),
    4: m('strategy', 'DeploymentStrategy'),
    5: i('minReadySeconds'),
    6: i('revisionHistoryLimit', true),
    7: b('paused'),
    9: i('progressDeadlineSeconds', true),
  },
  DeploymentStrategy: { 1: s('type'), 2: m('rollingUpdate', 'RollingUpdateDeployment') },
  RollingUpdateDeployment: { 1: ios('maxUnavailable'), 2: ios('maxSurge') },
  Empty: {},

  Pod: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'PodSpec'), 3: m('status', 'Empty') },
  PodTemplateSpec: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'PodSpec') },
  PodSpec: {
    1: m('volumes', 'Volume', true),
    2: m('containers', 'Container', true),
    3: s('restartPolicy'),
    4: i('terminationGracePeriodSeconds', true),
    5: i('activeDeadlineSeconds', true),
    6: s('dnsPolicy'),
    7: map('nodeSelector'),
    8: s('serviceAccountName'),
    9: s('serviceAccount'),
    10: s('nodeName'),
    11: b('hostNetwork'),
    12: b('hostPID'),
    13: b('hostIPC'),
    16: s('hostname'),
    17: s('subdomain'),
    19: s('schedulerName'),
    20: m('initContainers', 'Container', true),
    21: b('automountServiceAccountToken', true),
    22: m('tolerations', 'Toleration', true),
    24: s('priorityClassName'),
    25: i('priority', true),
  },
  Container: {
    1: s('name'),
    2: s('image'),
    3: s('command', true),
    4: s('args', true),
    5: s('workingDir'),
    6: m('ports', 'ContainerPort', true),
    7: m('env', 'EnvVar', true),
    8: m('resources', 'ResourceRequirements'),
    9: m('volumeMounts', 'VolumeMount', true),
    13: s('terminationMessagePath'),
    14: s('imagePullPolicy'),
    16: b('stdin'),
    17: b('stdinOnce'),
    18: b('tty'),
    20: s('terminationMessagePolicy'),
  },
  ContainerPort: { 1: s('name'), 2: i('hostPort'), 3: i('containerPort'), 4: s('protocol'), 5: s('hostIP') },
  EnvVar: { 1: s('name'), 2: s('value') },
  ResourceRequirements: { 1: map('limits', 'quantity'), 2: map('requests', 'quantity') },
  VolumeMount: { 1: s('name'), 2: b('readOnly'), 3: s('mountPath'), 4: s('subPath') },
  Volume: { 1: s('name') },
  Toleration: { 1: s('key'), 2: s('operator'), 3: s('value'), 4: s('effect'), 5: i('tolerationSeconds', true) },

  ServiceAccount: {
    1: m('metadata', 'ObjectMeta'),
    2: m('secrets', 'ObjectReference', true),
    3: m('imagePullSecrets', 'LocalObjectReference', true),
    4: b('automountServiceAccountToken', true),
  },
  ObjectReference: { 1: s('kind'), 2: s('namespace'), 3: s('name'), 4: s('uid'), 5: s('apiVersion'), 6: s('resourceVersion'), 7: s('fieldPath') },
  LocalObjectReference: { 1: s('name') },

  // rbac.authorization.k8s.io/v1
  Role: { 1: m('metadata', 'ObjectMeta'), 2: m('rules', 'PolicyRule', true) },
  ClusterRole: { 1: m('metadata', 'ObjectMeta'), 2: m('rules', 'PolicyRule', true), 3: m('aggregationRule', 'AggregationRule') },
  AggregationRule: { 1: m('clusterRoleSelectors', 'LabelSelector', true) },
  PolicyRule: { 1: s('verbs', true), 2: s('apiGroups', true), 3: s('resources', true), 4: s('resourceNames', true), 5: s('nonResourceURLs', true) },
  RoleBinding: { 1: m('metadata', 'ObjectMeta'), 2: m('subjects', 'Subject', true), 3: m('roleRef', 'RoleRef') },
  Subject: { 1: s('kind'), 2: s('apiGroup'), 3: s('name'), 4: s('namespace') },
  RoleRef: { 1: s('apiGroup'), 2: s('kind'), 3: s('name') },

  // authorization.k8s.io/v1 and authentication.k8s.io/v1: what `kubectl auth` sends
  SelfSubjectAccessReview: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'SelfSubjectAccessReviewSpec') },
  SelfSubjectAccessReviewSpec: { 1: m('resourceAttributes', 'ResourceAttributes'), 2: m('nonResourceAttributes', 'NonResourceAttributes') },
  ResourceAttributes: { 1: s('namespace'), 2: s('verb'), 3: s('group'), 4: s('version'), 5: s('resource'), 6: s('subresource'), 7: s('name') },
  NonResourceAttributes: { 1: s('path'), 2: s('verb') },
  SelfSubjectRulesReview: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'SelfSubjectRulesReviewSpec') },
  SelfSubjectRulesReviewSpec: { 1: s('namespace') },
  SelfSubjectReview: { 1: m('metadata', 'ObjectMeta') },
  TokenRequest: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'TokenRequestSpec') },
  TokenRequestSpec: { 1: s('audiences', true), 3: m('boundObjectRef', 'BoundObjectReference'), 4: i('expirationSeconds', true) },
  BoundObjectReference: { 1: s('kind'), 2: s('apiVersion'), 3: s('name'), 4: s('uid') },

  // policy/v1: `kubectl create pdb`, and the eviction `kubectl drain` posts
  PodDisruptionBudget: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'PodDisruptionBudgetSpec') },
  PodDisruptionBudgetSpec: { 1: ios('minAvailable'), 2: m('selector', 'LabelSelector'), 3: ios('maxUnavailable'), 4: s('unhealthyPodEvictionPolicy') },
  Eviction: { 1: m('metadata', 'ObjectMeta'), 2: m('deleteOptions', 'DeleteOptions') },
  DeleteOptions: {
    1: i('gracePeriodSeconds', true),
    2: m('preconditions', 'Preconditions'),
    3: b('orphanDependents', true),
    4: s('propagationPolicy'),
    5: s('dryRun', true),
  },
  Preconditions: { 1: s('uid'), 2: s('resourceVersion') },

  // networking.k8s.io/v1: `kubectl create ingress`
  Job: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'JobSpec'), 3: m('status', 'Empty') },
  JobSpec: {
    1: i('parallelism', true),
    2: i('completions', true),
    3: i('activeDeadlineSeconds', true),
    4: m('selector', 'LabelSelector'),
    5: b('manualSelector', true),
    6: m('template', 'PodTemplateSpec'),
    7: i('backoffLimit', true),
    8: i('ttlSecondsAfterFinished', true),
    9: s('completionMode'),
    10: b('suspend', true),
    12: i('backoffLimitPerIndex', true),
    13: i('maxFailedIndexes', true),
    14: s('podReplacementPolicy'),
    15: s('managedBy'),
  },

  CronJob: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'CronJobSpec'), 3: m('status', 'Empty') },
  ResourceQuota: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'ResourceQuotaSpec'), 3: m('status', 'Empty') },
  HorizontalPodAutoscaler: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'HorizontalPodAutoscalerSpec'), 3: m('status', 'Empty') },
  HorizontalPodAutoscalerSpec: {
    1: m('scaleTargetRef', 'CrossVersionObjectReference'),
    2: i('minReplicas', true),
    3: i('maxReplicas', true),
    4: i('targetCPUUtilizationPercentage', true),
  },
  CrossVersionObjectReference: { 1: s('kind'), 2: s('name'), 3: s('apiVersion') },
  ResourceQuotaSpec: { 1: map('hard', 'quantity'), 2: s('scopes', true), 3: m('scopeSelector', 'ScopeSelector') },
  ScopeSelector: { 1: m('matchExpressions', 'ScopedResourceSelectorRequirement', true) },
  ScopedResourceSelectorRequirement: { 1: s('scopeName'), 2: s('operator'), 3: s('values', true) },
  CronJobSpec: {
    1: s('schedule'),
    2: i('startingDeadlineSeconds', true),
    3: s('concurrencyPolicy'),
    4: b('suspend', true),
    5: m('jobTemplate', 'JobTemplateSpec'),
    6: i('successfulJobsHistoryLimit', true),
    7: i('failedJobsHistoryLimit', true),
    8: s('timeZone'),
  },
  JobTemplateSpec: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'JobSpec') },

  Ingress: { 1: m('metadata', 'ObjectMeta'), 2: m('spec', 'IngressSpec') },
  IngressSpec: { 1: m('defaultBackend', 'IngressBackend'), 2: m('tls', 'IngressTLS', true), 3: m('rules', 'IngressRule', true), 4: s('ingressClassName') },
  IngressTLS: { 1: s('hosts', true), 2: s('secretName') },
  // The rule's value is an embedded struct: its `http` sits on the rule itself.
  IngressRule: { 1: s('host'), 2: m('', 'IngressRuleValue') },
  IngressRuleValue: { 1: m('http', 'HTTPIngressRuleValue') },
  HTTPIngressRuleValue: { 1: m('paths', 'HTTPIngressPath', true) },
  HTTPIngressPath: { 1: s('path'), 2: m('backend', 'IngressBackend'), 3: s('pathType') },
  IngressBackend: { 4: m('service', 'IngressServiceBackend') },
  IngressServiceBackend: { 1: s('name'), 2: m('port', 'ServiceBackendPort') },
  ServiceBackendPort: { 1: s('name'), 2: i('number') },
};

/** Kinds served in several versions whose message here is one version's: bodies of another are refused. */
export const KIND_VERSIONS: Record<string, string> = { HorizontalPodAutoscaler: 'autoscaling/v1' };

/** The message name of a top-level object, by kind. */
export const KINDS: Record<string, string> = {
  Namespace: 'Namespace',
  ConfigMap: 'ConfigMap',
  Secret: 'Secret',
  Service: 'Service',
  Deployment: 'Deployment',
  Pod: 'Pod',
  ServiceAccount: 'ServiceAccount',
  Role: 'Role',
  ClusterRole: 'ClusterRole',
  RoleBinding: 'RoleBinding',
  ClusterRoleBinding: 'RoleBinding',
  SelfSubjectAccessReview: 'SelfSubjectAccessReview',
  SelfSubjectRulesReview: 'SelfSubjectRulesReview',
  SelfSubjectReview: 'SelfSubjectReview',
  TokenRequest: 'TokenRequest',
  PodDisruptionBudget: 'PodDisruptionBudget',
  Eviction: 'Eviction',
  Ingress: 'Ingress',
  Job: 'Job',
  CronJob: 'CronJob',
  ResourceQuota: 'ResourceQuota',
  HorizontalPodAutoscaler: 'HorizontalPodAutoscaler',
};

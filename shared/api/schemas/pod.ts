/** core/v1 Pod and the pieces workloads embed (PodTemplateSpec, PodSpec, Container). */
import { z } from 'zod';
import { Condition, LabelSelector, ObjectMeta, int32, int64, intOrString, loose, objectOf, quantity, stringMap, timestamp } from './common.js';

export const ContainerPort = z.strictObject({
  name: z.string().optional(),
  hostPort: int32.optional(),
  containerPort: int32,
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  hostIP: z.string().optional(),
});

/** The settings the runtimes give (or refuse, clearly); the rest is kept as written. */
export const SecurityContext = z.looseObject({
  runAsUser: int64.optional(),
  runAsGroup: int64.optional(),
  runAsNonRoot: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  privileged: z.boolean().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  capabilities: z.strictObject({ add: z.array(z.string()).optional(), drop: z.array(z.string()).optional() }).optional(),
});
export type SecurityContext = z.infer<typeof SecurityContext>;

export const PodSecurityContext = z.looseObject({
  runAsUser: int64.optional(),
  runAsGroup: int64.optional(),
  runAsNonRoot: z.boolean().optional(),
  fsGroup: int64.optional(),
  supplementalGroups: z.array(int64).optional(),
});

export const EnvVar = z.strictObject({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z
    .strictObject({
      fieldRef: z.strictObject({ apiVersion: z.string().optional(), fieldPath: z.string() }).optional(),
      resourceFieldRef: z.strictObject({ containerName: z.string().optional(), resource: z.string(), divisor: quantity.optional() }).optional(),
      configMapKeyRef: z.strictObject({ name: z.string().optional(), key: z.string(), optional: z.boolean().optional() }).optional(),
      secretKeyRef: z.strictObject({ name: z.string().optional(), key: z.string(), optional: z.boolean().optional() }).optional(),
    })
    .optional(),
});

const LocalObjectReference = z.strictObject({ name: z.string().optional(), optional: z.boolean().optional() });
export const EnvFromSource = z.strictObject({
  prefix: z.string().optional(),
  configMapRef: LocalObjectReference.optional(),
  secretRef: LocalObjectReference.optional(),
});

export const ResourceRequirements = z.strictObject({
  limits: z.record(z.string(), quantity).optional(),
  requests: z.record(z.string(), quantity).optional(),
  claims: z.array(loose).optional(),
});

export const Probe = z.strictObject({
  exec: z.strictObject({ command: z.array(z.string()).optional() }).optional(),
  httpGet: z
    .strictObject({
      path: z.string().optional(),
      port: intOrString,
      host: z.string().optional(),
      scheme: z.enum(['HTTP', 'HTTPS']).optional(),
      httpHeaders: z.array(z.strictObject({ name: z.string(), value: z.string() })).optional(),
    })
    .optional(),
  tcpSocket: z.strictObject({ port: intOrString, host: z.string().optional() }).optional(),
  grpc: loose.optional(),
  initialDelaySeconds: int32.optional(),
  timeoutSeconds: int32.optional(),
  periodSeconds: int32.optional(),
  successThreshold: int32.optional(),
  failureThreshold: int32.optional(),
  terminationGracePeriodSeconds: int64.optional(),
});
export type Probe = z.infer<typeof Probe>;

export const VolumeMount = z.strictObject({
  name: z.string(),
  mountPath: z.string(),
  readOnly: z.boolean().optional(),
  subPath: z.string().optional(),
  subPathExpr: z.string().optional(),
  mountPropagation: z.string().optional(),
  recursiveReadOnly: z.string().optional(),
});

export const Container = z.strictObject({
  name: z.string(),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  ports: z.array(ContainerPort).optional(),
  env: z.array(EnvVar).optional(),
  envFrom: z.array(EnvFromSource).optional(),
  resources: ResourceRequirements.optional(),
  resizePolicy: z.array(loose).optional(),
  restartPolicy: z.string().optional(),
  volumeMounts: z.array(VolumeMount).optional(),
  volumeDevices: z.array(loose).optional(),
  livenessProbe: Probe.optional(),
  readinessProbe: Probe.optional(),
  startupProbe: Probe.optional(),
  lifecycle: loose.optional(),
  terminationMessagePath: z.string().optional(),
  terminationMessagePolicy: z.enum(['File', 'FallbackToLogsOnError']).optional(),
  imagePullPolicy: z.enum(['Always', 'Never', 'IfNotPresent']).optional(),
  securityContext: SecurityContext.optional(),
  stdin: z.boolean().optional(),
  stdinOnce: z.boolean().optional(),
  tty: z.boolean().optional(),
});
export type Container = z.infer<typeof Container>;

export const Toleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute', '']).optional(),
  tolerationSeconds: int64.nullable().optional(),
});
export type Toleration = z.infer<typeof Toleration>;

export const NodeSelectorRequirement = z.strictObject({
  key: z.string(),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
  values: z.array(z.string()).optional(),
});
export type NodeSelectorRequirement = z.infer<typeof NodeSelectorRequirement>;

export const NodeSelectorTerm = z.strictObject({
  matchExpressions: z.array(NodeSelectorRequirement).optional(),
  matchFields: z.array(NodeSelectorRequirement).optional(),
});
export type NodeSelectorTerm = z.infer<typeof NodeSelectorTerm>;

/** Node affinity is typed (the scheduler reads it); pod (anti-)affinity is kept as written. */
export const Affinity = z.strictObject({
  nodeAffinity: z
    .strictObject({
      requiredDuringSchedulingIgnoredDuringExecution: z.strictObject({ nodeSelectorTerms: z.array(NodeSelectorTerm) }).optional(),
      preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({ weight: int32, preference: NodeSelectorTerm })).optional(),
    })
    .optional(),
  podAffinity: loose.optional(),
  podAntiAffinity: loose.optional(),
});

export const TopologySpreadConstraint = z.strictObject({
  maxSkew: int32,
  topologyKey: z.string(),
  whenUnsatisfiable: z.enum(['DoNotSchedule', 'ScheduleAnyway']),
  labelSelector: LabelSelector.optional(),
  minDomains: int32.optional(),
  matchLabelKeys: z.array(z.string()).optional(),
  nodeAffinityPolicy: z.string().optional(),
  nodeTaintsPolicy: z.string().optional(),
});

/** The volume sources of storage drivers Skiff does not run: kept as written, refused by the kubelet. */
export const DRIVER_VOLUME_SOURCES = [
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
  'csi',
];
/** Schema fields for `keys`, each an object kept as written. */
export const keptAsWritten = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, loose.optional()]));

const KeyToPath = z.strictObject({ key: z.string(), path: z.string(), mode: int32.optional() });
const ObjectFieldSelector = z.strictObject({ apiVersion: z.string().optional(), fieldPath: z.string() });
const ResourceFieldSelector = z.strictObject({ containerName: z.string().optional(), resource: z.string(), divisor: quantity.optional() });
const DownwardAPIVolumeFile = z.strictObject({
  path: z.string(),
  fieldRef: ObjectFieldSelector.optional(),
  resourceFieldRef: ResourceFieldSelector.optional(),
  mode: int32.optional(),
});
const KeysOf = { items: z.array(KeyToPath).optional(), optional: z.boolean().optional() };

/**
 * A pod volume: the sources the kubelet sets up are typed; the others Kubernetes defines are
 * kept as written (the kubelet refuses them, with the reason), and an unknown one is refused.
 */
export const Volume = z.strictObject({
  name: z.string(),
  hostPath: z.strictObject({ path: z.string(), type: z.string().optional() }).optional(),
  emptyDir: z.strictObject({ medium: z.string().optional(), sizeLimit: quantity.optional() }).optional(),
  configMap: z.strictObject({ name: z.string().optional(), defaultMode: int32.optional(), ...KeysOf }).optional(),
  secret: z.strictObject({ secretName: z.string().optional(), defaultMode: int32.optional(), ...KeysOf }).optional(),
  downwardAPI: z.strictObject({ items: z.array(DownwardAPIVolumeFile).optional(), defaultMode: int32.optional() }).optional(),
  projected: z
    .strictObject({
      sources: z
        .array(
          z.strictObject({
            configMap: z.strictObject({ name: z.string().optional(), ...KeysOf }).optional(),
            secret: z.strictObject({ name: z.string().optional(), ...KeysOf }).optional(),
            downwardAPI: z.strictObject({ items: z.array(DownwardAPIVolumeFile).optional() }).optional(),
            serviceAccountToken: z.strictObject({ audience: z.string().optional(), expirationSeconds: int64.optional(), path: z.string() }).optional(),
            clusterTrustBundle: loose.optional(),
          }),
        )
        .optional(),
      defaultMode: int32.optional(),
    })
    .optional(),
  persistentVolumeClaim: z.strictObject({ claimName: z.string(), readOnly: z.boolean().optional() }).optional(),
  ...keptAsWritten([...DRIVER_VOLUME_SOURCES, 'gitRepo', 'ephemeral', 'image']),
});
export type Volume = z.infer<typeof Volume>;

export const PodSpec = z.strictObject({
  volumes: z.array(Volume).optional(),
  initContainers: z.array(Container).optional(),
  containers: z.array(Container),
  ephemeralContainers: z.array(loose).optional(),
  restartPolicy: z.string().optional(),
  terminationGracePeriodSeconds: int64.optional(),
  activeDeadlineSeconds: int64.optional(),
  dnsPolicy: z.string().optional(),
  dnsConfig: loose.optional(),
  nodeSelector: stringMap.optional(),
  serviceAccountName: z.string().optional(),
  serviceAccount: z.string().optional(),
  automountServiceAccountToken: z.boolean().optional(),
  nodeName: z.string().optional(),
  hostNetwork: z.boolean().optional(),
  hostPID: z.boolean().optional(),
  hostIPC: z.boolean().optional(),
  hostUsers: z.boolean().optional(),
  shareProcessNamespace: z.boolean().optional(),
  securityContext: PodSecurityContext.optional(),
  imagePullSecrets: z.array(z.strictObject({ name: z.string().optional() })).optional(),
  hostname: z.string().optional(),
  subdomain: z.string().optional(),
  setHostnameAsFQDN: z.boolean().optional(),
  affinity: Affinity.optional(),
  schedulerName: z.string().optional(),
  tolerations: z.array(Toleration).optional(),
  hostAliases: z.array(loose).optional(),
  priorityClassName: z.string().optional(),
  priority: int32.optional(),
  preemptionPolicy: z.string().optional(),
  readinessGates: z.array(loose).optional(),
  runtimeClassName: z.string().optional(),
  enableServiceLinks: z.boolean().optional(),
  overhead: z.record(z.string(), quantity).optional(),
  topologySpreadConstraints: z.array(TopologySpreadConstraint).optional(),
  os: loose.optional(),
  schedulingGates: z.array(loose).optional(),
  resourceClaims: z.array(loose).optional(),
  resources: ResourceRequirements.optional(),
});
export type PodSpec = z.infer<typeof PodSpec>;

export const PodTemplateSpec = z.strictObject({ metadata: ObjectMeta.optional(), spec: PodSpec });

export const ContainerState = z.looseObject({
  waiting: z.looseObject({ reason: z.string().optional(), message: z.string().optional() }).optional(),
  running: z.looseObject({ startedAt: timestamp.optional() }).optional(),
  terminated: z
    .looseObject({
      exitCode: int32,
      signal: int32.optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      startedAt: timestamp.optional(),
      finishedAt: timestamp.optional(),
    })
    .optional(),
});

export const ContainerStatus = z.looseObject({
  name: z.string(),
  state: ContainerState.optional(),
  lastState: ContainerState.optional(),
  ready: z.boolean(),
  restartCount: int32,
  image: z.string(),
  imageID: z.string().optional(),
  containerID: z.string().optional(),
  started: z.boolean().optional(),
});
export type ContainerStatus = z.infer<typeof ContainerStatus>;

export const PodStatus = z.looseObject({
  phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']).optional(),
  conditions: z.array(Condition).optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  hostIP: z.string().optional(),
  hostIPs: z.array(loose).optional(),
  podIP: z.string().optional(),
  podIPs: z.array(loose).optional(),
  startTime: timestamp.optional(),
  initContainerStatuses: z.array(ContainerStatus).optional(),
  containerStatuses: z.array(ContainerStatus).optional(),
  qosClass: z.string().optional(),
  nominatedNodeName: z.string().optional(),
});

export const Pod = objectOf('v1', 'Pod', { spec: PodSpec, status: PodStatus.optional() });
export type Pod = z.infer<typeof Pod>;

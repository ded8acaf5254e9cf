/**
 * The `x-kubernetes-*` extensions Kubernetes' OpenAPI carries on fields (from the
 * `+listType`, `+listMapKey`, `+patchStrategy`, `+patchMergeKey`, `+mapType`, `+structType`
 * tags on its Go types). The generated declarations Skiff reads its definitions from
 * (`./models.ts`) do not carry them, so they are listed here, for the definitions the served
 * kinds reach.
 *
 * kubectl builds client-side apply and diff patches from `x-kubernetes-patch-strategy` and
 * `x-kubernetes-patch-merge-key`: a list marked `merge` is sent as a partial list plus
 * `$setElementOrder`, which only works if the server merges that list too. So a patch strategy
 * is declared exactly where Skiff's strategic merge patch merges (`../patch/merge-keys.ts`; the
 * e2e test checks the two agree). Lists Kubernetes merges but Skiff replaces whole
 * (topologySpreadConstraints, schedulingGates, resourceClaims, podIPs, hostIPs, podCIDRs) keep
 * their list type but no patch strategy, so kubectl sends them whole.
 */

export type Extensions = Record<string, unknown>;

const atomic: Extensions = { 'x-kubernetes-list-type': 'atomic' };
const set: Extensions = { 'x-kubernetes-list-type': 'set' };
const mapBy = (...keys: string[]): Extensions => ({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys });
/** Merged by `key` in strategic merge patch, and a map keyed by `keys` for server-side apply. */
const mergeBy = (key: string, keys: string[] = [key], strategy = 'merge'): Extensions => ({
  ...mapBy(...keys),
  'x-kubernetes-patch-merge-key': key,
  'x-kubernetes-patch-strategy': strategy,
});
const conditions = mergeBy('type');

const CORE = 'io.k8s.api.core.v1';
const APPS = 'io.k8s.api.apps.v1';
const POLICY = 'io.k8s.api.policy.v1';
const BATCH = 'io.k8s.api.batch.v1';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

const containerLists: Record<string, Extensions> = {
  command: atomic,
  args: atomic,
  ports: mergeBy('containerPort', ['containerPort', 'protocol']),
  envFrom: atomic,
  env: mergeBy('name'),
  resizePolicy: atomic,
  volumeMounts: mergeBy('mountPath'),
  volumeDevices: mergeBy('devicePath'),
};

/** Definition name -> field name -> the extensions on that field. */
export const FIELD_EXTENSIONS: Record<string, Record<string, Extensions>> = {
  [`${META}.ObjectMeta`]: {
    finalizers: { ...set, 'x-kubernetes-patch-strategy': 'merge' },
    ownerReferences: mergeBy('uid'),
    managedFields: atomic,
  },
  [`${META}.LabelSelector`]: { matchExpressions: atomic },
  [`${META}.LabelSelectorRequirement`]: { values: atomic },

  [`${CORE}.PodSpec`]: {
    volumes: mergeBy('name', ['name'], 'merge,retainKeys'),
    initContainers: mergeBy('name'),
    containers: mergeBy('name'),
    ephemeralContainers: mergeBy('name'),
    imagePullSecrets: mergeBy('name'),
    hostAliases: mergeBy('ip'),
    tolerations: atomic,
    readinessGates: atomic,
    topologySpreadConstraints: mapBy('topologyKey', 'whenUnsatisfiable'),
    schedulingGates: mapBy('name'),
    resourceClaims: mapBy('name'),
    nodeSelector: { 'x-kubernetes-map-type': 'atomic' },
  },
  [`${CORE}.Container`]: containerLists,
  [`${CORE}.EphemeralContainer`]: containerLists,
  [`${CORE}.PodStatus`]: {
    conditions,
    podIPs: mapBy('ip'),
    hostIPs: atomic,
    initContainerStatuses: atomic,
    containerStatuses: atomic,
    ephemeralContainerStatuses: atomic,
    resourceClaimStatuses: mapBy('name'),
  },
  [`${CORE}.ResourceRequirements`]: { claims: mapBy('name') },
  [`${CORE}.PodSecurityContext`]: { supplementalGroups: atomic, sysctls: atomic },
  [`${CORE}.Capabilities`]: { add: atomic, drop: atomic },
  [`${CORE}.ExecAction`]: { command: atomic },
  [`${CORE}.HTTPGetAction`]: { httpHeaders: atomic },
  [`${CORE}.NodeSelector`]: { nodeSelectorTerms: atomic },
  [`${CORE}.NodeSelectorTerm`]: { matchExpressions: atomic, matchFields: atomic },
  [`${CORE}.NodeSelectorRequirement`]: { values: atomic },
  [`${CORE}.PodDNSConfig`]: { nameservers: atomic, searches: atomic, options: atomic },
  [`${CORE}.HostAlias`]: { hostnames: atomic },
  [`${CORE}.TopologySpreadConstraint`]: { matchLabelKeys: atomic },
  [`${CORE}.PodAffinityTerm`]: { namespaces: atomic, matchLabelKeys: atomic, mismatchLabelKeys: atomic },

  [`${CORE}.ServiceSpec`]: {
    ports: mergeBy('port', ['port', 'protocol']),
    clusterIPs: atomic,
    externalIPs: atomic,
    loadBalancerSourceRanges: atomic,
    ipFamilies: atomic,
    selector: { 'x-kubernetes-map-type': 'atomic' },
  },
  [`${CORE}.ServiceStatus`]: { conditions },
  [`${CORE}.LoadBalancerStatus`]: { ingress: atomic },
  [`${CORE}.LoadBalancerIngress`]: { ports: atomic },

  [`${CORE}.NodeSpec`]: { podCIDRs: set, taints: atomic },
  [`${CORE}.NodeStatus`]: {
    conditions,
    addresses: mergeBy('type'),
    images: atomic,
    volumesInUse: atomic,
    volumesAttached: atomic,
    runtimeHandlers: atomic,
  },
  [`${CORE}.ContainerImage`]: { names: atomic },

  [`${CORE}.NamespaceSpec`]: { finalizers: atomic },
  [`${CORE}.NamespaceStatus`]: { conditions },

  [`${CORE}.Endpoints`]: { subsets: atomic },
  [`${CORE}.EndpointSubset`]: { addresses: atomic, notReadyAddresses: atomic, ports: atomic },

  [`${APPS}.DeploymentStatus`]: { conditions },
  [`${APPS}.ReplicaSetStatus`]: { conditions },
  [`${APPS}.DaemonSetStatus`]: { conditions },
  [`${APPS}.StatefulSetStatus`]: { conditions },
  [`${CORE}.ReplicationControllerStatus`]: { conditions },
  [`${CORE}.PersistentVolumeClaimStatus`]: { conditions },
  [`${CORE}.PersistentVolumeSpec`]: { accessModes: atomic, mountOptions: atomic },
  [`${CORE}.PersistentVolumeClaimSpec`]: { accessModes: atomic },
  // Kubernetes' JobStatus.conditions is atomic for server-side apply, merged by type in a patch.
  [`${BATCH}.JobStatus`]: { conditions: { ...atomic, 'x-kubernetes-patch-merge-key': 'type', 'x-kubernetes-patch-strategy': 'merge' } },
  [`${BATCH}.PodFailurePolicy`]: { rules: atomic },
  [`${BATCH}.UncountedTerminatedPods`]: { succeeded: set, failed: set },
  [`${POLICY}.PodDisruptionBudgetStatus`]: { conditions },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus': { conditions },
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus': { conditions, currentMetrics: atomic },
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec': { metrics: atomic },
};

/** Definitions that server-side apply treats as one value (`+structType=atomic`). */
export const ATOMIC_STRUCTS = new Set([
  `${META}.LabelSelector`,
  `${META}.OwnerReference`,
  `${CORE}.NodeSelector`,
  `${CORE}.NodeSelectorTerm`,
  `${CORE}.LocalObjectReference`,
  `${CORE}.ObjectReference`,
  `${CORE}.ConfigMapKeySelector`,
  `${CORE}.SecretKeySelector`,
  `${CORE}.ObjectFieldSelector`,
  `${CORE}.ResourceFieldSelector`,
  `${CORE}.TypedLocalObjectReference`,
]);

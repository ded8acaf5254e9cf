/** core/v1 Node, Namespace, Service, Endpoints, ConfigMap, Secret, Event; coordination.k8s.io/v1 Lease. */
import { z } from 'zod';
import { Condition, int32, intOrString, loose, objectOf, quantity, stringMap, timestamp } from './common.js';

export const Taint = z.strictObject({
  key: z.string(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
  timeAdded: timestamp.optional(),
});
export type Taint = z.infer<typeof Taint>;

export const Node = objectOf('v1', 'Node', {
  spec: z
    .strictObject({
      podCIDR: z.string().optional(),
      podCIDRs: z.array(z.string()).optional(),
      providerID: z.string().optional(),
      unschedulable: z.boolean().optional(),
      taints: z.array(Taint).optional(),
      configSource: loose.optional(),
      externalID: z.string().optional(),
    })
    .optional(),
  status: z
    .looseObject({
      capacity: z.record(z.string(), quantity).optional(),
      allocatable: z.record(z.string(), quantity).optional(),
      phase: z.string().optional(),
      conditions: z.array(Condition).optional(),
      addresses: z.array(z.looseObject({ type: z.string(), address: z.string() })).optional(),
      daemonEndpoints: z.looseObject({ kubeletEndpoint: z.looseObject({ Port: int32 }).optional() }).optional(),
      nodeInfo: z.record(z.string(), z.string()).optional(),
      images: z.array(loose).optional(),
    })
    .optional(),
});
export type Node = z.infer<typeof Node>;

export const Namespace = objectOf('v1', 'Namespace', {
  spec: z.strictObject({ finalizers: z.array(z.string()).optional() }).optional(),
  status: z.looseObject({ phase: z.string().optional(), conditions: z.array(Condition).optional() }).optional(),
});

export const ServicePort = z.strictObject({
  name: z.string().optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  appProtocol: z.string().optional(),
  port: int32,
  targetPort: intOrString.optional(),
  nodePort: int32.optional(),
});

export const Service = objectOf('v1', 'Service', {
  spec: z
    .strictObject({
      ports: z.array(ServicePort).optional(),
      selector: stringMap.optional(),
      clusterIP: z.string().optional(),
      clusterIPs: z.array(z.string()).optional(),
      type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).optional(),
      externalIPs: z.array(z.string()).optional(),
      sessionAffinity: z.string().optional(),
      sessionAffinityConfig: loose.optional(),
      loadBalancerIP: z.string().optional(),
      loadBalancerSourceRanges: z.array(z.string()).optional(),
      loadBalancerClass: z.string().optional(),
      externalName: z.string().optional(),
      externalTrafficPolicy: z.string().optional(),
      internalTrafficPolicy: z.string().optional(),
      healthCheckNodePort: int32.optional(),
      publishNotReadyAddresses: z.boolean().optional(),
      ipFamilies: z.array(z.string()).optional(),
      ipFamilyPolicy: z.string().optional(),
      allocateLoadBalancerNodePorts: z.boolean().optional(),
      trafficDistribution: z.string().optional(),
    })
    .optional(),
  status: loose.optional(),
});

const EndpointAddress = z.looseObject({ ip: z.string(), hostname: z.string().optional(), nodeName: z.string().optional(), targetRef: loose.optional() });
export const Endpoints = objectOf('v1', 'Endpoints', {
  subsets: z
    .array(
      z.strictObject({
        addresses: z.array(EndpointAddress).optional(),
        notReadyAddresses: z.array(EndpointAddress).optional(),
        ports: z.array(z.looseObject({ port: int32, name: z.string().optional(), protocol: z.string().optional() })).optional(),
      }),
    )
    .optional(),
});

export const ConfigMap = objectOf('v1', 'ConfigMap', {
  data: stringMap.optional(),
  binaryData: stringMap.optional(),
  immutable: z.boolean().optional(),
});

export const Secret = objectOf('v1', 'Secret', {
  data: stringMap.optional(),
  stringData: stringMap.optional(),
  type: z.string().optional(),
  immutable: z.boolean().optional(),
});

export const ObjectReference = z.looseObject({
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
  fieldPath: z.string().optional(),
});

export const Event = objectOf('v1', 'Event', {
  involvedObject: ObjectReference,
  reason: z.string().optional(),
  message: z.string().optional(),
  source: z.looseObject({ component: z.string().optional(), host: z.string().optional() }).optional(),
  firstTimestamp: timestamp.optional(),
  lastTimestamp: timestamp.optional(),
  count: int32.optional(),
  type: z.string().optional(),
  eventTime: timestamp.optional(),
  series: loose.optional(),
  action: z.string().optional(),
  related: ObjectReference.optional(),
  reportingComponent: z.string().optional(),
  reportingInstance: z.string().optional(),
});
export type Event = z.infer<typeof Event>;

export const Lease = objectOf('coordination.k8s.io/v1', 'Lease', {
  spec: z
    .strictObject({
      holderIdentity: z.string().optional(),
      leaseDurationSeconds: int32.optional(),
      acquireTime: timestamp.optional(),
      renewTime: timestamp.optional(),
      leaseTransitions: int32.optional(),
      strategy: z.string().optional(),
      preferredHolder: z.string().optional(),
    })
    .optional(),
});
export type Lease = z.infer<typeof Lease>;

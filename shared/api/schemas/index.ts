/**
 * The zod schemas of every served kind: the one source of their TypeScript types, and what
 * every write is checked against (types, and unknown fields for `fieldValidation`).
 */
import type { z } from 'zod';
import { ConfigMap, Endpoints, Event, Lease, Namespace, Node, Secret, Service } from './cluster.js';
import { Pod } from './pod.js';
import { Deployment, ReplicaSet } from './workloads.js';

export * from './common.js';
export * from './pod.js';
export * from './workloads.js';
export * from './cluster.js';

export const SCHEMAS: Record<string, z.ZodType> = {
  Pod,
  Deployment,
  ReplicaSet,
  Node,
  Namespace,
  Service,
  Endpoints,
  ConfigMap,
  Secret,
  Event,
  Lease,
};

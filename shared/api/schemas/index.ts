/**
 * The zod schemas of the served kinds and the parts they share: the one source of their
 * TypeScript types, and what every write is checked against (each kind names its schema in
 * its file in `../kinds/`). Their field lists look alike (runs of optional strings and int32s):
 * that is the API's shape, written out as the API documents it, not code to factor out.
 */
export * from './common.js';
export * from './pod.js';
export * from './workloads.js';
export * from './cluster.js';
export * from './batch.js';

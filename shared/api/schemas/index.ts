/**
 * The zod schemas of the served kinds and the parts they share: the one source of their
 * TypeScript types, and what every write is checked against (each kind names its schema in
 * its file in `../kinds/`).
 */
export * from './common.js';
export * from './pod.js';
export * from './workloads.js';
export * from './cluster.js';

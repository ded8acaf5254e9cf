/**
 * The one place a `Runtime` is chosen, by name: `process` (containers as host processes under
 * the node's data directory) or `docker` (the Docker Engine API, the node's containers labelled
 * with its name). The kubelet and the `local` cloud provider (which cleans up after a kubelet
 * that died) both ask here.
 */
import { join } from 'node:path';
import { DockerRuntime } from './docker.js';
import { ProcessRuntime } from './process.js';
import type { Runtime } from './types.js';

export const RUNTIMES = ['process', 'docker'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export interface RuntimeOptions {
  /** The node's data directory (the process runtime keeps its containers under it). */
  dataDir: string;
  /** The node's name (the docker runtime labels its containers with it). */
  node: string;
  dockerSocket?: string;
}

export function createRuntime(name: string, options: RuntimeOptions): Runtime {
  switch (name) {
    case 'process':
      return new ProcessRuntime(join(options.dataDir, 'containers'));
    case 'docker':
      return new DockerRuntime({ socketPath: options.dockerSocket ?? '/var/run/docker.sock', node: options.node });
    default:
      throw new Error(`unknown runtime ${JSON.stringify(name)}: one of ${RUNTIMES.join(', ')}`);
  }
}

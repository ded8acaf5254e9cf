/**
 * `skiff up`: the control plane on the embedded default, in one process: the SQLite store in
 * the data directory, the HTTPS API with its kubeconfig, and the controllers (scheduler,
 * ReplicaSet, Deployment) on the store's change feed. Stops cleanly on Ctrl-C or SIGTERM;
 * started again on the same data directory, it has everything it had.
 */
import { join, resolve } from 'node:path';
import { startApiServer } from '../functions/api/server.js';
import { startControlPlane } from '../shared/control-plane.js';
import { createStore } from '../shared/store/factory.js';

export interface UpOptions {
  dataDir: string;
  port: number;
  host: string;
  nodes: number;
  runtime: 'process' | 'docker' | 'auto';
}

export async function up(options: UpOptions, log: (line: string) => void = console.log): Promise<{ stop: () => Promise<void> }> {
  const dataDir = resolve(options.dataDir);
  const started = Date.now();
  const store = await createStore(`sqlite://${join(dataDir, 'skiff.db')}`);
  log(`store     sqlite ${join(dataDir, 'skiff.db')} at revision ${await store.currentRevision()}`);
  const api = await startApiServer({ store, dataDir, port: options.port, host: options.host });
  log(`api       ${api.url} (ready in ${Date.now() - started} ms)`);
  const controlPlane = await startControlPlane({ store, log: (line) => log(`control   ${line}`) });
  log(`control   ${controlPlane.controllers.map((c) => c.name).join(', ')}`);
  if (options.nodes > 0) {
    log(`nodes     ${options.nodes} requested with the ${options.runtime} runtime: workers and the kubelet are not part of this build yet`);
  }
  log('');
  log('Skiff is up. Try:');
  log(`  export KUBECONFIG=${api.kubeconfigPath}`);
  log('  kubectl get namespaces');
  log(`  kubectl --kubeconfig ${api.kubeconfigPath} create deployment web --image=nginx`);
  log('');
  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        log('stopping  api');
        await api.close();
        log('stopping  controllers');
        await controlPlane.stop();
        log('stopping  store');
        await store.close();
        log('stopped');
      })()),
  };
}

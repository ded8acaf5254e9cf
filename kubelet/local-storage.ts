/**
 * The node's side of the local-path provisioner: its Node says where local-path volumes go
 * (`storage.skiff.dev/local-path-root`, set at registration), the first pod that mounts one
 * makes its folder (a DirectoryOrCreate hostPath), and once the volume is gone (its claim
 * deleted, its reclaim policy Delete) this sweep removes the folder, as k3s's provisioner does
 * with a helper pod. A volume kept (Retain) keeps its folder.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiRequestError, type ApiClient } from './api-client.js';

/** Removes the folders under `root` whose PersistentVolume no longer exists. */
export async function sweepLocalPaths(api: ApiClient, root: string, log: (line: string) => void): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return; // nothing provisioned here yet
  }
  for (const name of names) {
    const volume = /^(pvc-[0-9a-f-]+)_/.exec(name)?.[1];
    if (!volume) continue;
    const gone = await api.get(`/api/v1/persistentvolumes/${volume}`).then(
      () => false,
      (err) => err instanceof ApiRequestError && err.code === 404,
    );
    if (!gone) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    log(`local-path: removed ${name}: its volume ${volume} is gone`);
  }
}

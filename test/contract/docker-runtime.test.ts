/**
 * The docker runtime through the Runtime contract, on a private Docker engine (own socket,
 * data-root and exec-root) with the busybox image imported from Debian's busybox-static.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DockerRuntime, dockerAvailable } from '../../kubelet/runtime/docker.js';
import { BUSYBOX_IMAGE, importBusyboxImage, startDockerEngine, type DockerEngine } from '../support/docker-engine.js';
import { runtimeContract } from './runtime.contract.js';

let engine: DockerEngine;
beforeAll(async () => {
  engine = await startDockerEngine();
  importBusyboxImage(engine);
}, 120_000);
afterAll(async () => {
  await engine?.stop();
});

runtimeContract('docker', async () => ({
  runtime: new DockerRuntime({ socketPath: engine.socketPath, node: 'node-a' }),
  image: BUSYBOX_IMAGE,
  reopen: () => new DockerRuntime({ socketPath: engine.socketPath, node: 'node-a' }),
  cleanup: async () => undefined,
}));

it('answers whether an engine is there', async () => {
  expect(await dockerAvailable(engine.socketPath)).toBe(true);
  expect(await dockerAvailable('/nonexistent/docker.sock')).toBe(false);
});

it('sees only its own node’s containers when engines are shared, and says when an image cannot be pulled', async () => {
  const a = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-a' });
  const b = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-b' });
  const spec = { podUid: 'shared-1', podNamespace: 'default', podName: 'p', name: 'main', attempt: 0, image: BUSYBOX_IMAGE, command: ['sleep', '30'], args: [], env: {} };
  const started = await a.start(spec);
  expect((await b.list()).map((c) => c.id)).not.toContain(started.id);
  expect((await a.list()).map((c) => c.id)).toContain(started.id);
  await a.stop(started.id, 0);
  await a.remove(started.id);
  await expect(a.start({ ...spec, podUid: 'shared-2', image: 'skiff-test/missing:1' })).rejects.toThrow(/failed to pull image "skiff-test\/missing:1"/);
});

it('follows the pull policy: IfNotPresent uses the local image, Never refuses a missing one, Always pulls (and fails with no registry)', async () => {
  const rt = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-p' });
  const spec = { podUid: 'pull-1', podNamespace: 'default', podName: 'p', name: 'main', attempt: 0, image: BUSYBOX_IMAGE, command: ['true'], args: [], env: {} };
  const ok = await rt.start({ ...spec, imagePullPolicy: 'IfNotPresent' });
  expect(ok.spec.image).toBe(BUSYBOX_IMAGE);
  await expect(rt.start({ ...spec, podUid: 'pull-2', image: 'skiff-test/absent:1', imagePullPolicy: 'Never' })).rejects.toThrow(/^ErrImageNeverPull: container image "skiff-test\/absent:1" is not present/);
  await expect(rt.start({ ...spec, podUid: 'pull-3', imagePullPolicy: 'Always' })).rejects.toThrow(/failed to pull image/);
  for (const c of await rt.list()) {
    await rt.stop(c.id, 0);
    await rt.remove(c.id);
  }
});

it('enforces the memory limit: a container that goes over it is OOM-killed', async () => {
  const rt = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-m' });
  const c = await rt.start({ podUid: 'mem-1', podNamespace: 'default', podName: 'p', name: 'main', attempt: 0, image: BUSYBOX_IMAGE, command: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1'], args: [], env: {}, memoryLimit: 16 * 2 ** 20 });
  let status = await rt.inspect(c.id);
  for (let i = 0; i < 100 && status.state === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    status = await rt.inspect(c.id);
  }
  expect(status).toMatchObject({ state: 'exited', exitCode: 137, oomKilled: true });
  await rt.remove(c.id);
});

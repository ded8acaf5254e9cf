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

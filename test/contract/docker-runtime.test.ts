/**
 * The docker runtime through the Runtime contract, on a private Docker engine (own socket,
 * data-root and exec-root) with the busybox image imported from Debian's busybox-static.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DockerRuntime, dockerAvailable } from '../../kubelet/runtime/docker.js';
import type { ContainerSpec } from '../../kubelet/runtime/types.js';
import { BUSYBOX_IMAGE, importBusyboxImage, startDockerEngine, type DockerEngine } from '../../emulators/docker-engine.js';
import { runtimeContract } from './runtime.contract.js';

let engine: DockerEngine;
beforeAll(async () => {
  engine = await startDockerEngine();
  importBusyboxImage(engine);
}, 120_000);
afterAll(async () => {
  await engine?.stop();
});

/** A busybox container of pod `podUid` running `command`. */
const busybox = (podUid: string, command: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  podUid,
  podNamespace: 'default',
  podName: 'p',
  name: 'main',
  attempt: 0,
  image: BUSYBOX_IMAGE,
  command,
  args: [],
  env: {},
  ...extra,
});

/** Waits (up to 4 s) for a container to exit. */
async function exited(rt: DockerRuntime, id: string): Promise<void> {
  for (let i = 0; i < 200 && (await rt.inspect(id)).state === 'running'; i++) await new Promise((r) => setTimeout(r, 20));
}

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
  const spec = busybox('shared-1', ['sleep', '30']);
  const started = await a.start(spec);
  expect((await b.list()).map((c) => c.id)).not.toContain(started.id);
  expect((await a.list()).map((c) => c.id)).toContain(started.id);
  await a.stop(started.id, 0);
  await a.remove(started.id);
  await expect(a.start({ ...spec, podUid: 'shared-2', image: 'skiff-test/missing:1' })).rejects.toThrow(/failed to pull image "skiff-test\/missing:1"/);
});

it('follows the pull policy: IfNotPresent uses the local image, Never refuses a missing one, Always pulls (and fails with no registry)', async () => {
  const rt = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-p' });
  const spec = busybox('pull-1', ['true']);
  const ok = await rt.start({ ...spec, imagePullPolicy: 'IfNotPresent' });
  expect(ok.spec.image).toBe(BUSYBOX_IMAGE);
  await expect(rt.start({ ...spec, podUid: 'pull-2', image: 'skiff-test/absent:1', imagePullPolicy: 'Never' })).rejects.toThrow(
    /^ErrImageNeverPull: container image "skiff-test\/absent:1" is not present/,
  );
  await expect(rt.start({ ...spec, podUid: 'pull-3', imagePullPolicy: 'Always' })).rejects.toThrow(/failed to pull image/);
  for (const c of await rt.list()) {
    await rt.stop(c.id, 0);
    await rt.remove(c.id);
  }
});

it('enforces the memory limit: a container that goes over it is OOM-killed', async () => {
  const rt = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-m' });
  const c = await rt.start(busybox('mem-1', ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1'], { memoryLimit: 16 * 2 ** 20 }));
  let status = await rt.inspect(c.id);
  for (let i = 0; i < 100 && status.state === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    status = await rt.inspect(c.id);
  }
  // Without the limit dd would exit 0; with it the kernel kills it. (Docker's OOMKilled flag is
  // usually set too, but not always when the killed process is not the container's first.)
  expect(status).toMatchObject({ state: 'exited', exitCode: 137, signal: 'SIGKILL' });
  await rt.remove(c.id);
});

it('labels each container with its pod, name, attempt and whole spec, so a restarted runtime rebuilds the spec', async () => {
  const rt = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-l' });
  const spec = {
    podUid: 'label-1',
    podNamespace: 'team',
    podName: 'web',
    name: 'main',
    attempt: 2,
    image: BUSYBOX_IMAGE,
    command: ['sleep'],
    args: ['30'],
    env: { A: '1' },
    workingDir: '/tmp',
    memoryLimit: 64 * 2 ** 20,
  };
  const c = await rt.start(spec);
  const labels = JSON.parse(engine.docker(['inspect', '--format', '{{json .Config.Labels}}', c.id])) as Record<string, string>;
  expect(labels).toMatchObject({
    'skiff.pod.uid': 'label-1',
    'skiff.pod.namespace': 'team',
    'skiff.pod.name': 'web',
    'skiff.container.name': 'main',
    'skiff.container.attempt': '2',
    'skiff.node': 'node-l',
  });
  const found = await new DockerRuntime({ socketPath: engine.socketPath, node: 'node-l' }).list();
  expect(found.map((s) => s.spec)).toEqual([spec]);
  const host = JSON.parse(engine.docker(['inspect', '--format', '{{json .HostConfig}}', c.id])) as { NetworkMode: string; Memory: number };
  expect(host).toMatchObject({ NetworkMode: 'host', Memory: 64 * 2 ** 20 });
  await rt.stop(c.id, 0);
  await rt.remove(c.id);
  await rt.remove(c.id); // idempotent
  expect(await rt.list()).toEqual([]);
});

it('maps command and args as Kubernetes does: command replaces the entrypoint, args the image’s CMD', async () => {
  const rt = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-c' });
  const base = { env: { WHO: 'env' }, workingDir: '/etc' };
  // The image's CMD is ["sh"] with no entrypoint: args alone replace it.
  const argsOnly = await rt.start(busybox('cmd-1', [], { ...base, args: ['sh', '-c', 'echo "args $WHO $(pwd)"'] }));
  const commandOnly = await rt.start(busybox('cmd-2', ['echo', 'command'], base));
  const both = await rt.start(busybox('cmd-3', ['echo'], { ...base, args: ['command', 'and', 'args'] }));
  for (const c of [argsOnly, commandOnly, both]) {
    await exited(rt, c.id);
  }
  expect(await rt.logs(argsOnly.id)).toBe('args env /etc\n');
  expect(await rt.logs(commandOnly.id)).toBe('command\n');
  expect(await rt.logs(both.id)).toBe('command and args\n');
  for (const c of [argsOnly, commandOnly, both]) await rt.remove(c.id);
});

it('writes log timestamps as the process runtime does (ISO, milliseconds) and ends a last unterminated line', async () => {
  const rt = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-t' });
  const c = await rt.start(busybox('ts-1', ['sh', '-c', 'echo first; printf "no newline"']));
  await exited(rt, c.id);
  expect(await rt.logs(c.id)).toBe('first\nno newline\n');
  const stamped = await rt.logs(c.id, { timestamps: true });
  expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z first\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z no newline\n$/);
  const first = Date.parse(stamped.slice(0, stamped.indexOf(' ')));
  expect(Math.abs(first - Date.now())).toBeLessThan(60_000);
  const chunks: string[] = [];
  await rt.followLogs(c.id, {}, (t) => chunks.push(t), new AbortController().signal);
  expect(chunks.join('')).toBe('first\nno newline\n');
  await rt.remove(c.id);
});

it('names the signal that ended a container from its 128 + n exit code', async () => {
  const rt = new DockerRuntime({ socketPath: engine.socketPath, node: 'node-s' });
  const c = await rt.start(busybox('sig-1', ['sh', '-c', 'kill -USR1 $$; sleep 30']));
  let status = await rt.inspect(c.id);
  for (let i = 0; i < 200 && status.state === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 20));
    status = await rt.inspect(c.id);
  }
  expect(status).toMatchObject({ state: 'exited', exitCode: 138, signal: 'SIGUSR1' });
  const killed = await rt.start(busybox('sig-2', ['sh', '-c', 'trap "" TERM; echo armed; sleep 30']));
  // Stopped only once the shell ignores SIGTERM (a loaded machine may start it late): then only SIGKILL ends it.
  for (let i = 0; i < 250 && !(await rt.logs(killed.id)).includes('armed'); i++) await new Promise((r) => setTimeout(r, 20));
  expect(await rt.stop(killed.id, 0)).toMatchObject({ state: 'exited', exitCode: 137, signal: 'SIGKILL' });
  expect(await rt.stop(killed.id, 0)).toMatchObject({ state: 'exited', exitCode: 137 }); // idempotent
  const clean = await rt.start(busybox('sig-3', ['true']));
  await exited(rt, clean.id);
  expect(await rt.inspect(clean.id)).toMatchObject({ state: 'exited', exitCode: 0, signal: undefined });
  for (const id of [c.id, killed.id, clean.id]) await rt.remove(id);
});

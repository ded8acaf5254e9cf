/**
 * The one contract suite of the kubelet's `Runtime` port: every runtime's test file calls it.
 * Containers run busybox-style shell commands (`sh`, `echo`, `sleep`, `trap`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContainerSpec, type Runtime, SecurityRefusal } from '../../kubelet/runtime/types.js';

export interface RuntimeUnderTest {
  runtime: Runtime;
  /** The image containers run (busybox-style; the process runtime ignores it). */
  image?: string;
  /** A second runtime over the same state, as after a kubelet restart. */
  reopen(): Runtime;
  cleanup(): Promise<void>;
}

let n = 0;
let image = 'busybox';
function spec(script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    podUid: `pod${++n}`,
    podNamespace: 'default',
    podName: `p${n}`,
    name: 'main',
    attempt: 0,
    image,
    command: ['sh', '-c', script],
    args: [],
    env: {},
    ...extra,
  };
}

async function until<T>(check: () => Promise<T | false | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function runtimeContract(name: string, make: () => Promise<RuntimeUnderTest>): void {
  describe(`Runtime contract: ${name}`, () => {
    let current: RuntimeUnderTest | undefined;
    const open = async () => {
      current = await make();
      image = current.image ?? 'busybox';
      return current;
    };
    afterEach(async () => {
      if (!current) return;
      for (const c of await current.runtime.list()) {
        await current.runtime.stop(c.id, 0);
        await current.runtime.remove(c.id);
      }
      await current.cleanup();
      current = undefined;
    });

    it('runs a container with its args and env, and keeps its output with timestamps', async () => {
      const { runtime } = await open();
      const started = await runtime.start(spec('echo "hello $WHO"; echo "$0 $1"; sleep 30', { args: ['first', 'second'], env: { WHO: 'skiff' } }));
      expect(started.state).toBe('running');
      await until(async () => (await runtime.logs(started.id)).includes('first second'));
      expect(await runtime.logs(started.id)).toBe('hello skiff\nfirst second\n');
      expect(await runtime.logs(started.id, { tailLines: 1 })).toBe('first second\n');
      expect(await runtime.logs(started.id, { timestamps: true })).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z hello skiff\n/);
      expect(await runtime.logs(started.id, { sinceSeconds: 60 })).toContain('hello skiff');
    });

    it('records the exit code of a failing command', async () => {
      const { runtime } = await open();
      const c = await runtime.start(spec('echo failing; exit 3'));
      const done = await until(async () => {
        const s = await runtime.inspect(c.id);
        return s.state === 'exited' && s;
      });
      expect(done.exitCode).toBe(3);
      expect(done.finishedAt).toBeTruthy();
    });

    it('stops gracefully: SIGTERM reaches the container, which may clean up', async () => {
      const { runtime } = await open();
      const c = await runtime.start(spec('trap "echo terminating; exit 0" TERM; echo ready; while true; do sleep 0.1; done'));
      await until(async () => (await runtime.logs(c.id)).includes('ready'));
      const stopped = await runtime.stop(c.id, 5000);
      expect(stopped).toMatchObject({ state: 'exited', exitCode: 0 });
      expect(await runtime.logs(c.id)).toContain('terminating');
    });

    it('kills a container that ignores SIGTERM once the grace period is over', async () => {
      const { runtime } = await open();
      // ECS fixes the grace when the task is defined (its stopTimeout, 2 s at least), not at the stop.
      const c = await runtime.start(spec('trap "" TERM; echo stubborn; while true; do sleep 0.1; done', { gracePeriodSeconds: 0 }));
      await until(async () => (await runtime.logs(c.id)).includes('stubborn'));
      const start = Date.now();
      const stopped = await runtime.stop(c.id, 300);
      expect(Date.now() - start).toBeGreaterThanOrEqual(300);
      expect(stopped).toMatchObject({ state: 'exited', exitCode: 137 });
    });

    it('a restarted runtime finds the containers of the one before, and can stop them', async () => {
      const t = await open();
      const c = await t.runtime.start(spec('sleep 30'));
      const again = t.reopen();
      const found = await again.list();
      expect(found.map((s) => [s.id, s.state, s.spec.podUid])).toEqual([[c.id, 'running', c.spec.podUid]]);
      expect((await again.stop(c.id, 1000)).state).toBe('exited');
    });

    it('remove leaves no process and no state behind', async () => {
      const { runtime } = await open();
      const c = await runtime.start(spec('sleep 30'));
      await expect(runtime.remove(c.id)).rejects.toThrow(/running/);
      const stopped = await runtime.stop(c.id, 1000);
      await runtime.remove(c.id);
      expect(await runtime.list()).toEqual([]);
      if (stopped.pid) expect(() => process.kill(stopped.pid!, 0)).toThrow();
    });

    it('follows the log: what was written, then new lines, ending when the container exits', async () => {
      const { runtime } = await open();
      const c = await runtime.start(spec('echo one; sleep 0.5; echo two; sleep 0.5; echo three'));
      await until(async () => (await runtime.logs(c.id)).includes('one'));
      const chunks: string[] = [];
      const started = Date.now();
      await runtime.followLogs(c.id, {}, (t) => chunks.push(t), new AbortController().signal);
      expect(chunks.join('')).toBe('one\ntwo\nthree\n');
      expect(chunks.length).toBeGreaterThan(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    });

    it('a follow stops when its signal aborts', async () => {
      const { runtime } = await open();
      const c = await runtime.start(spec('echo up; sleep 30'));
      await until(async () => (await runtime.logs(c.id)).includes('up'));
      const abort = new AbortController();
      const chunks: string[] = [];
      setTimeout(() => abort.abort(), 300);
      await runtime.followLogs(c.id, { timestamps: true }, (t) => chunks.push(t), abort.signal);
      expect(chunks.join('')).toMatch(/^\S+Z up\n$/);
    });

    it('exec runs a command in the running container, with its exit code, output and a time limit (ecs: says it cannot)', async () => {
      const { runtime } = await open();
      const c = await runtime.start(spec('sleep 30', { env: { GREETING: 'hi' } }));
      // ECS ExecuteCommand needs the SSM agent's session protocol: the ecs runtime says so.
      if (runtime.name === 'ecs') return void (await expect(runtime.exec(c.id, ['true'], 1000)).rejects.toThrow(/exec is not offered by the ecs runtime/));
      expect(await runtime.exec(c.id, ['sh', '-c', 'echo $GREETING; exit 4'], 5000)).toMatchObject({ exitCode: 4, output: 'hi\n', timedOut: false });
      const slow = await runtime.exec(c.id, ['sleep', '10'], 200);
      expect(slow.timedOut).toBe(true);
      expect(slow.exitCode).not.toBe(0);
    });

    it('rotates the log past its size limit and keeps one rotated file (ecs: CloudWatch Logs keeps it all)', async () => {
      const { runtime } = await open();
      const c = await runtime.start(
        spec('i=0; while [ $i -lt 400 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done', { logMaxBytes: 8192 }),
      );
      await until(async () => (await runtime.inspect(c.id)).state === 'exited');
      const lines = (await runtime.logs(c.id)).split('\n').filter(Boolean);
      expect(lines.at(-1)).toMatch(/^line 399 /);
      if (runtime.name === 'ecs') return void expect(lines).toHaveLength(400);
      // 400 lines of ~75 bytes with timestamps is ~30 KiB: only the last ~16 KiB are kept.
      expect(lines.length).toBeLessThan(400);
      expect(lines.length).toBeGreaterThan(50);
    });

    // A securityContext is given, or refused with a SecurityRefusal: never ignored. The process
    // runtime can change user only when the kubelet runs as root, and cannot make a read-only root.
    const canChangeUser = (runtime: Runtime) => runtime.name !== 'process' || process.getuid?.() === 0;

    it('runs as the user and group asked for (runAsUser, runAsGroup), or refuses', async () => {
      const { runtime } = await open();
      const asked = spec('echo "$(id -u):$(id -g)"', { security: { runAsUser: 65534, runAsGroup: 65534 } });
      if (!canChangeUser(runtime)) return void (await expect(runtime.start(asked)).rejects.toBeInstanceOf(SecurityRefusal));
      const c = await runtime.start(asked);
      await until(async () => (await runtime.inspect(c.id)).state === 'exited');
      expect(await runtime.logs(c.id)).toBe('65534:65534\n');
    });

    it('runAsNonRoot: refused when the container would run as root', async () => {
      const { runtime } = await open();
      const wouldBeRoot = runtime.name === 'process' ? process.getuid?.() === 0 : true; // the test image has no USER
      const start = runtime.start(spec('id -u', { security: { runAsNonRoot: true } }));
      if (wouldBeRoot) await expect(start).rejects.toThrow(/runAsNonRoot and image will run as root/);
      else expect((await start).state).toBeDefined();
      if (canChangeUser(runtime)) {
        const c = await runtime.start(spec('id -u', { security: { runAsNonRoot: true, runAsUser: 1000 } }));
        await until(async () => (await runtime.inspect(c.id)).state === 'exited');
        expect(await runtime.logs(c.id)).toBe('1000\n');
      }
    });

    it('a mount: seen at its path, read-only (docker), or named in SKIFF_MOUNTS (process)', async () => {
      const { runtime } = await open();
      const folder = mkdtempSync(join(tmpdir(), 'skiff-mount-'));
      writeFileSync(join(folder, 'token'), 'the-token');
      const path = '/var/run/secrets/kubernetes.io/serviceaccount';
      try {
        const script =
          runtime.name === 'process' ? `echo "$SKIFF_MOUNTS"` : `cat ${path}/token; echo; touch ${path}/x 2>/dev/null && echo wrote || echo read-only`;
        const c = await runtime.start(spec(script, { mounts: [{ hostPath: folder, containerPath: path, readOnly: true }] }));
        await until(async () => (await runtime.inspect(c.id)).state === 'exited');
        expect(await runtime.logs(c.id)).toBe(runtime.name === 'process' ? `${JSON.stringify({ [path]: folder })}\n` : 'the-token\nread-only\n');
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    });

    it('readOnlyRootFilesystem: the root cannot be written, or it is refused', async () => {
      const { runtime } = await open();
      const asked = spec('touch /skiff-ro-probe 2>/dev/null && echo wrote || echo read-only', { security: { readOnlyRootFilesystem: true } });
      if (runtime.name === 'process')
        return void (await expect(runtime.start(asked)).rejects.toThrow(/cannot give container main a read-only root filesystem/));
      const c = await runtime.start(asked);
      await until(async () => (await runtime.inspect(c.id)).state === 'exited');
      expect(await runtime.logs(c.id)).toBe('read-only\n');
    });
  });
}

/**
 * The private Docker engine the kubelet's docker runtime is tested on: it starts, takes the
 * busybox image, runs a container whose output we read back, and stops without leftovers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { BUSYBOX_IMAGE, importBusyboxImage, startDockerEngine, type DockerEngine } from '../../emulators/docker-engine.js';

describe('a private Docker engine for the tests', () => {
  let engine: DockerEngine;
  beforeAll(async () => {
    engine = await startDockerEngine();
    importBusyboxImage(engine);
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('answers on its own socket, apart from any system engine', () => {
    expect(existsSync(engine.socketPath)).toBe(true);
    const info = JSON.parse(engine.docker(['info', '--format', '{{json .}}'])) as { DockerRootDir: string };
    expect(info.DockerRootDir).toContain('skiff-dockerd-');
  });

  it('runs a command in the imported busybox image and returns its output', () => {
    const out = engine.docker(['run', '--rm', '--network', 'host', BUSYBOX_IMAGE, 'sh', '-c', 'echo hello from $(uname -s); expr 6 \\* 7']);
    expect(out.trim().split('\n')).toEqual(['hello from Linux', '42']);
  });

  it('reports a failing command exit code', () => {
    let code = 0;
    try {
      engine.docker(['run', '--rm', '--network', 'host', BUSYBOX_IMAGE, 'sh', '-c', 'exit 3']);
    } catch (err) {
      code = (err as { status: number }).status;
    }
    expect(code).toBe(3);
  });
});

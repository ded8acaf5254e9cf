/**
 * The emulated ECS cloud a test file shares across its cases: a private Docker engine with the
 * busybox image, CloudWatch Logs, and ECS running its tasks on that engine.
 */
import { BUSYBOX_IMAGE, type DockerEngine, importBusyboxImage, startDockerEngine } from '../../emulators/docker-engine.js';
import { type EcsEmulator, type EcsEmulatorOptions, startEcsEmulator } from '../../emulators/ecs.js';
import { type LogsEmulator, startLogsEmulator } from '../../emulators/logs.js';

/** The execution role the tests' task definitions name (Fargate needs one for awslogs). */
export const EXECUTION_ROLE = 'arn:aws:iam::123456789012:role/skiff-task-execution';

export interface EcsCloud {
  engine: DockerEngine;
  logs: LogsEmulator;
  ecs: EcsEmulator;
  close(): Promise<void>;
}

export async function startEcsCloud(options: Partial<EcsEmulatorOptions> = {}): Promise<EcsCloud> {
  const engine = await startDockerEngine();
  try {
    importBusyboxImage(engine);
    // Also under the name a pod spec gives it.
    engine.docker(['tag', BUSYBOX_IMAGE, 'busybox:latest']);
    const logs = await startLogsEmulator();
    const ecs = await startEcsEmulator({ dockerSocket: engine.socketPath, logs, provisionMs: 20, ...options });
    return {
      engine,
      logs,
      ecs,
      async close() {
        await ecs.close();
        await logs.close();
        await engine.stop();
      },
    };
  } catch (err) {
    await engine.stop();
    throw err;
  }
}

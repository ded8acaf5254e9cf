/**
 * The rollout commands against Skiff's controllers (simulated nodes run the pods): rollout
 * status waits for a rollout to finish, history lists the revisions, undo returns the previous
 * template, restart rolls the pods again; get pods shows them Running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlledCluster, type ControlledCluster } from '../support/api-server.js';

let cluster: ControlledCluster;

beforeAll(async () => {
  cluster = await startControlledCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const image = async () => (await cluster.kubectlOk(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).trim();

describe('kubectl rollout', () => {
  it('status, history, undo and restart', async () => {
    await cluster.kubectlOk(['create', 'deployment', 'web', '--image=app:v1', '--replicas=3']);
    const status = await cluster.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=30s'], { timeoutMs: 40_000 });
    expect(status).toContain('deployment "web" successfully rolled out');
    const pods = await cluster.kubectlOk(['get', 'pods', '-l', 'app=web']);
    expect(pods.trim().split('\n').slice(1)).toHaveLength(3);
    expect(pods).toMatch(/web-[a-z0-9]+-[a-z0-9]+\s+1\/1\s+Running\s+0\s+/);

    await cluster.kubectlOk(['set', 'image', 'deployment/web', 'app=app:v2']);
    expect(await cluster.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=30s'], { timeoutMs: 40_000 })).toContain('successfully rolled out');
    const history = await cluster.kubectlOk(['rollout', 'history', 'deployment/web']);
    expect(history).toMatch(/^1\s+<none>$/m);
    expect(history).toMatch(/^2\s+<none>$/m);

    expect((await cluster.kubectlOk(['rollout', 'undo', 'deployment/web'])).trim()).toBe('deployment.apps/web rolled back');
    expect(await cluster.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=30s'], { timeoutMs: 40_000 })).toContain('successfully rolled out');
    expect(await image()).toBe('app:v1');
    // Undo scales the first ReplicaSet back up and moves it to the newest revision, as
    // Kubernetes does: no third ReplicaSet, and revision 1 is gone from the history.
    const afterUndo = await cluster.kubectlOk(['rollout', 'history', 'deployment/web']);
    expect(afterUndo).toMatch(/^3\s+<none>$/m);
    expect(afterUndo).toMatch(/^2\s+<none>$/m);
    expect(afterUndo).not.toMatch(/^1\s+<none>$/m);
    const replicaSets = (await cluster.kubectlOk(['get', 'rs', '-l', 'app=web', '-o', 'name'])).trim().split('\n');
    expect(replicaSets).toHaveLength(2);
    expect(await cluster.kubectlOk(['get', 'events', '--field-selector', 'reason=ScalingReplicaSet', '-o', 'jsonpath={.items[*].message}'])).not.toContain(
      'from 0 to 0',
    );

    expect((await cluster.kubectlOk(['rollout', 'restart', 'deployment/web'])).trim()).toBe('deployment.apps/web restarted');
    expect(await cluster.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=30s'], { timeoutMs: 40_000 })).toContain('successfully rolled out');
    const restartedAt = await cluster.kubectlOk([
      'get',
      'deploy',
      'web',
      '-o',
      'jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}',
    ]);
    expect(restartedAt).toMatch(/^\d{4}-/);
    const describe = await cluster.kubectlOk(['describe', 'deployment', 'web']);
    expect(describe).toMatch(/NewReplicaSet:\s+web-[a-z0-9]+ \(3\/3 replicas created\)/);
    expect(describe).toMatch(/Normal\s+ScalingReplicaSet\s+.*deployment-controller\s+Scaled (up|down) replica set web-/);
  }, 120_000);
});

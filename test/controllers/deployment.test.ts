/**
 * Deployments on the embedded store with simulated nodes: a Deployment of 10 becomes 10
 * available; a template change rolls out without ever going below replicas - maxUnavailable
 * available pods or above replicas + maxSurge pods (checked at every change); undo (the old
 * template again) returns to the previous ReplicaSet with a new revision; Recreate replaces all.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { typedList } from '../../shared/api/objects.js';
import { REVISION, TEMPLATE_HASH } from '../../shared/controllers/deployment.js';
import { isPodReady } from '../../shared/controllers/replicaset.js';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import type { KubeObject, Store } from '../../shared/store/types.js';
import { startSimCluster, until, type SimCluster } from '../support/sim-cluster.js';

let sim: SimCluster;
let store: Store;
const D = 'deployments.apps';

function deployment(
  name: string,
  image: string,
  replicas = 10,
  strategy: object = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: 1 } },
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy,
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image, resources: { requests: { cpu: '50m', memory: '32Mi' } } }] } },
    },
  };
}

const status = async (name: string) => (await store.get(D, 'default', name)).status as Record<string, number> | undefined;
const activePods = async (app: string) =>
  typedList('pods', (await store.list('pods', { namespace: 'default', labelSelector: `app=${app}` })).items).filter((p) => !p.metadata.deletionTimestamp);

async function create(d: KubeObject) {
  await sim.registry.create((await import('../../shared/api/resources.js')).findResource('apps', 'v1', 'deployments')!, 'default', d);
}

async function setImage(name: string, image: string) {
  await guaranteedUpdate(store, D, 'default', name, (d) => {
    const copy = structuredClone(d) as KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } };
    copy.spec.template.spec.containers[0].image = image;
    return copy;
  });
}

const rolledOut = (name: string, replicas: number) =>
  until(`${name} rolled out`, async () => {
    const d = await store.get(D, 'default', name);
    const s = (d.status ?? {}) as Record<string, number>;
    return s.observedGeneration === d.metadata.generation && s.updatedReplicas === replicas && s.availableReplicas === replicas && s.replicas === replicas && d;
  });

beforeEach(async () => {
  sim = await startSimCluster({ nodes: 3 });
  ({ store } = sim);
});
afterEach(() => sim.stop());

describe('Deployment', () => {
  it('a Deployment of 10 reaches 10 available, with Available and Progressing conditions', async () => {
    await create(deployment('web', 'nginx:1.25'));
    const d = await rolledOut('web', 10);
    expect(d.metadata.annotations?.[REVISION]).toBe('1');
    const conditions = (d.status as { conditions: { type: string; status: string; reason: string }[] }).conditions;
    expect(conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }),
        expect.objectContaining({ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }),
      ]),
    );
    const rs = (await store.list('replicasets.apps', { namespace: 'default' })).items;
    expect(rs).toHaveLength(1);
    expect(rs[0].metadata.name).toBe(`web-${rs[0].metadata.labels?.[TEMPLATE_HASH]}`);
  });

  it('a template change rolls out within maxSurge and maxUnavailable at every change, and undo returns the old template', async () => {
    await create(deployment('roll', 'app:v1'));
    await rolledOut('roll', 10);
    const violations: string[] = [];
    let checks = 0;
    const watcher = store.subscribe(async () => {
      const pods = await activePods('roll');
      const ready = pods.filter(isPodReady).length;
      checks++;
      if (pods.length > 12) violations.push(`${pods.length} pods (max 12)`);
      if (ready < 9) violations.push(`${ready} available (min 9)`);
    });
    try {
      await setImage('roll', 'app:v2');
      await rolledOut('roll', 10);
      const images = new Set((await activePods('roll')).map((p) => p.spec.containers[0].image));
      expect(images).toEqual(new Set(['app:v2']));
      expect((await store.get(D, 'default', 'roll')).metadata.annotations?.[REVISION]).toBe('2');

      // kubectl rollout undo: the previous template again; its ReplicaSet comes back as revision 3.
      await setImage('roll', 'app:v1');
      await rolledOut('roll', 10);
    } finally {
      watcher.close();
    }
    expect(violations).toEqual([]);
    expect(checks).toBeGreaterThan(20);
    const sets = (await store.list('replicasets.apps', { namespace: 'default' })).items;
    expect(sets).toHaveLength(2);
    const current = sets.find((rs) => (rs.spec as { replicas: number }).replicas === 10)!;
    expect(current.metadata.annotations?.[REVISION]).toBe('3');
    expect((current.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0].image).toBe('app:v1');
  }, 60_000);

  it('Recreate stops every old pod before starting new ones', async () => {
    await create(deployment('rec', 'app:v1', 4, { type: 'Recreate' }));
    await rolledOut('rec', 4);
    let mixed = false;
    const watcher = store.subscribe(async () => {
      const images = new Set((await activePods('rec')).map((p) => p.spec.containers[0].image));
      if (images.size > 1) mixed = true;
    });
    try {
      await setImage('rec', 'app:v2');
      await rolledOut('rec', 4);
    } finally {
      watcher.close();
    }
    expect(mixed).toBe(false);
  }, 30_000);

  it('scaling a Deployment scales its ReplicaSet', async () => {
    await create(deployment('scale', 'app:v1', 3));
    await rolledOut('scale', 3);
    await guaranteedUpdate(store, D, 'default', 'scale', (d) => ({ ...d, spec: { ...(d.spec as object), replicas: 6 } }));
    await rolledOut('scale', 6);
    expect((await status('scale'))?.readyReplicas).toBe(6);
  });

  it('minReadySeconds: pods count as available only after being Ready that long', async () => {
    const d = deployment('slow', 'app:v1', 4);
    (d.spec as Record<string, unknown>).minReadySeconds = 2;
    const started = Date.now();
    await create(d);
    const ready = await until('4 ready', async () => {
      const s = await status('slow');
      return s?.readyReplicas === 4 && s;
    });
    if (Date.now() - started < 1500) {
      expect(ready.availableReplicas).toBeLessThan(4);
      const available = (await store.get(D, 'default', 'slow')).status as { conditions: { type: string; status: string }[] };
      expect(available.conditions.find((c) => c.type === 'Available')?.status).toBe('False');
    }
    await rolledOut('slow', 4);
    // Condition times have Kubernetes' one-second resolution, so up to 1 s of the wait can be lost.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const rs = (await store.list('replicasets.apps', { namespace: 'default', labelSelector: 'app=slow' })).items[0];
    expect((rs.status as { availableReplicas: number }).availableReplicas).toBe(4);
  });

  it('a paused Deployment half way through a rollout scales its ReplicaSets in proportion', async () => {
    await create(deployment('half', 'app:v1', 10, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } }));
    await rolledOut('half', 10);
    // The new template's pods fit no node, so the rollout stops at old 8 (10 - maxUnavailable)
    // and new 5 (10 + maxSurge - 8).
    await guaranteedUpdate(store, D, 'default', 'half', (d) => {
      const copy = structuredClone(d) as KubeObject & { spec: { template: { spec: Record<string, unknown> } } };
      copy.spec.template.spec.nodeSelector = { 'skiff.dev/nowhere': 'true' };
      return copy;
    });
    const sizes = async () => {
      const list = (await store.list('replicasets.apps', { namespace: 'default', labelSelector: 'app=half' })).items;
      const byRevision = list.sort((a, b) => Number(a.metadata.annotations?.[REVISION]) - Number(b.metadata.annotations?.[REVISION]));
      return byRevision.map((rs) => (rs.spec as { replicas: number }).replicas);
    };
    await until('old 8, new 5', async () => JSON.stringify(await sizes()) === '[8,5]');
    await guaranteedUpdate(store, D, 'default', 'half', (d) => ({ ...d, spec: { ...(d.spec as object), paused: true } }));
    await until('paused condition', async () => {
      const conditions = ((await store.get(D, 'default', 'half')).status as { conditions: { type: string; reason: string }[] }).conditions;
      return conditions.find((c) => c.type === 'Progressing')?.reason === 'DeploymentPaused';
    });
    await guaranteedUpdate(store, D, 'default', 'half', (d) => ({ ...d, spec: { ...(d.spec as object), replicas: 20 } }));
    // 20 + maxSurge 3 = 23 shared 8:5 -> 14 and 8, the remainder to the larger.
    await until('old 15, new 8', async () => JSON.stringify(await sizes()) === '[15,8]');
    await until(
      '15 running old pods',
      async () => (await activePods('half')).filter((p) => (p.status as { phase?: string })?.phase === 'Running').length === 15,
    );
    await guaranteedUpdate(store, D, 'default', 'half', (d) => ({ ...d, spec: { ...(d.spec as object), replicas: 5 } }));
    // Down: 5 + 3 = 8 shared 15:8 -> 5 and 2, the remainder to the larger.
    await until('old 6, new 2', async () => JSON.stringify(await sizes()) === '[6,2]');
  }, 30_000);
});

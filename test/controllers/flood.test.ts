/**
 * One request that asks for thousands of pods must not take the control plane down: the
 * ReplicaSet controller creates them in slow-start batches, and deleting them (through the
 * garbage collector, or one deletecollection) takes seconds, not minutes, while the API keeps
 * answering. (Before: 3,000 pods took 86 s to go after their ReplicaSet, and a deletecollection
 * 138 s.) The figures at 10,000 pods are bench/flood's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slowStart } from '../../shared/controllers/replicaset.js';
import { startControlledCluster, type ControlledCluster } from '../support/api-server.js';
import { until } from '../support/until.js';

const N = 3000;
let cluster: ControlledCluster;

beforeAll(async () => {
  cluster = await startControlledCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const podCount = async () => {
  const list = (await cluster.api('/api/v1/namespaces/default/pods?limit=1')).json();
  return list.items.length + (list.metadata.remainingItemCount ?? 0);
};

/** /healthz answers every 50 ms while `work` runs; resolves to the slowest answer in ms. */
async function slowestHealthz(work: Promise<unknown>): Promise<number> {
  let done = false;
  let slowest = 0;
  const probing = (async () => {
    while (!done) {
      const started = performance.now();
      expect((await cluster.api('/healthz')).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await work.finally(() => (done = true));
  await probing;
  return slowest;
}

describe('a flood of pods', () => {
  it('slow start: batches of 1, 2, 4, ... and a failing template costs one write', async () => {
    const sizes: number[] = [];
    let inBatch = 0;
    const created = await slowStart(20, async () => {
      inBatch++;
      await new Promise((r) => setImmediate(r));
      if (inBatch) sizes.push(inBatch);
      inBatch = 0;
    });
    expect(created).toBe(20);
    expect(sizes).toEqual([1, 2, 4, 8, 5]);
    let calls = 0;
    await expect(
      slowStart(500, async () => {
        calls++;
        throw new Error('quota exceeded');
      }),
    ).rejects.toThrow('quota exceeded');
    expect(calls).toBe(1);
  });

  it(`${N} pods of a ReplicaSet on a two-node cluster go within seconds of its deletion, the API answering throughout`, async () => {
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'flood' },
      spec: {
        replicas: N,
        selector: { matchLabels: { app: 'flood' } },
        template: { metadata: { labels: { app: 'flood' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
      },
    };
    const res = await cluster.api('/apis/apps/v1/namespaces/default/replicasets', {
      method: 'POST',
      body: JSON.stringify(rs),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(201);
    await until(`${N} pods`, async () => (await podCount()) >= N, 60_000);
    const started = Date.now();
    const slowest = await slowestHealthz(
      (async () => {
        expect((await cluster.api('/apis/apps/v1/namespaces/default/replicasets/flood', { method: 'DELETE' })).status).toBe(200);
        await until('all pods gone', async () => (await podCount()) === 0, 60_000);
      })(),
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(slowest).toBeLessThan(2_000);
  }, 120_000);

  it(`a deletecollection of ${N} pods answers within seconds`, async () => {
    for (let i = 0; i < N; i += 250) {
      await Promise.all(
        Array.from({ length: Math.min(250, N - i) }, (_, j) =>
          cluster.api('/api/v1/namespaces/default/pods', {
            method: 'POST',
            body: JSON.stringify({
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: `bare-${i + j}` },
              spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] },
            }),
            headers: { 'content-type': 'application/json' },
          }),
        ),
      );
    }
    expect(await podCount()).toBe(N);
    const started = Date.now();
    const slowest = await slowestHealthz(
      (async () => {
        const res = await cluster.api('/api/v1/namespaces/default/pods', { method: 'DELETE' });
        expect(res.status).toBe(200);
        expect(res.json().items).toHaveLength(N);
      })(),
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(slowest).toBeLessThan(2_000);
    await until('all pods gone', async () => (await podCount()) === 0, 30_000);
  }, 120_000);
});

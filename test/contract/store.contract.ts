/**
 * The one contract suite of the `Store` port. Each driver's test file calls `storeContract`
 * with a factory that returns a fresh, empty store; every promise written on `types.ts` is a
 * case here. A driver that cannot pass a case names it in `skip`, with the reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { isStoreError } from '../../shared/store/errors.js';
import type { ChangeEvent, KubeObject, Store, WatchEvent } from '../../shared/store/types.js';

export interface StoreUnderTest {
  store: Store;
  cleanup: () => Promise<void>;
}

export interface StoreContractOptions {
  /** Case name -> why this driver cannot pass it. */
  skip?: Record<string, string>;
}

const PODS = 'pods';
const CMS = 'configmaps';

function pod(name: string, extra: { ns?: string; labels?: Record<string, string>; node?: string; phase?: string; finalizers?: string[] } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: extra.ns ?? 'default', labels: extra.labels, finalizers: extra.finalizers },
    spec: { nodeName: extra.node, containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase: extra.phase ?? 'Pending' },
  };
}

function counter(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { count: '0' } };
}

/** Collects a watch's events until `count` change events (bookmarks excluded) have arrived. */
async function take(iterator: AsyncIterator<WatchEvent>, count: number, timeoutMs = 10_000): Promise<ChangeEvent[]> {
  const out: ChangeEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out with ${out.length} of ${count} events`);
    let timer: NodeJS.Timeout | undefined;
    const step = await Promise.race([iterator.next(), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), remaining)))]);
    clearTimeout(timer);
    if (step === 'timeout') throw new Error(`timed out with ${out.length} of ${count} events`);
    if (step.done) throw new Error(`watch ended after ${out.length} of ${count} events`);
    if (step.value.type !== 'BOOKMARK') out.push(step.value);
  }
  return out;
}

const summary = (events: ChangeEvent[]) => events.map((e) => `${e.type}:${e.object.metadata.name}@${e.revision}`);

async function expectStoreError(promise: Promise<unknown>, code: string): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a ${code} error`).toBeDefined();
  expect(isStoreError(err) && err.code, String(err)).toBe(code);
  return err as Error;
}

export function storeContract(name: string, makeStore: () => Promise<StoreUnderTest>, options: StoreContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    let current: StoreUnderTest | undefined;
    const watches: AbortController[] = [];
    const open = async () => (current = await makeStore()).store;
    const watchOf = (store: Store, resource: string, opts: Omit<Parameters<Store['watch']>[1], 'signal'>) => {
      const abort = new AbortController();
      watches.push(abort);
      return store.watch(resource, { ...opts, signal: abort.signal });
    };
    afterEach(async () => {
      for (const w of watches.splice(0)) w.abort();
      await current?.cleanup();
      current = undefined;
    });
    const caseIt = (title: string, fn: () => Promise<void>, timeout?: number) => {
      const reason = options.skip?.[title];
      if (reason) it.skip(`${title} (skipped for ${name}: ${reason})`, fn);
      else it(title, fn, timeout);
    };

    describe('create and get', () => {
      caseIt('create sets uid, creationTimestamp, generation 1 and the revision as resourceVersion', async () => {
        const store = await open();
        const before = await store.currentRevision();
        const created = await store.create(PODS, pod('a'));
        expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
        expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(created.metadata.generation).toBe(1);
        expect(created.metadata.resourceVersion).toBe(String(before + 1));
        expect(await store.currentRevision()).toBe(before + 1);
        expect(await store.get(PODS, 'default', 'a')).toEqual(created);
      });

      caseIt('every write takes the next revision, cluster-wide across resources', async () => {
        const store = await open();
        const r0 = await store.currentRevision();
        const a = await store.create(PODS, pod('a'));
        const b = await store.create(CMS, counter('b'));
        const c = await store.create(PODS, pod('c', { ns: 'other' }));
        expect([a, b, c].map((o) => Number(o.metadata.resourceVersion))).toEqual([r0 + 1, r0 + 2, r0 + 3]);
      });

      caseIt('create of an existing key fails with AlreadyExists and changes nothing', async () => {
        const store = await open();
        const first = await store.create(PODS, pod('a'));
        const rev = await store.currentRevision();
        await expectStoreError(store.create(PODS, pod('a', { labels: { x: 'y' } })), 'AlreadyExists');
        expect(await store.get(PODS, 'default', 'a')).toEqual(first);
        expect(await store.currentRevision()).toBe(rev);
      });

      caseIt('the same name in another namespace or resource is another key', async () => {
        const store = await open();
        await store.create(PODS, pod('a'));
        await store.create(PODS, pod('a', { ns: 'other' }));
        await store.create(CMS, { ...counter('a') });
        expect((await store.get(PODS, 'other', 'a')).metadata.namespace).toBe('other');
      });

      caseIt('concurrent creates of one key: exactly one wins', async () => {
        const store = await open();
        const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.create(PODS, pod('race'))));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(isStoreError(r.reason, 'AlreadyExists')).toBe(true);
      });

      caseIt('generateName gives a unique name with a random suffix', async () => {
        const store = await open();
        const a = await store.create(PODS, { ...pod(''), metadata: { generateName: 'web-', namespace: 'default' } });
        const b = await store.create(PODS, { ...pod(''), metadata: { generateName: 'web-', namespace: 'default' } });
        expect(a.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
        expect(b.metadata.name).not.toBe(a.metadata.name);
      });

      caseIt('changing an object the store handed out does not change the store', async () => {
        const store = await open();
        const created = await store.create(PODS, pod('a', { labels: { app: 'web' } }));
        const got = await store.get(PODS, 'default', 'a');
        const listed = (await store.list(PODS)).items[0];
        for (const object of [created, got, listed]) {
          try {
            object.metadata.labels!.app = 'changed';
            (object.spec as Record<string, unknown>).nodeName = 'sneaky';
          } catch {
            // Drivers may hand out frozen objects; then the attempt throws, which is fine.
          }
        }
        const again = await store.get(PODS, 'default', 'a');
        expect(again.metadata.labels).toEqual({ app: 'web' });
        expect((again.spec as Record<string, unknown>).nodeName).toBeUndefined();
      });

      caseIt('get of a missing key fails with NotFound', async () => {
        const store = await open();
        await expectStoreError(store.get(PODS, 'default', 'missing'), 'NotFound');
      });

      caseIt('cluster-scoped objects use the empty namespace', async () => {
        const store = await open();
        await store.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
        expect((await store.get('nodes', '', 'n1')).metadata.name).toBe('n1');
        expect((await store.list('nodes')).items).toHaveLength(1);
      });

      caseIt('an object over the size limit is refused with an error naming the limit', async () => {
        const store = await open();
        const big = pod('big');
        big.metadata.annotations = { blob: 'x'.repeat(store.maxObjectBytes + 1) };
        const err = await expectStoreError(store.create(PODS, big), 'TooLarge');
        expect(err.message).toContain(String(store.maxObjectBytes));
        await expectStoreError(store.get(PODS, 'default', 'big'), 'NotFound');
        const small = await store.create(PODS, pod('small'));
        await expectStoreError(
          store.update(PODS, { ...small, metadata: { ...small.metadata, annotations: { blob: 'x'.repeat(store.maxObjectBytes + 1) } } }),
          'TooLarge',
        );
        expect(await store.get(PODS, 'default', 'small')).toEqual(small);
      });
    });

    describe('update and compare-and-swap', () => {
      caseIt('update with the current resourceVersion wins; with a stale one fails with Conflict', async () => {
        const store = await open();
        const v1 = await store.create(PODS, pod('a'));
        const v2 = await store.update(PODS, { ...v1, metadata: { ...v1.metadata, labels: { v: '2' } } });
        expect(Number(v2.metadata.resourceVersion)).toBeGreaterThan(Number(v1.metadata.resourceVersion));
        await expectStoreError(store.update(PODS, { ...v1, metadata: { ...v1.metadata, labels: { v: 'stale' } } }), 'Conflict');
        expect((await store.get(PODS, 'default', 'a')).metadata.labels).toEqual({ v: '2' });
      });

      caseIt('update without a resourceVersion is unconditional', async () => {
        const store = await open();
        const v1 = await store.create(PODS, pod('a'));
        await store.update(PODS, { ...v1, metadata: { ...v1.metadata, labels: { v: '2' } } });
        const v3 = await store.update(PODS, { ...v1, metadata: { ...v1.metadata, resourceVersion: undefined, labels: { v: '3' } } });
        expect(v3.metadata.labels).toEqual({ v: '3' });
      });

      caseIt('a uid precondition that does not hold fails with Conflict', async () => {
        const store = await open();
        const v1 = await store.create(PODS, pod('a'));
        await expectStoreError(store.update(PODS, v1, { preconditions: { uid: 'someone-else' } }), 'Conflict');
        await expectStoreError(store.delete(PODS, 'default', 'a', { preconditions: { uid: 'someone-else' } }), 'Conflict');
        await expectStoreError(store.delete(PODS, 'default', 'a', { preconditions: { resourceVersion: `1${v1.metadata.resourceVersion}` } }), 'Conflict');
        expect(await store.get(PODS, 'default', 'a')).toEqual(v1);
      });

      caseIt('update of a missing key fails with NotFound', async () => {
        const store = await open();
        await expectStoreError(store.update(PODS, pod('ghost')), 'NotFound');
      });

      caseIt('generation grows only when spec changes; uid and creationTimestamp are kept', async () => {
        const store = await open();
        const v1 = await store.create(PODS, pod('a'));
        const labelled = await store.update(PODS, { ...v1, metadata: { ...v1.metadata, labels: { a: 'b' } }, status: { phase: 'Running' } });
        expect(labelled.metadata.generation).toBe(1);
        const respec = await store.update(PODS, { ...labelled, spec: { ...(labelled.spec as object), nodeName: 'n1' } });
        expect(respec.metadata.generation).toBe(2);
        const forged = await store.update(PODS, {
          ...respec,
          metadata: { ...respec.metadata, uid: 'forged', creationTimestamp: '2000-01-01T00:00:00Z', generation: 99 },
        });
        expect(forged.metadata.uid).toBe(v1.metadata.uid);
        expect(forged.metadata.creationTimestamp).toBe(v1.metadata.creationTimestamp);
        expect(forged.metadata.generation).toBe(2);
      });

      caseIt('an update that changes nothing writes nothing', async () => {
        const store = await open();
        const v1 = await store.create(PODS, pod('a'));
        const rev = await store.currentRevision();
        const same = await store.update(PODS, structuredClone(v1));
        expect(same.metadata.resourceVersion).toBe(v1.metadata.resourceVersion);
        expect(await store.currentRevision()).toBe(rev);
      });

      caseIt(
        '50 concurrent read-modify-write writers on one object end at the exact count',
        async () => {
          const store = await open();
          await store.create(CMS, counter('n'));
          const increments = 4;
          await Promise.all(
            Array.from({ length: 50 }, async () => {
              for (let i = 0; i < increments; i++) {
                await guaranteedUpdate(store, CMS, 'default', 'n', (cm) => {
                  const data = cm.data as Record<string, string>;
                  return { ...cm, data: { count: String(Number(data.count) + 1) } };
                });
              }
            }),
          );
          const final = await store.get(CMS, 'default', 'n');
          expect((final.data as Record<string, string>).count).toBe(String(50 * increments));
        },
        120_000,
      );
    });

    describe('delete and finalizers', () => {
      caseIt('delete removes the object and logs DELETED with its last state', async () => {
        const store = await open();
        const created = await store.create(PODS, pod('a'));
        const watch = watchOf(store, PODS, { fromRevision: Number(created.metadata.resourceVersion) });
        const result = await store.delete(PODS, 'default', 'a');
        expect(result.deleted).toBe(true);
        expect(result.object.metadata.uid).toBe(created.metadata.uid);
        await expectStoreError(store.get(PODS, 'default', 'a'), 'NotFound');
        const [event] = await take(watch, 1);
        expect(event.type).toBe('DELETED');
        expect(event.object.metadata.uid).toBe(created.metadata.uid);
        expect(event.revision).toBe(await store.currentRevision());
        await expectStoreError(store.delete(PODS, 'default', 'a'), 'NotFound');
      });

      caseIt('finalizers hold a deleted object until the last one is removed', async () => {
        const store = await open();
        const created = await store.create(PODS, pod('a', { finalizers: ['x/one', 'x/two'] }));
        const watch = watchOf(store, PODS, { fromRevision: Number(created.metadata.resourceVersion) });
        const marked = await store.delete(PODS, 'default', 'a');
        expect(marked.deleted).toBe(false);
        expect(marked.object.metadata.deletionTimestamp).toBeTruthy();
        const again = await store.delete(PODS, 'default', 'a');
        expect(again.deleted).toBe(false);
        expect(again.object.metadata.resourceVersion).toBe(marked.object.metadata.resourceVersion);
        const held = await store.get(PODS, 'default', 'a');
        const one = await store.update(PODS, { ...held, metadata: { ...held.metadata, finalizers: ['x/two'] } });
        expect(one.metadata.deletionTimestamp).toBe(marked.object.metadata.deletionTimestamp);
        // A writer cannot take the deletionTimestamp away.
        const kept = await store.update(PODS, { ...one, metadata: { ...one.metadata, deletionTimestamp: undefined, labels: { k: 'v' } } });
        expect(kept.metadata.deletionTimestamp).toBe(marked.object.metadata.deletionTimestamp);
        const last = await store.update(PODS, { ...kept, metadata: { ...kept.metadata, finalizers: [] } });
        expect(last.metadata.finalizers).toEqual([]);
        await expectStoreError(store.get(PODS, 'default', 'a'), 'NotFound');
        const events = await take(watch, 4);
        expect(events.map((e) => e.type)).toEqual(['MODIFIED', 'MODIFIED', 'MODIFIED', 'DELETED']);
      });

      caseIt('a deletion with a grace period keeps the object until the grace period is set to 0', async () => {
        const store = await open();
        const created = await store.create(PODS, pod('graceful', { node: 'n1' }));
        const marked = await store.update(PODS, {
          ...created,
          metadata: { ...created.metadata, deletionTimestamp: '2030-01-01T00:00:00Z', deletionGracePeriodSeconds: 30 },
        });
        expect(marked.metadata.deletionGracePeriodSeconds).toBe(30);
        expect((await store.get(PODS, 'default', 'graceful')).metadata.deletionTimestamp).toBe('2030-01-01T00:00:00Z');
        await store.update(PODS, { ...marked, metadata: { ...marked.metadata, deletionGracePeriodSeconds: 0 } });
        await expectStoreError(store.get(PODS, 'default', 'graceful'), 'NotFound');
      });

      caseIt('an update that sets deletionTimestamp on an object without finalizers deletes it', async () => {
        const store = await open();
        const created = await store.create(PODS, pod('a'));
        await store.update(PODS, { ...created, metadata: { ...created.metadata, deletionTimestamp: '2030-01-01T00:00:00Z' } });
        await expectStoreError(store.get(PODS, 'default', 'a'), 'NotFound');
      });
    });

    describe('list', () => {
      async function seed(store: Store) {
        await store.create(PODS, pod('web-1', { labels: { app: 'web', tier: 'front', track: 'stable' }, node: 'n1', phase: 'Running' }));
        await store.create(PODS, pod('web-2', { labels: { app: 'web', tier: 'front' }, node: 'n2', phase: 'Running' }));
        await store.create(PODS, pod('db-1', { labels: { app: 'db', tier: 'back', rank: '3' }, node: 'n1', phase: 'Pending' }));
        await store.create(PODS, pod('job-1', { labels: { app: 'job' }, phase: 'Succeeded' }));
        await store.create(PODS, pod('web-x', { ns: 'other', labels: { app: 'web' }, node: 'n2', phase: 'Failed' }));
      }
      const names = (items: KubeObject[]) => items.map((i) => i.metadata.name).sort();

      caseIt('lists one namespace or all, in key order, with the revision it read at', async () => {
        const store = await open();
        await seed(store);
        const all = await store.list(PODS);
        expect(all.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`)).toEqual([
          'default/db-1',
          'default/job-1',
          'default/web-1',
          'default/web-2',
          'other/web-x',
        ]);
        expect(all.revision).toBe(await store.currentRevision());
        expect(names((await store.list(PODS, { namespace: 'other' })).items)).toEqual(['web-x']);
        expect((await store.list(PODS, { namespace: 'empty' })).items).toEqual([]);
      });

      caseIt('label selectors: =, ==, !=, in, notin, exists, !exists, gt', async () => {
        const store = await open();
        await seed(store);
        const sel = async (labelSelector: string) => names((await store.list(PODS, { namespace: 'default', labelSelector })).items);
        expect(await sel('app=web')).toEqual(['web-1', 'web-2']);
        expect(await sel('app==db')).toEqual(['db-1']);
        expect(await sel('app!=web')).toEqual(['db-1', 'job-1']);
        expect(await sel('app in (db,job)')).toEqual(['db-1', 'job-1']);
        expect(await sel('app notin (web,db)')).toEqual(['job-1']);
        expect(await sel('tier')).toEqual(['db-1', 'web-1', 'web-2']);
        expect(await sel('!tier')).toEqual(['job-1']);
        expect(await sel('app=web,!track')).toEqual(['web-2']);
        expect(await sel('rank>2')).toEqual(['db-1']);
        expect(await sel('')).toEqual(['db-1', 'job-1', 'web-1', 'web-2']);
        await expectStoreError(store.list(PODS, { labelSelector: 'app in (' }), 'Invalid');
      });

      caseIt('field selectors: metadata.name, metadata.namespace, spec.nodeName, status.phase, with != and combined', async () => {
        const store = await open();
        await seed(store);
        const sel = async (fieldSelector: string) => names((await store.list(PODS, { fieldSelector })).items);
        expect(await sel('metadata.name=web-1')).toEqual(['web-1']);
        expect(await sel('metadata.namespace=other')).toEqual(['web-x']);
        expect(await sel('spec.nodeName=n1')).toEqual(['db-1', 'web-1']);
        expect(await sel('spec.nodeName=')).toEqual(['job-1']);
        expect(await sel('status.phase!=Succeeded,status.phase!=Failed')).toEqual(['db-1', 'web-1', 'web-2']);
        expect(names((await store.list(PODS, { fieldSelector: 'spec.nodeName=n2', labelSelector: 'app=web', namespace: 'default' })).items)).toEqual(['web-2']);
        // Binding a pod moves it between the node's list and the unbound one (an indexed field).
        const job = await store.get(PODS, 'default', 'job-1');
        await store.update(PODS, { ...job, spec: { ...(job.spec as object), nodeName: 'n3' } });
        expect(await sel('spec.nodeName=')).toEqual([]);
        expect(await sel('spec.nodeName=n3')).toEqual(['job-1']);
        await store.delete(PODS, 'default', 'job-1');
        expect(await sel('spec.nodeName=n3')).toEqual([]);
      });

      caseIt('label selector lists follow relabelling, deletion and recreation', async () => {
        const store = await open();
        const a = await store.create(PODS, pod('a', { labels: { app: 'web', tier: 'front' } }));
        await store.create(PODS, pod('b', { labels: { app: 'web' } }));
        await store.update(PODS, { ...a, metadata: { ...a.metadata, labels: { app: 'db' } } });
        expect(names((await store.list(PODS, { labelSelector: 'app=web' })).items)).toEqual(['b']);
        expect(names((await store.list(PODS, { labelSelector: 'app=db' })).items)).toEqual(['a']);
        expect(names((await store.list(PODS, { labelSelector: 'tier=front' })).items)).toEqual([]);
        await store.delete(PODS, 'default', 'b');
        expect(names((await store.list(PODS, { labelSelector: 'app=web' })).items)).toEqual([]);
        await store.create(PODS, pod('b', { labels: { app: 'web' } }));
        expect(names((await store.list(PODS, { labelSelector: 'app=web,app!=db' })).items)).toEqual(['b']);
      });

      caseIt('limit and continue page through a list consistent at the first page revision, while writes go on', async () => {
        const store = await open();
        for (let i = 0; i < 10; i++) await store.create(PODS, pod(`p${i}`, { labels: { n: String(i) } }));
        const first = await store.list(PODS, { namespace: 'default', limit: 4 });
        expect(first.items.map((i) => i.metadata.name)).toEqual(['p0', 'p1', 'p2', 'p3']);
        expect(first.continue).toBeTruthy();
        // Writes between pages must not show in later pages.
        await store.delete(PODS, 'default', 'p5');
        const p6 = await store.get(PODS, 'default', 'p6');
        await store.update(PODS, { ...p6, metadata: { ...p6.metadata, labels: { n: 'changed' } } });
        await store.create(PODS, pod('p45'));
        const second = await store.list(PODS, { namespace: 'default', limit: 4, continue: first.continue });
        expect(second.revision).toBe(first.revision);
        expect(second.items.map((i) => i.metadata.name)).toEqual(['p4', 'p5', 'p6', 'p7']);
        expect(second.items[2].metadata.labels).toEqual({ n: '6' });
        const third = await store.list(PODS, { namespace: 'default', limit: 4, continue: second.continue });
        expect(third.items.map((i) => i.metadata.name)).toEqual(['p8', 'p9']);
        expect(third.continue).toBeUndefined();
      });

      caseIt('paging with a selector returns only matches and stops when none remain', async () => {
        const store = await open();
        for (let i = 0; i < 12; i++) await store.create(PODS, pod(`p${String(i).padStart(2, '0')}`, { labels: { even: String(i % 2 === 0) } }));
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await store.list(PODS, { labelSelector: 'even=true', limit: 2, continue: token });
          seen.push(...page.items.map((i) => i.metadata.name!));
          token = page.continue;
          pages++;
        } while (token && pages < 20);
        expect(seen).toEqual(['p00', 'p02', 'p04', 'p06', 'p08', 'p10']);
        expect(pages).toBe(3);
      });

      caseIt('a continue token that is not one fails with Invalid', async () => {
        const store = await open();
        await expectStoreError(store.list(PODS, { continue: 'garbage!' }), 'Invalid');
      });
    });

    describe('watch', () => {
      caseIt('a watch from a list revision sees exactly the changes after it, while writers keep writing', async () => {
        const store = await open();
        for (let i = 0; i < 20; i++) await store.create(PODS, pod(`pre-${i}`));
        const writers = Promise.all(
          Array.from({ length: 4 }, async (_, w) => {
            for (let i = 0; i < 25; i++) await store.create(PODS, pod(`w${w}-${i}`));
          }),
        );
        await new Promise((r) => setTimeout(r, 5));
        const listed = await store.list(PODS);
        const watch = watchOf(store, PODS, { fromRevision: listed.revision });
        await writers;
        const end = await store.currentRevision();
        const expected = 20 + 100 - listed.items.length;
        const events = expected > 0 ? await take(watch, expected) : [];
        const listedNames = new Set(listed.items.map((i) => i.metadata.name));
        const eventNames = events.map((e) => e.object.metadata.name!);
        // No gap, no duplicate: every object is either in the list or in exactly one event.
        expect(new Set(eventNames).size).toBe(eventNames.length);
        for (const n of eventNames) expect(listedNames.has(n)).toBe(false);
        expect(listedNames.size + eventNames.length).toBe(120);
        expect(events.map((e) => e.revision)).toEqual([...events.map((e) => e.revision)].sort((a, b) => a - b));
        if (events.length) expect(events[events.length - 1].revision).toBe(end);
      });

      caseIt('events carry the object and the previous object', async () => {
        const store = await open();
        const start = await store.currentRevision();
        const watch = watchOf(store, PODS, { fromRevision: start });
        const v1 = await store.create(PODS, pod('a'));
        const v2 = await store.update(PODS, { ...v1, status: { phase: 'Running' } });
        const [added, modified] = await take(watch, 2);
        expect(added).toMatchObject({ type: 'ADDED', resource: PODS, revision: Number(v1.metadata.resourceVersion) });
        expect(added.object).toEqual(v1);
        expect(modified.object).toEqual(v2);
        expect(modified.prevObject).toEqual(v1);
      });

      caseIt('a watch only sees its resource and namespace', async () => {
        const store = await open();
        const start = await store.currentRevision();
        const watch = watchOf(store, PODS, { fromRevision: start, namespace: 'default' });
        await store.create(CMS, counter('cm'));
        await store.create(PODS, pod('elsewhere', { ns: 'other' }));
        await store.create(PODS, pod('here'));
        const [event] = await take(watch, 1);
        expect(event.object.metadata.name).toBe('here');
      });

      caseIt('with a selector, an object entering is ADDED and one leaving is DELETED', async () => {
        const store = await open();
        const v1 = await store.create(PODS, pod('a', { labels: { app: 'other' } }));
        const watch = watchOf(store, PODS, { fromRevision: Number(v1.metadata.resourceVersion), labelSelector: 'app=web' });
        const v2 = await store.update(PODS, { ...v1, metadata: { ...v1.metadata, labels: { app: 'web' } } });
        const v3 = await store.update(PODS, { ...v2, status: { phase: 'Running' } });
        const v4 = await store.update(PODS, { ...v3, metadata: { ...v3.metadata, labels: { app: 'gone' } } });
        const fieldWatch = watchOf(store, PODS, { fromRevision: Number(v1.metadata.resourceVersion), fieldSelector: 'status.phase=Running' });
        const events = await take(watch, 3);
        expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
        // The leaving object is shown as it was when it last matched, at the change's revision.
        expect(events[2].object.metadata.labels).toEqual({ app: 'web' });
        expect(events[2].object.metadata.resourceVersion).toBe(v4.metadata.resourceVersion);
        const fieldEvents = await take(fieldWatch, 1);
        expect(fieldEvents[0]).toMatchObject({ type: 'ADDED' });
        expect(fieldEvents[0].object.metadata.resourceVersion).toBe(v3.metadata.resourceVersion);
      });

      caseIt(
        '20 watchers see identical event sequences',
        async () => {
          const store = await open();
          const start = await store.currentRevision();
          const iterators = Array.from({ length: 20 }, () => watchOf(store, CMS, { fromRevision: start }));
          await store.create(CMS, counter('n'));
          await Promise.all(
            Array.from({ length: 5 }, async () => {
              for (let i = 0; i < 6; i++) {
                await guaranteedUpdate(store, CMS, 'default', 'n', (cm) => ({
                  ...cm,
                  data: { count: String(Number((cm.data as Record<string, string>).count) + 1) },
                }));
              }
            }),
          );
          await store.delete(CMS, 'default', 'n');
          const sequences = await Promise.all(iterators.map((it) => take(it, 32)));
          const reference = summary(sequences[0]);
          expect(reference[0]).toMatch(/^ADDED:n@/);
          expect(reference[31]).toMatch(/^DELETED:n@/);
          for (const seq of sequences) expect(summary(seq)).toEqual(reference);
        },
        60_000,
      );

      caseIt('a watch that starts in the past replays the log, then follows live', async () => {
        const store = await open();
        const start = await store.currentRevision();
        for (let i = 0; i < 30; i++) await store.create(PODS, pod(`p${i}`));
        const watch = watchOf(store, PODS, { fromRevision: start + 10 });
        const replayed = await take(watch, 20);
        expect(replayed[0].revision).toBe(start + 11);
        await store.create(PODS, pod('live'));
        const [live] = await take(watch, 1);
        expect(live.object.metadata.name).toBe('live');
      });

      caseIt('after compaction a watch from before it fails with Gone; from after it works', async () => {
        const store = await open();
        for (let i = 0; i < 10; i++) await store.create(PODS, pod(`p${i}`));
        const head = await store.currentRevision();
        await store.compact(head - 3);
        expect(await store.compactedRevision()).toBe(head - 3);
        await expectStoreError(store.watch(PODS, { fromRevision: head - 5 }).next(), 'Gone');
        const ok = watchOf(store, PODS, { fromRevision: head - 3 });
        expect((await take(ok, 3)).map((e) => e.revision)).toEqual([head - 2, head - 1, head]);
        // Objects themselves are not compacted away.
        expect((await store.list(PODS)).items).toHaveLength(10);
      });

      caseIt('a change kept after compaction still carries the state before it', async () => {
        const store = await open();
        await store.create(PODS, pod('x'));
        const v2 = await store.update(PODS, {
          ...(await store.get(PODS, 'default', 'x')),
          metadata: { ...(await store.get(PODS, 'default', 'x')).metadata, labels: { step: 'two' } },
        });
        const v3 = await store.update(PODS, { ...v2, metadata: { ...v2.metadata, labels: { step: 'three' } } });
        await store.compact(Number(v2.metadata.resourceVersion));
        const [change] = await take(watchOf(store, PODS, { fromRevision: Number(v2.metadata.resourceVersion) }), 1);
        expect(change.object).toEqual(v3);
        expect(change.prevObject).toEqual(v2);
      });

      caseIt('a paged list whose revision was compacted fails with Gone', async () => {
        const store = await open();
        for (let i = 0; i < 6; i++) await store.create(PODS, pod(`p${i}`));
        const page = await store.list(PODS, { limit: 2 });
        await store.create(PODS, pod('later'));
        await store.compact(await store.currentRevision());
        await expectStoreError(store.list(PODS, { limit: 2, continue: page.continue }), 'Gone');
      });

      caseIt('an idle watch sends bookmarks with a revision covering what it delivered', async () => {
        const store = await open();
        const start = await store.currentRevision();
        const watch = watchOf(store, PODS, { fromRevision: start, bookmarkIntervalMs: 50 });
        const created = await store.create(PODS, pod('a'));
        await store.create(CMS, counter('other-resource'));
        const seen: WatchEvent[] = [];
        while (!seen.some((e) => e.type === 'BOOKMARK')) seen.push((await watch.next()).value as WatchEvent);
        const bookmark = seen.find((e) => e.type === 'BOOKMARK')!;
        expect(seen[0]).toMatchObject({ type: 'ADDED' });
        expect(bookmark.revision).toBeGreaterThanOrEqual(Number(created.metadata.resourceVersion));
      });

      caseIt('a watch on a busy store still gets its bookmarks at the interval', async () => {
        const store = await open();
        const watch = watchOf(store, PODS, { fromRevision: await store.currentRevision(), bookmarkIntervalMs: 100 });
        // Other resources change every 20 ms for 600 ms, and the watched one too.
        let busy = true;
        const writer = (async () => {
          for (let i = 0; busy; i++) {
            await store.create(CMS, counter(`busy-${i}`));
            if (i % 5 === 0) await store.create(PODS, pod(`busy-${i}`));
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        const started = Date.now();
        let bookmarks = 0;
        while (Date.now() - started < 600) if (((await watch.next()).value as WatchEvent).type === 'BOOKMARK') bookmarks++;
        busy = false;
        await writer;
        expect(bookmarks).toBeGreaterThanOrEqual(3);
      });
    });

    describe('data at rest', () => {
      /** Every logged change of configmaps from the start: up to a marker written last, left out. */
      const history = async (store: Store) => {
        await store.create(CMS, counter('zz-marker'));
        const events: ChangeEvent[] = [];
        for await (const e of watchOf(store, CMS, { fromRevision: 0 })) {
          if (e.type === 'BOOKMARK') continue;
          if (e.object.metadata.name === 'zz-marker') break;
          events.push(e);
        }
        await store.delete(CMS, 'default', 'zz-marker');
        return events;
      };
      const countOf = (o: KubeObject | undefined) => (o as { data?: { count?: string } } | undefined)?.data?.count;

      caseIt("rewriteHistory rewrites the logged states of one resource, not the current objects nor other resources'", async () => {
        const store = await open();
        const first = await store.create(CMS, counter('a'));
        await store.update(CMS, { ...first, data: { count: '1' } });
        await store.create(PODS, pod('p'));
        const changed = await store.rewriteHistory!(CMS, async (o) => ({ ...o, data: { count: `sealed-${countOf(o)}` } }));
        expect(changed).toBe(2);
        const events = await history(store);
        expect(events.map((e) => [e.type, countOf(e.object), countOf(e.prevObject)])).toEqual([
          ['ADDED', 'sealed-0', undefined],
          ['MODIFIED', 'sealed-1', 'sealed-0'],
        ]);
        expect(countOf(await store.get(CMS, 'default', 'a'))).toBe('1');
        const pods = await take(watchOf(store, PODS, { fromRevision: 0 }), 1);
        expect(pods.map((e) => [e.object.metadata.name, e.object.spec])).toEqual([['p', pod('p').spec]]);
        expect(await store.rewriteHistory!(CMS, async () => undefined)).toBe(0);
      });

      caseIt('forgetHistory leaves in the log of a deleted object its comings and goings, with its metadata alone', async () => {
        const store = await open();
        const gone = await store.create(CMS, counter('gone'));
        const v1 = await store.update(CMS, { ...gone, data: { count: '1' } });
        await store.update(CMS, { ...v1, data: { count: '2' } });
        await store.create(CMS, counter('kept'));
        const deleted = await store.delete(CMS, 'default', 'gone');
        await store.forgetHistory!(CMS, 'default', 'gone', Number(deleted.object.metadata.resourceVersion));
        const events = await history(store);
        expect(events.map((e) => `${e.type} ${e.object.metadata.name} ${countOf(e.object)} ${countOf(e.prevObject)}`)).toEqual([
          'ADDED gone undefined undefined',
          'MODIFIED gone undefined undefined',
          'MODIFIED gone undefined undefined',
          'ADDED kept 0 undefined',
          'DELETED gone undefined undefined',
        ]);
        expect(events[4].object).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: deleted.object.metadata });
        expect(events[1].object.metadata.resourceVersion).toBe(v1.metadata.resourceVersion);
      });
    });

    describe('subscribe', () => {
      caseIt('delivers every change of every resource in revision order', async () => {
        const store = await open();
        const got: ChangeEvent[] = [];
        const sub = store.subscribe((events) => {
          got.push(...events);
        });
        try {
          const a = await store.create(PODS, pod('a'));
          await store.create(CMS, counter('b'));
          await store.update(PODS, { ...a, status: { phase: 'Running' } });
          await store.delete(PODS, 'default', 'a');
          const deadline = Date.now() + 10_000;
          while (got.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          expect(got.map((e) => `${e.type}:${e.resource}/${e.object.metadata.name}`)).toEqual([
            'ADDED:pods/a',
            'ADDED:configmaps/b',
            'MODIFIED:pods/a',
            'DELETED:pods/a',
          ]);
          expect(got.map((e) => e.revision)).toEqual([...got.map((e) => e.revision)].sort((x, y) => x - y));
        } finally {
          sub.close();
        }
      });

      caseIt('a listener that throws gets the same changes again (at least once)', async () => {
        const store = await open();
        const attempts: string[][] = [];
        let failures = 0;
        const sub = store.subscribe((events) => {
          attempts.push(events.map((e) => e.object.metadata.name!));
          if (failures++ < 2) throw new Error('controller not ready');
        });
        try {
          await store.create(PODS, pod('a'));
          const deadline = Date.now() + 10_000;
          while (attempts.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          expect(attempts.length).toBeGreaterThanOrEqual(3);
          expect(attempts[0]).toContain('a');
          expect(attempts[1]).toEqual(attempts[0]);
          expect(attempts[2]).toEqual(attempts[0]);
        } finally {
          sub.close();
        }
      });

      caseIt('a subscription from an earlier revision replays what it missed', async () => {
        const store = await open();
        const start = await store.currentRevision();
        await store.create(PODS, pod('a'));
        await store.create(PODS, pod('b'));
        const got: string[] = [];
        const sub = store.subscribe(
          (events) => {
            got.push(...events.map((e) => e.object.metadata.name!));
          },
          { fromRevision: start },
        );
        try {
          const deadline = Date.now() + 10_000;
          while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          expect(got).toEqual(['a', 'b']);
        } finally {
          sub.close();
        }
      });
    });
  });
}

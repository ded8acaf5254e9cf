/**
 * The event recorder: a repeat counts on the same Event; and client-go's spam filter, 25 events
 * per object and component, then one more every 5 minutes.
 */
import { describe, expect, it } from 'vitest';
import { EventRecorder } from '../../shared/controllers/events.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject } from '../../shared/store/types.js';

const rs: KubeObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-1', namespace: 'default', uid: 'rs-uid' } };

describe('EventRecorder', () => {
  it('counts a repeated event on one Event', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const recorder = new EventRecorder(store, 'test');
    await recorder.record(rs, 'Warning', 'FailedCreate', 'quota exceeded');
    await recorder.record(rs, 'Warning', 'FailedCreate', 'quota exceeded');
    const events = (await store.list('events')).items as (KubeObject & { count: number; reason: string })[];
    expect(events.map((e) => [e.reason, e.count])).toEqual([['FailedCreate', 2]]);
    await store.close();
  });

  it('drops events past a burst of 25 per object, and lets one through per 5 minutes after', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    let now = 1_000_000;
    const recorder = new EventRecorder(store, 'replicaset-controller', () => now);
    for (let i = 0; i < 40; i++) await recorder.record(rs, 'Normal', 'SuccessfulCreate', `Created pod: web-1-${i}`);
    expect((await store.list('events')).items).toHaveLength(25);
    // Another object has its own bucket.
    await recorder.record({ ...rs, metadata: { ...rs.metadata, uid: 'other', name: 'web-2' } }, 'Normal', 'SuccessfulCreate', 'Created pod: web-2-0');
    expect((await store.list('events')).items).toHaveLength(26);
    now += 300_000;
    await recorder.record(rs, 'Normal', 'SuccessfulCreate', 'Created pod: web-1-40');
    await recorder.record(rs, 'Normal', 'SuccessfulCreate', 'Created pod: web-1-41');
    expect((await store.list('events')).items).toHaveLength(27);
    await store.close();
  });
});

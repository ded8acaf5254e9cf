/**
 * The stream Lambda's handler: records in the shape Lambda delivers reach the controllers, and
 * failures come back per record so one bad record cannot block the shard.
 */
import { describe, expect, it } from 'vitest';
import { handleStream } from '../../functions/stream/handler.js';
import type { Controller } from '../../shared/controllers/types.js';
import { streamRecord } from '../support/stream-records.js';

function recordingController(failKey?: string): Controller & { seen: string[] } {
  const seen: string[] = [];
  return {
    name: 'recorder',
    seen,
    keysFor: (e) => (e.resource === 'replicasets.apps' ? [`${e.object.metadata.namespace}/${e.object.metadata.name}`] : []),
    allKeys: async () => [],
    reconcile: async (key) => {
      seen.push(key);
      if (key === failKey) throw new Error('store unavailable');
    },
  };
}

const rs = (name: string, rev: number) => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name, namespace: 'default', resourceVersion: String(rev) },
});

describe('stream handler', () => {
  it('routes decoded records to reconciles, deduplicated per key', async () => {
    const c = recordingController();
    const result = await handleStream({ Records: [streamRecord(1, rs('a', 1)), streamRecord(2, rs('a', 2), 'MODIFIED'), streamRecord(3, rs('b', 3))] }, [c]);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(c.seen.sort()).toEqual(['default/a', 'default/b']);
  });

  it('reports the records of a failed reconcile and the records that do not decode, and only those', async () => {
    const c = recordingController('default/bad');
    const broken = { ...streamRecord(9, rs('x', 9)), dynamodb: { ...streamRecord(9, rs('x', 9)).dynamodb, NewImage: { pk: { S: 'log' } } } };
    const result = await handleStream(
      { Records: [streamRecord(4, rs('ok', 4)), streamRecord(5, rs('bad', 5)), streamRecord(6, rs('bad', 6), 'MODIFIED'), broken] },
      [c],
    );
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['1005', '1006', '1009']);
    expect(c.seen).toContain('default/ok');
  });
});

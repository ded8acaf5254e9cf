/**
 * The AWS shape's delayed work: the stream function puts the keys that ask to come back on SQS
 * (the real SDK against the SQS emulator), the queue function turns SQS records in Lambda's
 * shape into reconciles with partial batch responses, and the tick function resyncs what time
 * alone changes: a node whose Lease stopped goes NotReady through the tick alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSqs, type FakeSqs } from '../../emulators/sqs.js';
import { FUNCTION_CONTROLLERS, controllerOptions, storeUrl } from '../../functions/environment.js';
import { handleQueue, type SqsEvent } from '../../functions/queue/handler.js';
import { handleStream } from '../../functions/stream/handler.js';
import { handleReencrypt, handleTick } from '../../functions/tick/handler.js';
import { LocalKeyring } from '../../shared/encryption/keyring.js';
import { SealedStore } from '../../shared/encryption/sealed-store.js';
import { requeueKey } from '../../shared/controllers/dispatch.js';
import { controllersFor } from '../../shared/control-plane.js';
import type { Controller } from '../../shared/controllers/types.js';
import { SqsQueue } from '../../shared/queue/sqs.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import { streamRecord } from '../support/stream-records.js';
import type { KubeObject } from '../../shared/store/types.js';

let sqs: FakeSqs;
let client: SQSClient;
let queue: SqsQueue;
let queueUrl: string;
beforeAll(async () => {
  sqs = await startFakeSqs();
  client = new SQSClient({
    region: 'us-east-1',
    endpoint: sqs.endpoint,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
  queueUrl = sqs.createQueue('work');
  queue = new SqsQueue({ client, queueUrl, deadLetterQueueUrl: sqs.createQueue('dead'), waitTimeSeconds: 0 });
});
afterAll(async () => {
  await queue.close();
  client.destroy();
  await sqs.close();
});

/** What is on the queue now, as Lambda's SQS event would carry it. */
async function delivered(): Promise<SqsEvent> {
  const out = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }));
  return {
    Records: (out.Messages ?? []).map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle,
      body: m.Body!,
      attributes: m.Attributes as Record<string, string>,
      messageAttributes: {},
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:111122223333:work',
      awsRegion: 'us-east-1',
    })),
  };
}

function controller(behaviour: (key: string) => { requeueAfterMs?: number } | undefined): Controller & { seen: string[] } {
  const seen: string[] = [];
  return {
    name: 'recorder',
    seen,
    keysFor: (e) => [`${e.object.metadata.namespace ?? ''}/${e.object.metadata.name}`],
    allKeys: async () => [],
    reconcile: async (key) => {
      seen.push(key);
      if (key.endsWith('/broken')) throw new Error('store unavailable');
      return behaviour(key);
    },
  };
}

describe('the queue and tick functions', () => {
  it('a cold start never makes the table: the store URL says createTable=false unless told', () => {
    expect(storeUrl({})).toBe('dynamodb://skiff-state?createTable=false');
    expect(storeUrl({ SKIFF_STORE_URL: 'dynamodb://t?endpoint=http://x' })).toBe('dynamodb://t?endpoint=http://x&createTable=false');
    expect(storeUrl({ SKIFF_STORE_URL: 'dynamodb://t?createTable=true' })).toBe('dynamodb://t?createTable=true');
  });

  it('the queue function reconciles each key once, requeues what asks to come back, and reports only the failures', async () => {
    const c = controller((key) => (key === 'default/later' ? { requeueAfterMs: 2000 } : undefined));
    for (const key of ['default/a', 'default/a', 'default/later', 'default/broken']) await queue.enqueue(requeueKey('recorder', key));
    await queue.enqueue(requeueKey('unknown-controller', 'default/x'));
    const event = await delivered();
    expect(event.Records).toHaveLength(5);
    const sent = sqs.requests.length;
    const result = await handleQueue(event, [c], queue);
    expect(c.seen.sort()).toEqual(['default/a', 'default/broken', 'default/later']);
    const failedBodies = result.batchItemFailures.map((f) => JSON.parse(event.Records.find((r) => r.messageId === f.itemIdentifier)!.body).key).sort();
    expect(failedBodies).toEqual(['recorder|default/broken', 'unknown-controller|default/x']);
    const again = sqs.requests.slice(sent).filter((r) => r.action === 'SendMessage');
    expect(again.map((r) => [JSON.parse(String(r.params.MessageBody)).key, r.params.DelaySeconds])).toEqual([['recorder|default/later', 2]]);
    expect(await handleQueue({ Records: [{ messageId: 'm1', body: 'not json' }] }, [c], queue)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
  });

  it('the stream function queues what asks to come back; without a queue the records fail, to be delivered again', async () => {
    const c = controller(() => ({ requeueAfterMs: 30 * 60_000 }));
    const record = streamRecord(1, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', resourceVersion: '1' } }, 'ADDED', 'nodes');
    const sent = sqs.requests.length;
    expect(await handleStream({ Records: [record] }, [c], queue)).toEqual({ batchItemFailures: [] });
    const queued = sqs.requests.slice(sent).filter((r) => r.action === 'SendMessage');
    // Thirty minutes is over SQS's fifteen: it comes back at fifteen and asks again.
    expect(queued.map((r) => [JSON.parse(String(r.params.MessageBody)).key, r.params.DelaySeconds])).toEqual([['recorder|/n1', 900]]);
    expect(await handleStream({ Records: [record] }, [c], undefined)).toEqual({ batchItemFailures: [{ itemIdentifier: '1001' }] });
    await delivered();
  });

  it('the tick alone takes a node whose Lease stopped to NotReady', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    try {
      const long = new Date(Date.now() - 10 * 60_000).toISOString();
      await store.create('nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'silent' },
        status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: long, lastTransitionTime: long }] },
      } as KubeObject);
      await store.create('leases.coordination.k8s.io', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'silent', namespace: 'kube-node-lease' },
        spec: { holderIdentity: 'silent', leaseDurationSeconds: 40, renewTime: long.replace('Z', '000Z') },
      } as KubeObject);
      // The controllers as the functions make them: those whose answer time alone changes are periodic.
      const controllers = controllersFor(store, FUNCTION_CONTROLLERS);
      expect(controllers.filter((c) => c.periodic).map((c) => c.name)).toEqual(['job', 'cronjob', 'node-lifecycle']);
      const result = await handleTick(controllers, queue);
      expect(result).toEqual({ reconciled: 1, failed: 0 });
      const node = await store.get('nodes', '', 'silent');
      const ready = (node.status as { conditions: { type: string; status: string; reason: string }[] }).conditions.find((c) => c.type === 'Ready');
      expect(ready).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
      expect((node.spec as { taints?: { key: string }[] }).taints?.map((t) => t.key)).toContain('node.kubernetes.io/unreachable');
    } finally {
      await store.close();
    }
  });

  it('on its daily schedule seals again every Secret not under the current key, and reads the controllers’ settings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-tick-reencrypt-'));
    const inner = openSqliteStore({ path: join(dir, 'skiff.db') });
    try {
      // A Secret written before Secrets were sealed.
      await inner.create('secrets', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'early', namespace: 'default' },
        data: { k: 'dmFsdWU=' },
      } as KubeObject);
      expect(await handleReencrypt(inner)).toEqual({ sealed: false, objects: 0, history: 0 });
      const sealed = new SealedStore(inner, new LocalKeyring(join(dir, 'keys.json')));
      expect(sealed.sealer.needsSealing(await inner.get('secrets', 'default', 'early'))).toBe(true);
      const pass = await handleReencrypt(sealed);
      expect(pass).toMatchObject({ sealed: true, objects: 1 });
      expect(pass.history).toBeGreaterThanOrEqual(1);
      const stored = await inner.get('secrets', 'default', 'early');
      expect(sealed.sealer.needsSealing(stored)).toBe(false);
      expect(JSON.stringify(stored)).not.toContain('dmFsdWU=');
      expect(((await sealed.get('secrets', 'default', 'early')) as KubeObject & { data: Record<string, string> }).data.k).toBe('dmFsdWU=');
      expect(await handleReencrypt(sealed)).toMatchObject({ objects: 0, history: 0 });
    } finally {
      await inner.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(controllerOptions({ SKIFF_NODE_GRACE_SECONDS: '0.5', SKIFF_EVICTION_SECONDS: '2' }).nodeLifecycle).toMatchObject({
      gracePeriodMs: 500,
      defaultTolerationSeconds: 2,
      graceFromFirstLook: false,
    });
    expect(() => controllerOptions({ SKIFF_NODE_GRACE_SECONDS: 'soon' })).toThrow(/SKIFF_NODE_GRACE_SECONDS must be a number of seconds/);
  });
});

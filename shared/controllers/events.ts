/**
 * Records core/v1 Events the way kubectl describe and get events show them: one Event per
 * (object, reason, message), its count and lastTimestamp growing when it happens again.
 *
 * Like client-go's recorder it has a spam filter: each (component, object) has a bucket of 25
 * events that refills one every 5 minutes, and events beyond it are dropped, so a ReplicaSet
 * creating 100 pods records 25 `SuccessfulCreate` events, not 100 (kube-controller-manager's
 * behaviour). Buckets are kept for the 4,096 most recent objects.
 */
import { createHash } from 'node:crypto';
import { ignoreNotFound, isAlreadyExists } from '../errors.js';
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';

const BURST = 25;
const REFILL_MS = 300_000;
const BUCKETS = 4096;

export class EventRecorder {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly store: Store,
    private readonly component: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token from the object's bucket; false when it is empty (the event is dropped). */
  private allow(uid: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(uid);
    if (bucket) {
      this.buckets.delete(uid); // re-inserted below: most recent last
      bucket.tokens = Math.min(BURST, bucket.tokens + (now - bucket.at) / REFILL_MS);
      bucket.at = now;
    } else {
      bucket = { tokens: BURST, at: now };
      if (this.buckets.size >= BUCKETS) this.buckets.delete(this.buckets.keys().next().value as string);
    }
    this.buckets.set(uid, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  async record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (!this.allow(object.metadata.uid ?? `${object.metadata.namespace}/${object.metadata.name}`)) return;
    const namespace = object.metadata.namespace || 'default';
    const digest = createHash('sha1').update(`${object.metadata.uid}/${reason}/${message}`).digest('hex').slice(0, 12);
    const name = `${object.metadata.name}.${digest}`;
    const now = nowTimestamp();
    // Most events are new: create first, and count a repeat when it already exists.
    try {
      await this.store.create('events', {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          kind: object.kind,
          namespace: object.metadata.namespace,
          name: object.metadata.name,
          uid: object.metadata.uid,
          apiVersion: object.apiVersion,
          resourceVersion: object.metadata.resourceVersion,
        },
        reason,
        message,
        type,
        source: { component: this.component },
        reportingComponent: this.component,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await guaranteedUpdate(this.store, 'events', namespace, name, (e) => ({ ...e, count: Number(e.count ?? 1) + 1, lastTimestamp: now })).catch(
        ignoreNotFound,
      );
    }
  }
}

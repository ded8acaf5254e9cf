/**
 * Records core/v1 Events the way kubectl describe and get events show them: one Event per
 * (object, reason, message), its count and lastTimestamp growing when it happens again.
 */
import { createHash } from 'node:crypto';
import { isStoreError } from '../store/errors.js';
import { nowTimestamp, type KubeObject } from '../store/object.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { Store } from '../store/types.js';

export class EventRecorder {
  constructor(private readonly store: Store, private readonly component: string) {}

  async record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = object.metadata.namespace || 'default';
    const digest = createHash('sha1').update(`${object.metadata.uid}/${reason}/${message}`).digest('hex').slice(0, 12);
    const name = `${object.metadata.name}.${digest}`;
    const now = nowTimestamp();
    try {
      await guaranteedUpdate(this.store, 'events', namespace, name, (e) => ({ ...e, count: Number(e.count ?? 1) + 1, lastTimestamp: now }));
    } catch (err) {
      if (!isStoreError(err, 'NotFound')) throw err;
      await this.store
        .create('events', {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace },
          involvedObject: { kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, uid: object.metadata.uid, apiVersion: object.apiVersion, resourceVersion: object.metadata.resourceVersion },
          reason,
          message,
          type,
          source: { component: this.component },
          reportingComponent: this.component,
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
        })
        .catch((e) => {
          if (!isStoreError(e, 'AlreadyExists')) throw e;
        });
    }
  }
}

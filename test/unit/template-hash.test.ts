/** Equal pod templates hash equal, whatever the key order or the empty fields they carry. */
import { describe, expect, it } from 'vitest';
import { templateHash } from '../../shared/controllers/deployment.js';

const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'app:v1', resources: {} }], restartPolicy: 'Always' } };

describe('pod-template-hash', () => {
  it('ignores creationTimestamp: null, empty objects and lists, key order and its own label', () => {
    const sent = {
      spec: { restartPolicy: 'Always', containers: [{ resources: {}, image: 'app:v1', name: 'app', env: [] }] },
      metadata: { creationTimestamp: null, annotations: {}, labels: { app: 'web', 'pod-template-hash': 'x' } },
    };
    expect(templateHash(sent)).toBe(templateHash(template));
  });
  it('differs when anything that matters differs', () => {
    const other = structuredClone(template);
    other.spec.containers[0].image = 'app:v2';
    expect(templateHash(other)).not.toBe(templateHash(template));
    expect(templateHash(template)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
  });
});

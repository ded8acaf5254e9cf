import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../shared/store/errors.js';
import { filterChange, compileFilter } from '../../shared/store/filter.js';
import { fieldValue, matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from '../../shared/store/selectors.js';
import type { KubeObject } from '../../shared/store/types.js';

const labels = { app: 'web', tier: 'front', 'example.com/rank': '7' };

describe('label selectors', () => {
  it.each([
    ['app=web', true],
    ['app==web', true],
    ['app=db', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['app in (db, web)', true],
    ['app in (db)', false],
    ['app notin (db)', true],
    ['app notin (web)', false],
    ['missing notin (x)', true],
    ['tier', true],
    ['missing', false],
    ['!missing', true],
    ['!tier', false],
    ['example.com/rank>6', true],
    ['example.com/rank<6', false],
    ['app=web,tier=front', true],
    ['app=web,tier=back', false],
    ['  app = web , !missing ', true],
    ['', true],
  ])('%s matches: %s', (selector, expected) => {
    expect(matchLabels(parseLabelSelector(selector), labels)).toBe(expected);
  });

  it.each(['app in (', 'app in ()', '-bad=x', 'app=has space', `app=${'x'.repeat(64)}`, 'a/b/c=x', 'UPPER.example.com/x=y', 'rank>abc', '=value'])(
    'refuses %j with an Invalid error',
    (selector) => {
      let err: unknown;
      try {
        parseLabelSelector(selector);
      } catch (e) {
        err = e;
      }
      expect(isStoreError(err, 'Invalid')).toBe(true);
    },
  );
});

describe('field selectors', () => {
  const pod: KubeObject = {
    metadata: { name: 'web-1', namespace: 'default' },
    spec: { nodeName: 'n1' },
    status: { phase: 'Running' },
    involvedObject: { uid: 'a,b=c' },
  };

  it('reads dotted paths, with missing fields as the empty string', () => {
    expect(fieldValue(pod, 'spec.nodeName')).toBe('n1');
    expect(fieldValue(pod, 'spec.missing')).toBe('');
    expect(fieldValue(pod, 'spec')).toBe('');
  });

  it.each([
    ['metadata.name=web-1', true],
    ['metadata.name==web-1', true],
    ['metadata.namespace!=default', false],
    ['spec.nodeName=n1,status.phase=Running', true],
    ['status.phase!=Succeeded,status.phase!=Failed', true],
    ['spec.nodeName=', false],
    ['spec.schedulerName=', true],
    ['involvedObject.uid=a\\,b\\=c', true],
  ])('%s matches: %s', (selector, expected) => {
    expect(matchFields(parseFieldSelector(selector), pod)).toBe(expected);
  });

  it.each(['novalue', 'a b=c', '=x'])('refuses %j', (selector) => {
    expect(() => parseFieldSelector(selector)).toThrow(/invalid field selector/);
  });
});

describe('filtered changes, as a watch with a selector sees them', () => {
  const web = (app: string): KubeObject => ({ metadata: { name: 'p', namespace: 'default', labels: { app } } });
  const filter = compileFilter({ labelSelector: 'app=web' });

  it('turns entering into ADDED, leaving into DELETED, and drops the rest', () => {
    const base = { resource: 'pods', revision: 5 };
    expect(filterChange(filter, { ...base, type: 'MODIFIED', object: web('web'), prevObject: web('db') })?.type).toBe('ADDED');
    expect(filterChange(filter, { ...base, type: 'MODIFIED', object: web('db'), prevObject: web('web') })?.type).toBe('DELETED');
    expect(filterChange(filter, { ...base, type: 'MODIFIED', object: web('web'), prevObject: web('web') })?.type).toBe('MODIFIED');
    expect(filterChange(filter, { ...base, type: 'MODIFIED', object: web('db'), prevObject: web('db') })).toBeUndefined();
    expect(filterChange(filter, { ...base, type: 'DELETED', object: web('web') })?.type).toBe('DELETED');
    expect(filterChange(filter, { ...base, type: 'ADDED', object: web('db') })).toBeUndefined();
  });
});

/**
 * What the dashboard works out of objects, as a cost tool would: each namespace's share of its
 * nodes' prices (a pod pays for the larger of its CPU and memory shares of its node), the idle
 * rest, and nothing for pods that hold no node or have ended, or for nodes without a price; and
 * the nodes' histories added up over time for the overview's charts.
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../dashboard/src/api.js';
import { costsOf, cpuMillis, dollars, filterBy, type NodeHistory, usageOverTime } from '../../dashboard/src/kube.js';

const node = (name: string, price: string | undefined, cpu = '4', memory = '16Gi'): KubeObject => ({
  metadata: { name, labels: price === undefined ? {} : { 'skiff.dev/price-per-hour': price } },
  status: { allocatable: { cpu, memory } },
});

const pod = (namespace: string, nodeName: string | undefined, cpu: string, memory: string, phase = 'Running'): KubeObject => ({
  metadata: { name: `${namespace}-${Math.random()}`, namespace },
  spec: { nodeName, containers: [{ resources: { requests: { cpu, memory } } }] },
  status: { phase },
});

describe('costsOf', () => {
  it('shares each priced node out by the larger of CPU and memory shares, the rest idle', () => {
    const costs = costsOf(
      [node('a', '0.4'), node('b', '0.2')],
      [
        pod('web', 'a', '1', '1Gi'), // a CPU quarter of a: 0.1
        pod('web', 'b', '500m', '8Gi'), // half of b's memory: 0.1
        pod('db', 'a', '2', '12Gi'), // three quarters of a's memory: 0.3
      ],
    );
    expect(costs.priced).toBe(true);
    expect(costs.total).toBeCloseTo(0.6);
    expect(costs.byNamespace.get('web')).toMatchObject({ pods: 2, running: 2, cpu: 1500, memory: 9 * 2 ** 30 });
    expect(costs.byNamespace.get('web')?.cost).toBeCloseTo(0.2);
    expect(costs.byNamespace.get('db')?.cost).toBeCloseTo(0.3);
    // a is fully held (a quarter and three quarters), half of b is idle.
    expect(costs.idle).toBeCloseTo(0.1);
  });

  it('charges nothing for pending or ended pods, nor for nodes without a price; never more than a node costs', () => {
    const costs = costsOf(
      [node('priced', '1', '1', '1Gi'), node('local', undefined)],
      [
        pod('a', undefined, '1', '1Gi', 'Pending'),
        pod('a', 'priced', '1', '1Gi', 'Succeeded'),
        pod('a', 'local', '1', '1Gi'),
        pod('b', 'priced', '800m', '100Mi'),
        pod('c', 'priced', '800m', '100Mi'),
      ],
    );
    expect(costs.byNamespace.get('a')).toMatchObject({ pods: 3, running: 1, cpu: 1000, cost: 0 });
    expect(costs.byNamespace.get('b')?.cost).toBeCloseTo(0.8);
    // The node is over-asked: the second pod pays for what was left of it.
    expect(costs.byNamespace.get('c')?.cost).toBeCloseTo(0.2);
    expect(costs.idle).toBeCloseTo(0);
    expect(costsOf([node('local', undefined)], []).priced).toBe(false);
  });

  it('prints dollars an hour to the cent, or to three figures below a dollar', () => {
    expect(dollars(12.345)).toBe('$12.35');
    expect(dollars(0.012345)).toBe('$0.0123');
    expect(dollars(0.2)).toBe('$0.2');
    expect(dollars(0)).toBe('$0');
  });
});

describe('usageOverTime', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 5, 0, s)).toISOString().replace('.000', '');
  const history = (name: string, samples: [number, string, string][], intervalSeconds = 10): NodeHistory => ({
    metadata: { name },
    intervalSeconds,
    samples: samples.map(([s, cpu, memory]) => ({ timestamp: at(s), cpu, memory })),
  });
  const t0 = Date.UTC(2026, 10, 29, 5, 0, 0) / 1000;

  it('reads the metrics API quantities: nanocores, microcores, millicores, cores', () => {
    expect(cpuMillis('250000000n')).toBe(250);
    expect(cpuMillis('1500u')).toBe(1.5);
    expect(cpuMillis('750m')).toBe(750);
    expect(cpuMillis('2')).toBe(2000);
  });

  it('adds up nodes sampled on their own clocks, a point per interval ending at the newest sample', () => {
    const u = usageOverTime([
      history('a', [
        [0, '100000000n', '1Ki'],
        [10, '200000000n', '2Ki'],
        [20, '300000000n', '3Ki'],
      ]),
      history('b', [
        [4, '1000000000n', '10Ki'],
        [14, '2000000000n', '20Ki'],
      ]),
    ]);
    expect(u.times).toEqual([t0, t0 + 10, t0 + 20]);
    // At 0 only a has a sample; at 10, a's of 10 and b's of 4; at 20, a's of 20 and b's of 14.
    expect(u.cpu.map(Math.round)).toEqual([100, 1200, 2300]);
    expect(u.memory).toEqual([1024, 12 * 1024, 23 * 1024]);
  });

  it('leaves out a node whose latest sample is older than two intervals, and answers nothing for no samples', () => {
    const u = usageOverTime([
      history('a', [
        [0, '1', '1Ki'],
        [10, '1', '1Ki'],
        [20, '1', '1Ki'],
        [30, '1', '1Ki'],
      ]),
      history('stopped', [[0, '5', '5Ki']]),
    ]);
    expect(u.cpu).toEqual([6000, 6000, 1000, 1000]);
    expect(usageOverTime([history('none', [])])).toEqual({ times: [], cpu: [], memory: [] });
  });
});

describe('filterBy', () => {
  const nodeOf = (p: KubeObject) => [String(p.spec?.nodeName ?? '')];
  const pods = (filter: string, list: KubeObject[], by = filterBy(nodeOf)) => list.filter(by(filter)).map((p) => p.metadata.name);
  const a: KubeObject = { metadata: { name: 'web-01', namespace: 'team-a' }, spec: { nodeName: 'node-7' } };
  const b: KubeObject = { metadata: { name: 'Api', namespace: 'team-b' }, spec: { nodeName: 'node-1' } };

  it('matches the name, the namespace and the fields given, in any case; an empty filter matches all', () => {
    expect(pods('WEB', [a, b])).toEqual(['web-01']);
    expect(pods('team-b', [a, b])).toEqual(['Api']);
    expect(pods('api', [a, b])).toEqual(['Api']);
    expect(pods('node-7', [a, b])).toEqual(['web-01']);
    expect(pods('', [a, b])).toEqual(['web-01', 'Api']);
  });

  it('matches no text made of two fields together', () => {
    // The name ends in "01", the namespace begins with "team": joined they would read "01team" or "01 team".
    expect(pods('01team', [a])).toEqual([]);
    expect(pods('01 team', [a])).toEqual([]);
  });

  it('looks at an object as it is now: a changed object (a new one) is read again', () => {
    const by = filterBy(nodeOf);
    expect(pods('node-7', [a], by)).toEqual(['web-01']);
    const moved = { ...a, spec: { nodeName: 'node-9' } };
    expect(pods('node-7', [moved], by)).toEqual([]);
    expect(pods('node-9', [moved], by)).toEqual(['web-01']);
  });
});

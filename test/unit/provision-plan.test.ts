import { describe, expect, it } from 'vitest';
import { consolidationCandidate } from '../../shared/provisioner/consolidation.js';
import { type Offering, plan } from '../../shared/provisioner/plan.js';
import type { PodInfo } from '../../shared/scheduler/compile.js';

const GiB = 2 ** 30;
const offering = (instanceType: string, cores: number, price: number, zone = 'a'): Offering => ({
  instanceType,
  zone,
  cpu: cores * 1000,
  memory: cores * 4 * GiB,
  pods: 110,
  pricePerHour: price,
});
let n = 0;
const pod = (cpu: number, extra: Partial<PodInfo> = {}): PodInfo =>
  ({
    namespace: 'default',
    name: `p${++n}`,
    uid: `u${n}`,
    labels: {},
    cpu,
    memory: GiB / 4,
    nodeSelector: {},
    required: [],
    preferred: [],
    tolerations: [],
    hostPorts: [],
    ...extra,
  }) as PodInfo;

describe('the provisioning plan', () => {
  const small = offering('small', 2, 0.1);
  const large = offering('large', 8, 0.32);

  it('packs to the lower bound, choosing the cheapest per pod', () => {
    const { nodes, unplaceable } = plan(
      Array.from({ length: 20 }, () => pod(500)),
      [small, large],
    );
    expect(unplaceable).toEqual([]);
    expect(nodes.map((x) => [x.offering.instanceType, x.pods.length])).toEqual([
      ['large', 16],
      ['small', 4],
    ]);
    // No node is over its capacity.
    for (const x of nodes) expect(x.pods.reduce((a, p) => a + p.cpu, 0)).toBeLessThanOrEqual(x.offering.cpu);
  });

  it('honours nodeSelector and required node affinity, and says what fits nowhere', () => {
    const inB = offering('small', 2, 0.1, 'b');
    const zoned = pod(100, { nodeSelector: { 'topology.kubernetes.io/zone': 'b' } });
    const typed = pod(100, {
      required: [{ matchExpressions: [{ key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['large'] }] }],
    } as Partial<PodInfo>);
    const giant = pod(64_000);
    const { nodes, unplaceable } = plan([zoned, typed, giant], [small, large, inB]);
    expect(unplaceable.map((p) => p.name)).toEqual([giant.name]);
    expect(nodes.find((x) => x.pods.includes(zoned))?.offering.zone).toBe('b');
    expect(nodes.find((x) => x.pods.includes(typed))?.offering.instanceType).toBe('large');
  });

  it('fills nodes on their way before opening new ones, and keeps to the node and CPU limits', () => {
    const seed = { name: 'coming', offering: large, pods: [pod(4000)] };
    const { nodes } = plan([pod(1000), pod(1000)], [small, large], { seeds: [seed] });
    expect(nodes).toHaveLength(1);
    expect(nodes[0].name).toBe('coming');
    expect(nodes[0].pods).toHaveLength(3);
    const limited = plan(
      Array.from({ length: 40 }, () => pod(1000)),
      [small, large],
      { maxNodes: 2 },
    );
    expect(limited.nodes).toHaveLength(2);
    expect(limited.unplaceable).toHaveLength(24);
    // A CPU limit of 10 cores: one large node (8) and one small (2), then no more.
    const byCpu = plan(
      Array.from({ length: 40 }, () => pod(1000)),
      [small, large],
      { maxCpu: 10_000 },
    );
    expect(byCpu.nodes.map((n) => n.offering.instanceType).sort()).toEqual(['large', 'small']);
    expect(byCpu.unplaceable).toHaveLength(30);
  });

  it('spreads pods over zones as their zone topology spread asks, counting the pods already placed', () => {
    const zones = ['a', 'b', 'c'].map((z) => offering('large', 8, 0.32, z));
    const spread = [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' as const, selector: { app: 'web' } }];
    const web = () => pod(500, { labels: { app: 'web' }, spread });
    const even = plan(Array.from({ length: 6 }, web), zones);
    expect(even.nodes.map((n) => [n.offering.zone, n.pods.length]).sort()).toEqual([
      ['a', 2],
      ['b', 2],
      ['c', 2],
    ]);
    // Two web pods already run in zone a: the next two go to b and c first.
    const placed = [
      { labels: { app: 'web' }, zone: 'a' },
      { labels: { app: 'web' }, zone: 'a' },
    ];
    const after = plan([web(), web()], zones, { placed });
    expect(after.nodes.map((n) => n.offering.zone).sort()).toEqual(['b', 'c']);
    // Without the constraint, one node holds them all.
    expect(
      plan(
        Array.from({ length: 6 }, () => pod(500, { labels: { app: 'web' }, spread: [] })),
        zones,
      ).nodes,
    ).toHaveLength(1);
  });

  it('chooses an under-used node to consolidate only when all its pods fit on the others', () => {
    const room = (name: string, cores: number) => ({ name, cpu: cores * 1000, memory: cores * 4 * GiB, pods: 110 });
    const load = (node: string, cpu: number, owned = true) => ({ node, cpu, memory: GiB / 4, owned });
    const nodes = [room('big', 8), room('small', 2), room('other', 2)];
    // small's 1 core fits in big's free 4: small goes; big's 4 cores fit nowhere else.
    expect(consolidationCandidate(['big', 'small'], nodes, [load('big', 4000), load('small', 1000)])).toBe('small');
    // A pod no controller owns keeps its node.
    expect(consolidationCandidate(['small'], nodes, [load('big', 4000), load('small', 1000, false)])).toBeUndefined();
    // Too big to move anywhere: nothing to do.
    expect(consolidationCandidate(['small'], [room('big', 8), room('small', 2)], [load('big', 7000), load('small', 1500)])).toBeUndefined();
    // An empty node is the empty-node path's, not this one's.
    expect(consolidationCandidate(['other'], nodes, [load('big', 1000)])).toBeUndefined();
  });
});

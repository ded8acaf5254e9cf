/**
 * The scheduler places a batch of pending pods as kube-scheduler would: every filter, the
 * reasons in kube-scheduler's words, capacity taken by earlier placements, spreading of a
 * workload's replicas across nodes and zones, and the same answer for the same input.
 */
import { describe, expect, it } from 'vitest';
import type { Node, NodeSelectorRequirement, Pod } from '../../shared/api/schemas/index.js';
import { SchedulingCache, schedule } from '../../shared/scheduler/index.js';

function node(
  name: string,
  o: {
    cpu?: string;
    memory?: string;
    pods?: string;
    labels?: Record<string, string>;
    taints?: Node['spec'] extends infer S ? (S extends { taints?: infer T } ? T : never) : never;
    unschedulable?: boolean;
    ready?: boolean;
  } = {},
): Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: { taints: o.taints, unschedulable: o.unschedulable },
    status: {
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: o.pods ?? '110' },
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

let uid = 0;
function pod(
  name: string,
  o: { cpu?: string; memory?: string; owner?: string; spec?: Partial<Pod['spec']>; labels?: Record<string, string>; nodeName?: string } = {},
): Pod {
  return {
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${++uid}`,
      labels: o.labels,
      ownerReferences: o.owner ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.owner, uid: o.owner, controller: true }] : undefined,
    },
    spec: {
      nodeName: o.nodeName,
      containers: [{ name: 'c', image: 'busybox', resources: { requests: { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}) } } }],
      ...o.spec,
    },
  };
}

const placement = (r: ReturnType<typeof schedule>) => Object.fromEntries(r.bindings.map((b) => [b.pod.name, b.nodeName]));

describe('scheduler filters', () => {
  it('resources: a pod bigger than any node is refused with the reason per node', () => {
    const r = schedule({ pendingPods: [pod('big', { cpu: '8' })], nodes: [node('a'), node('b')], boundPods: [] });
    expect(r.bindings).toEqual([]);
    expect(r.unschedulable[0].message).toBe('0/2 nodes are available: 2 Insufficient cpu.');
  });

  it('a batch accounts for the capacity its earlier placements took', () => {
    const r = schedule({
      pendingPods: ['p1', 'p2', 'p3'].map((n) => pod(n, { cpu: '1500m', memory: '1Gi' })),
      nodes: [node('a', { cpu: '3' })],
      boundPods: [],
    });
    expect(r.bindings.map((b) => b.pod.name)).toEqual(['p1', 'p2']);
    expect(r.unschedulable.map((u) => [u.pod.name, u.message])).toEqual([['p3', '0/1 nodes are available: 1 Insufficient cpu.']]);
  });

  it('pods already bound take their capacity and pod slots', () => {
    const r = schedule({
      pendingPods: [pod('new', { memory: '6Gi' }), pod('tiny')],
      nodes: [node('a', { pods: '2' })],
      boundPods: [pod('old', { memory: '4Gi', nodeName: 'a' })],
    });
    expect(r.unschedulable[0].message).toBe('0/1 nodes are available: 1 Insufficient memory.');
    expect(placement(r)).toEqual({ tiny: 'a' });
    const full = schedule({
      pendingPods: [pod('one-more')],
      nodes: [node('a', { pods: '2' })],
      boundPods: [pod('x', { nodeName: 'a' }), pod('y', { nodeName: 'a' })],
    });
    expect(full.unschedulable[0].message).toBe('0/1 nodes are available: 1 Too many pods.');
  });

  it('nodeSelector and required node affinity', () => {
    const nodes = [node('ssd', { labels: { disk: 'ssd', gen: '5' } }), node('hdd', { labels: { disk: 'hdd', gen: '3' } }), node('bare')];
    const bySelector = schedule({ pendingPods: [pod('s', { spec: { nodeSelector: { disk: 'ssd' } } })], nodes, boundPods: [] });
    expect(placement(bySelector)).toEqual({ s: 'ssd' });
    const affinity = (expr: NodeSelectorRequirement) => ({
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [expr] }] } } },
    });
    const cases: [NodeSelectorRequirement, string[]][] = [
      [{ key: 'disk', operator: 'In', values: ['hdd'] }, ['hdd']],
      [{ key: 'disk', operator: 'NotIn', values: ['ssd'] }, ['hdd', 'bare']],
      [{ key: 'disk', operator: 'Exists' }, ['ssd', 'hdd']],
      [{ key: 'disk', operator: 'DoesNotExist' }, ['bare']],
      [{ key: 'gen', operator: 'Gt', values: ['4'] }, ['ssd']],
      [{ key: 'gen', operator: 'Lt', values: ['4'] }, ['hdd']],
    ];
    for (const [expr, allowed] of cases) {
      const r = schedule({ pendingPods: [pod('a', { spec: affinity(expr) })], nodes, boundPods: [] });
      expect(allowed, JSON.stringify(expr)).toContain(r.bindings[0]?.nodeName);
    }
    const byField = schedule({
      pendingPods: [
        pod('f', {
          spec: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['bare'] }] }],
                },
              },
            },
          },
        }),
      ],
      nodes,
      boundPods: [],
    });
    expect(placement(byField)).toEqual({ f: 'bare' });
    const none = schedule({ pendingPods: [pod('n', { spec: { nodeSelector: { disk: 'nvme' } } })], nodes, boundPods: [] });
    expect(none.unschedulable[0].message).toBe("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.");
  });

  it('taints: NoSchedule and NoExecute keep pods off unless tolerated; PreferNoSchedule only scores', () => {
    const nodes = [
      node('gpu', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }),
      node('evicting', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }),
      node('soft', { taints: [{ key: 'spot', value: 'true', effect: 'PreferNoSchedule' }] }),
    ];
    const plain = schedule({ pendingPods: [pod('p')], nodes, boundPods: [] });
    expect(placement(plain)).toEqual({ p: 'soft' });
    const onlyTainted = schedule({ pendingPods: [pod('p')], nodes: nodes.slice(0, 2), boundPods: [] });
    expect(onlyTainted.unschedulable[0].message).toBe(
      '0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.',
    );
    const tolerant = schedule({
      pendingPods: [pod('g', { spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] } })],
      nodes: nodes.slice(0, 2),
      boundPods: [],
    });
    expect(placement(tolerant)).toEqual({ g: 'gpu' });
    const everything = schedule({ pendingPods: [pod('e', { spec: { tolerations: [{ operator: 'Exists' }] } })], nodes: nodes.slice(1, 2), boundPods: [] });
    expect(placement(everything)).toEqual({ e: 'evicting' });
    const wrongValue = schedule({
      pendingPods: [pod('w', { spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'tpu' }] } })],
      nodes: nodes.slice(0, 1),
      boundPods: [],
    });
    expect(wrongValue.bindings).toEqual([]);
  });

  it('host ports conflict on a node, not across nodes', () => {
    const withPort = (name: string) => pod(name, { spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, hostPort: 8080 }] }] } });
    const r = schedule({ pendingPods: [withPort('a'), withPort('b'), withPort('c')], nodes: [node('n1'), node('n2')], boundPods: [] });
    expect(new Set(r.bindings.map((b) => b.nodeName))).toEqual(new Set(['n1', 'n2']));
    expect(r.unschedulable[0].message).toBe("0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.");
  });

  it('cordoned and not-ready nodes take nothing', () => {
    const r = schedule({
      pendingPods: [pod('p')],
      nodes: [node('cordoned', { unschedulable: true }), node('sick', { ready: false }), node('ok')],
      boundPods: [],
    });
    expect(placement(r)).toEqual({ p: 'ok' });
    const none = schedule({ pendingPods: [pod('p')], nodes: [node('cordoned', { unschedulable: true }), node('sick', { ready: false })], boundPods: [] });
    expect(none.unschedulable[0].message).toBe('0/2 nodes are available: 1 node(s) were not ready, 1 node(s) were unschedulable.');
  });

  it('with no nodes at all, says so', () => {
    expect(schedule({ pendingPods: [pod('p')], nodes: [], boundPods: [] }).unschedulable[0].message).toBe('no nodes available to schedule pods');
  });

  it('the message counts every reason that rules a node out, in kube-scheduler order', () => {
    const nodes = [
      node('a', { cpu: '1' }),
      node('b', { cpu: '1' }),
      node('c', { cpu: '1' }),
      node('d', { taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }] }),
      node('e', { taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }] }),
    ];
    const r = schedule({ pendingPods: [pod('p', { cpu: '2' })], nodes, boundPods: [] });
    expect(r.unschedulable[0].message).toBe('0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {gpu: true}.');
    expect(r.unschedulable[0].reasons).toEqual({ 'Insufficient cpu': 3, 'node(s) had untolerated taint {gpu: true}': 2 });
  });
});

describe('scheduler scores', () => {
  it('least allocated: a pod goes to the emptier node', () => {
    const r = schedule({
      pendingPods: [pod('p', { cpu: '500m', memory: '512Mi' })],
      nodes: [node('busy'), node('idle')],
      boundPods: [pod('hog', { cpu: '3', memory: '6Gi', nodeName: 'busy' })],
    });
    expect(placement(r)).toEqual({ p: 'idle' });
  });

  it("spreads one owner's replicas evenly across nodes and zones", () => {
    const nodes = ['a', 'b', 'c', 'd', 'e', 'f'].map((n, i) =>
      node(n, { cpu: '16', memory: '64Gi', labels: { 'topology.kubernetes.io/zone': `zone-${i % 3}` } }),
    );
    const replicas = Array.from({ length: 12 }, (_, i) => pod(`web-${i}`, { cpu: '100m', memory: '128Mi', owner: 'rs-web' }));
    const r = schedule({ pendingPods: replicas, nodes, boundPods: [] });
    const perNode = new Map<string, number>();
    for (const b of r.bindings) perNode.set(b.nodeName, (perNode.get(b.nodeName) ?? 0) + 1);
    expect([...perNode.values()]).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('preferred node affinity wins when capacity is equal', () => {
    const nodes = [node('plain'), node('fast', { labels: { cpu: 'fast' } })];
    const r = schedule({
      pendingPods: [
        pod('p', {
          spec: {
            affinity: {
              nodeAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 50, preference: { matchExpressions: [{ key: 'cpu', operator: 'In', values: ['fast'] }] } },
                ],
              },
            },
          },
        }),
      ],
      nodes,
      boundPods: [],
    });
    expect(placement(r)).toEqual({ p: 'fast' });
  });

  it('topology spread constraints with DoNotSchedule keep the skew within maxSkew', () => {
    const nodes = [
      node('a1', { labels: { 'topology.kubernetes.io/zone': 'a' } }),
      node('a2', { labels: { 'topology.kubernetes.io/zone': 'a' } }),
      node('b1', { labels: { 'topology.kubernetes.io/zone': 'b', disk: 'small' }, pods: '1' }),
    ];
    const spread = {
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' as const, labelSelector: { matchLabels: { app: 'db' } } },
      ],
    };
    const r = schedule({ pendingPods: [1, 2, 3, 4].map((i) => pod(`db-${i}`, { labels: { app: 'db' }, spec: spread })), nodes, boundPods: [] });
    // Zone b holds one pod at most (its only node has one slot). Zone a may lead by maxSkew = 1:
    // a=2, b=1 is allowed; a fourth pod would make it a=3, b=1.
    const zones = r.bindings.map((b) => (b.nodeName.startsWith('a') ? 'a' : 'b')).sort();
    expect(zones).toEqual(['a', 'a', 'b']);
    expect(r.unschedulable.map((u) => u.pod.name)).toEqual(['db-4']);
    expect(r.unschedulable[0].message).toBe("0/3 nodes are available: 1 Too many pods, 2 node(s) didn't match pod topology spread constraints.");
  });

  it('gives the same answer for the same input', () => {
    const nodes = Array.from({ length: 50 }, (_, i) => node(`n${i}`, { cpu: String(2 + (i % 3)), labels: { 'topology.kubernetes.io/zone': `z${i % 4}` } }));
    const pods = Array.from({ length: 200 }, (_, i) => pod(`p${i}`, { cpu: `${100 + (i % 7) * 100}m`, owner: `rs${i % 9}` }));
    const a = schedule({ pendingPods: pods, nodes, boundPods: [] });
    const b = schedule({ pendingPods: pods, nodes, boundPods: [] });
    expect(a.bindings).toEqual(b.bindings);
    expect(a.bindings.length + a.unschedulable.length).toBe(200);
  });
});

describe('scheduling cache', () => {
  it('after binds, moves, removals and a node change, places a batch exactly as a full recount does', () => {
    const nodes = Array.from({ length: 6 }, (_, i) => node(`n${i}`, { cpu: '4', labels: { 'topology.kubernetes.io/zone': `z${i % 3}` } }));
    const cache = new SchedulingCache();
    const bound = new Map<string, Pod>();
    const bind = (p: Pod, nodeName: string) => {
      const placed = { ...p, spec: { ...p.spec, nodeName } };
      bound.set(p.metadata!.uid!, placed);
      cache.bound(p.metadata!.uid!, placed);
    };
    const drop = (p: Pod) => {
      bound.delete(p.metadata!.uid!);
      cache.gone(p.metadata!.uid!);
    };
    // Round 1: the cache's own placements (a call), then the binds they lead to.
    const first = Array.from({ length: 12 }, (_, i) => pod(`a${i}`, { cpu: '500m', owner: 'rs-a', labels: { app: 'a' } }));
    const r1 = schedule({ pendingPods: first, nodes, cache });
    for (const b of r1.bindings) bind(first.find((p) => p.metadata!.uid === b.pod.uid)!, b.nodeName);
    // Churn: some pods go, some move, one pod placed by a call is never bound and goes away.
    drop(first[0]);
    drop(first[5]);
    bind(first[3], 'n5');
    const phantom = pod('phantom', { cpu: '3' });
    schedule({ pendingPods: [phantom], nodes, cache });
    cache.gone(phantom.metadata!.uid!);
    const compare = (pending: Pod[], nodeList: Node[]) => {
      const viaCache = schedule({ pendingPods: pending, nodes: nodeList, cache, options: { startIndex: 0 } });
      const recount = schedule({ pendingPods: pending, nodes: nodeList, boundPods: [...bound.values()], options: { startIndex: 0 } });
      expect(placement(viaCache)).toEqual(placement(recount));
      expect(viaCache.unschedulable.map((u) => u.message)).toEqual(recount.unschedulable.map((u) => u.message));
      return viaCache;
    };
    const batch = Array.from({ length: 30 }, (_, i) => pod(`b${i}`, { cpu: '700m', owner: 'rs-b', labels: { app: 'b' } }));
    const r2 = compare(batch, nodes);
    expect(r2.unschedulable.length).toBeGreaterThan(0);
    // A node list that changed (one more node) is recounted from the bound pods.
    for (const b of r2.bindings) bind(batch.find((p) => p.metadata!.uid === b.pod.uid)!, b.nodeName);
    compare(
      Array.from({ length: 8 }, (_, i) => pod(`c${i}`, { cpu: '1' })),
      [...nodes, node('n6', { cpu: '2' })],
    );
  });
});

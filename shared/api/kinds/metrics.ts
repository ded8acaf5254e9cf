/**
 * metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics: what `kubectl top` reads. As metrics-server
 * serves them, they are asked of the kubelets when read (functions/api/kubelet-metrics.ts) and
 * stored nowhere; get and list only.
 *
 * metrics.skiff.dev/v1alpha1 NodeHistory: a node's CPU and memory over the last hour, which
 * metrics-server has no place for (it knows the present only), kept by each kubelet
 * (`/stats/history`) and asked of them when read, as NodeMetrics are. Its resourceVersion is the
 * time (ms) of its newest sample, so it can be watched and a watch resumed: the API reads the
 * kubelets again on a clock, asking each only for the points after those it holds, and sends
 * what moved (the dashboard's charts, without polling).
 */
import type { KubeObject } from '../../store/object.js';
import { age, ageColumn, nameColumn } from '../columns.js';
import { parseBytes, parseCpu } from '../quantity.js';
import { asArray, asObj } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const NODE_METRICS = resource('metrics.k8s.io', 'v1beta1', 'nodes', 'NodeMetrics', { namespaced: false, verbs: ['get', 'list'] });
export const POD_METRICS = resource('metrics.k8s.io', 'v1beta1', 'pods', 'PodMetrics', { verbs: ['get', 'list'] });

export const nodeMetrics: Kind = { info: NODE_METRICS, computed: true };
export const podMetrics: Kind = { info: POD_METRICS, computed: true };
export const NODE_HISTORY = resource('metrics.skiff.dev', 'v1alpha1', 'nodehistories', 'NodeHistory', {
  namespaced: false,
  verbs: ['get', 'list', 'watch'],
});
const quantity = (q: unknown, print: (q: string) => string) => (typeof q === 'string' ? print(q) : '<unknown>');
const newest = (o: KubeObject) => asObj(asArray(o.samples).at(-1));
/** `kubectl get nodehistories`: what the node uses now, and how much history there is. */
export const nodeHistory: Kind = {
  info: NODE_HISTORY,
  computed: true,
  columns: [
    nameColumn,
    // As `kubectl top` prints them: millicores, MiB.
    { name: 'CPU', type: 'string', description: 'CPU in use at the newest sample', cell: (o) => quantity(newest(o).cpu, (q) => `${parseCpu(q)}m`) },
    {
      name: 'Memory',
      type: 'string',
      description: 'Memory in use at the newest sample',
      cell: (o) => quantity(newest(o).memory, (q) => `${Math.round(parseBytes(q) / 2 ** 20)}Mi`),
    },
    { name: 'Samples', type: 'integer', description: 'How many samples are kept', cell: (o) => asArray(o.samples).length },
    { name: 'Interval', type: 'string', description: 'Seconds between samples', cell: (o) => `${o.intervalSeconds ?? ''}s` },
    { ...ageColumn, name: 'Since', description: 'How far back the samples go', cell: (o, now) => age(o.metadata.creationTimestamp, now) },
  ],
};

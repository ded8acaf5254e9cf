/**
 * metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics: what `kubectl top` reads. As metrics-server
 * serves them, they are asked of the kubelets when read (functions/api/kubelet-metrics.ts) and
 * stored nowhere; get and list only.
 *
 * metrics.skiff.dev/v1alpha1 NodeHistory: a node's CPU and memory over the last hour, which
 * metrics-server has no place for (it knows the present only), kept by each kubelet
 * (`/stats/history`) and asked of them when read, as NodeMetrics are. Its resourceVersion is the
 * time (ms) of its newest sample, so it can be watched and a watch resumed: the API reads the
 * kubelets again on a clock and sends what moved (the dashboard's charts, without polling).
 */
import { resource, type Kind } from './kind.js';

export const NODE_METRICS = resource('metrics.k8s.io', 'v1beta1', 'nodes', 'NodeMetrics', { namespaced: false, verbs: ['get', 'list'] });
export const POD_METRICS = resource('metrics.k8s.io', 'v1beta1', 'pods', 'PodMetrics', { verbs: ['get', 'list'] });

export const nodeMetrics: Kind = { info: NODE_METRICS, computed: true };
export const podMetrics: Kind = { info: POD_METRICS, computed: true };
export const NODE_HISTORY = resource('metrics.skiff.dev', 'v1alpha1', 'nodehistories', 'NodeHistory', {
  namespaced: false,
  verbs: ['get', 'list', 'watch'],
});
export const nodeHistory: Kind = { info: NODE_HISTORY, computed: true };

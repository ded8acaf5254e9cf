/**
 * metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics: what `kubectl top` reads. As metrics-server
 * serves them, they are asked of the kubelets when read (functions/api/kubelet-metrics.ts) and
 * stored nowhere; get and list only.
 */
import { resource, type Kind } from './kind.js';

export const NODE_METRICS = resource('metrics.k8s.io', 'v1beta1', 'nodes', 'NodeMetrics', { namespaced: false, verbs: ['get', 'list'] });
export const POD_METRICS = resource('metrics.k8s.io', 'v1beta1', 'pods', 'PodMetrics', { verbs: ['get', 'list'] });

export const nodeMetrics: Kind = { info: NODE_METRICS, computed: true };
export const podMetrics: Kind = { info: POD_METRICS, computed: true };

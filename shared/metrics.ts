/**
 * Prometheus metrics under Kubernetes' names (prom-client), so the dashboards made for
 * kube-apiserver, kube-controller-manager, kube-scheduler and the kubelet read Skiff's too. One
 * registry a process: `skiff up` serves the API's, the controllers' and the scheduler's at the
 * API's `/metrics`; each kubelet serves its own on its port. The process's own
 * (`process_cpu_seconds_total`, `nodejs_*`) are there as well.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** kube-apiserver's request latency buckets (seconds). */
const REQUEST_BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

export const apiRequests = new Counter({
  name: 'apiserver_request_total',
  help: 'Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.',
  labelNames: ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component', 'code'],
  registers: [registry],
});

export const apiRequestDuration = new Histogram({
  name: 'apiserver_request_duration_seconds',
  help: 'Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.',
  labelNames: ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
  buckets: REQUEST_BUCKETS,
  registers: [registry],
});

export const apiInflight = new Gauge({
  name: 'apiserver_current_inflight_requests',
  help: 'Maximal number of currently used inflight request limit of this apiserver per request kind in last second.',
  labelNames: ['request_kind'],
  registers: [registry],
});

export const workqueueDepth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers: [registry] });
export const workqueueAdds = new Counter({
  name: 'workqueue_adds_total',
  help: 'Total number of adds handled by workqueue',
  labelNames: ['name'],
  registers: [registry],
});
export const workqueueRetries = new Counter({
  name: 'workqueue_retries_total',
  help: 'Total number of retries handled by workqueue',
  labelNames: ['name'],
  registers: [registry],
});
export const workqueueWork = new Histogram({
  name: 'workqueue_work_duration_seconds',
  help: 'How long in seconds processing an item from workqueue takes.',
  labelNames: ['name'],
  buckets: [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10],
  registers: [registry],
});

export const scheduleAttempts = new Counter({
  name: 'scheduler_schedule_attempts_total',
  help: 'Number of attempts to schedule pods, by the result. unschedulable means a pod could not be scheduled, while error means an internal scheduler problem.',
  labelNames: ['result', 'profile'],
  registers: [registry],
});

export const kubeletRunningPods = new Gauge({ name: 'kubelet_running_pods', help: 'Number of pods that have a running pod sandbox', registers: [registry] });
export const kubeletRunningContainers = new Gauge({
  name: 'kubelet_running_containers',
  help: 'Number of containers currently running',
  labelNames: ['container_state'],
  registers: [registry],
});

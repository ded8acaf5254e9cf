/** core/v1 Service: its ClusterIP and NodePorts are held, unique, at create (`../service-allocation.ts`). */
import { ageColumn, mapSelector, nameColumn } from '../columns.js';
import { Service } from '../schemas/index.js';
import { asArray, asObj, checkPort, invalidValue, isObj } from '../validation.js';
import { allocateNodePorts, allocateService } from '../service-allocation.js';
import { resource, type Kind } from './kind.js';

export const service: Kind = {
  info: resource('', 'v1', 'services', 'Service', { shortNames: ['svc'], categories: ['all'], subresources: ['status'] }),
  schema: Service,
  nameRule: 'dns1035-label',
  columns: [
    nameColumn,
    { name: 'Type', type: 'string', cell: (o) => asObj(o.spec).type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', cell: (o) => asObj(o.spec).clusterIP ?? '<none>' },
    {
      name: 'External-IP',
      type: 'string',
      cell: (o) => {
        const ips = asArray(asObj(o.spec).externalIPs);
        const lb = asArray(asObj(asObj(o.status).loadBalancer).ingress).map((i) => asObj(i).ip ?? asObj(i).hostname);
        const all = [...ips, ...lb];
        if (all.length) return all.join(',');
        return asObj(o.spec).type === 'LoadBalancer' ? '<pending>' : '<none>';
      },
    },
    {
      name: 'Port(s)',
      type: 'string',
      cell: (o) => {
        const ports = asArray(asObj(o.spec).ports)
          .map(asObj)
          .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`);
        return ports.length ? ports.join(',') : '<none>';
      },
    },
    ageColumn,
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => mapSelector(asObj(o.spec).selector) },
  ],
  initialStatus: () => ({ loadBalancer: {} }),
  async admit(object, { store, dryRun }) {
    await allocateService(store, object, dryRun);
  },
  async admitUpdate(object, old, { store, dryRun }) {
    await allocateNodePorts(store, object, old, dryRun);
  },
  defaults(object) {
    const spec = object.spec;
    if (!isObj(spec)) return;
    spec.type ??= 'ClusterIP';
    spec.sessionAffinity ??= 'None';
    spec.internalTrafficPolicy ??= 'Cluster';
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
    for (const p of asArray(spec.ports).map(asObj)) {
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
  },
  validate(object, causes) {
    asArray(asObj(object.spec).ports).forEach((p, i) => {
      checkPort(asObj(p).port, `spec.ports[${i}].port`, causes);
    });
  },
  validateUpdate(object, old, causes) {
    const was = asObj(old.spec).clusterIP;
    const now = asObj(object.spec).clusterIP;
    if (was && now !== undefined && now !== was) causes.push(invalidValue('spec.clusterIP', now, 'field is immutable'));
  },
};

/** core/v1 Node. */
import type { KubeObject } from '../../store/object.js';
import { ageColumn, nameColumn } from '../columns.js';
import { Node } from '../schemas/index.js';
import { asArray, asObj } from '../validation.js';
import { resource, type Kind } from './kind.js';

const address = (type: string) => (o: KubeObject) =>
  asArray(asObj(o.status).addresses)
    .map(asObj)
    .find((a) => a.type === type)?.address ?? '<none>';
const nodeInfo = (field: string, absent: string) => (o: KubeObject) => asObj(asObj(o.status).nodeInfo)[field] ?? absent;

export const node: Kind = {
  info: resource('', 'v1', 'nodes', 'Node', {
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status', 'credential'],
    fieldSelectors: ['spec.unschedulable'],
  }),
  schema: Node,
  columns: [
    nameColumn,
    {
      name: 'Status',
      type: 'string',
      cell: (o) => {
        const ready = asArray(asObj(o.status).conditions)
          .map(asObj)
          .find((c) => c.type === 'Ready');
        const parts = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown'];
        if (asObj(o.spec).unschedulable) parts.push('SchedulingDisabled');
        return parts.join(',');
      },
    },
    {
      name: 'Roles',
      type: 'string',
      cell: (o) => {
        const roles = Object.keys(o.metadata.labels ?? {})
          .filter((k) => k.startsWith('node-role.kubernetes.io/'))
          .map((k) => k.slice('node-role.kubernetes.io/'.length));
        return roles.length ? roles.sort().join(',') : '<none>';
      },
    },
    ageColumn,
    { name: 'Version', type: 'string', cell: nodeInfo('kubeletVersion', '') },
    { name: 'Internal-IP', type: 'string', priority: 1, cell: address('InternalIP') },
    { name: 'External-IP', type: 'string', priority: 1, cell: address('ExternalIP') },
    { name: 'OS-Image', type: 'string', priority: 1, cell: nodeInfo('osImage', '<unknown>') },
    { name: 'Kernel-Version', type: 'string', priority: 1, cell: nodeInfo('kernelVersion', '<unknown>') },
    { name: 'Container-Runtime', type: 'string', priority: 1, cell: nodeInfo('containerRuntimeVersion', '<unknown>') },
  ],
};

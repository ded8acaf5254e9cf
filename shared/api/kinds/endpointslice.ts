/**
 * discovery.k8s.io/v1 EndpointSlice: where a Service's traffic goes, at most 100 endpoints a
 * slice, each with its ready, serving and terminating conditions. Kept by the endpoints
 * controller (shared/controllers/endpoints.ts) for Services with a selector; anyone may write
 * their own for the others.
 */
import { z } from 'zod';
import { ageColumn, nameColumn } from '../columns.js';
import { int32, loose, objectOf, stringMap } from '../schemas/common.js';
import { asArray, asObj, invalidValue, notSupported } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const MAX_ENDPOINTS_PER_SLICE = 100;
const ADDRESS_TYPES = ['IPv4', 'IPv6', 'FQDN'];

const Endpoint = z.strictObject({
  addresses: z.array(z.string()).min(1),
  conditions: z.strictObject({ ready: z.boolean().optional(), serving: z.boolean().optional(), terminating: z.boolean().optional() }).optional(),
  hostname: z.string().optional(),
  targetRef: loose.optional(),
  deprecatedTopology: stringMap.optional(),
  nodeName: z.string().optional(),
  zone: z.string().optional(),
  hints: loose.optional(),
});

export const EndpointSlice = objectOf('discovery.k8s.io/v1', 'EndpointSlice', {
  addressType: z.string(),
  endpoints: z.array(Endpoint).max(1000).nullable().optional(),
  ports: z
    .array(z.strictObject({ name: z.string().optional(), protocol: z.string().optional(), port: int32.optional(), appProtocol: z.string().optional() }))
    .max(100)
    .nullable()
    .optional(),
});

export const endpointSlice: Kind = {
  info: resource('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
  schema: EndpointSlice,
  columns: [
    nameColumn,
    { name: 'AddressType', type: 'string', cell: (o) => String(o.addressType ?? '') },
    {
      name: 'Ports',
      type: 'string',
      cell: (o) => {
        const ports = asArray(o.ports).map((p) => String(asObj(p).port ?? ''));
        return ports.length ? ports.join(',') : '<unset>';
      },
    },
    {
      name: 'Endpoints',
      type: 'string',
      cell: (o) => {
        const list = asArray(o.endpoints).flatMap((e) => asArray(asObj(e).addresses).map(String));
        if (list.length === 0) return '<unset>';
        return list.length > 3 ? `${list.slice(0, 3).join(',')} + ${list.length - 3} more...` : list.join(',');
      },
    },
    ageColumn,
  ],
  validate(object, causes) {
    if (!ADDRESS_TYPES.includes(String(object.addressType))) causes.push(notSupported('addressType', object.addressType, ADDRESS_TYPES));
  },
  validateUpdate(object, old, causes) {
    if (object.addressType !== old.addressType) causes.push(invalidValue('addressType', object.addressType, 'field is immutable'));
  },
};

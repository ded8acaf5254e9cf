/**
 * networking.k8s.io/v1 Ingress and IngressClass: HTTP and HTTPS routes by host and path to
 * Services. `skiff up` runs the controller of the `skiff` class (shared/ingress/controller.ts),
 * which it makes the default class.
 */
import { z } from 'zod';
import { ageColumn, nameColumn } from '../columns.js';
import { int32, loose, objectOf } from '../schemas/common.js';
import { asArray, asObj, invalidValue, isObj, notSupported, required } from '../validation.js';
import { resource, type Kind } from './kind.js';

const PATH_TYPES = ['Exact', 'Prefix', 'ImplementationSpecific'];
const HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const ServiceBackend = z.strictObject({ name: z.string(), port: z.strictObject({ name: z.string().optional(), number: int32.optional() }).optional() });
const Backend = z.strictObject({ service: ServiceBackend.optional(), resource: loose.optional() });

export const Ingress = objectOf('networking.k8s.io/v1', 'Ingress', {
  spec: z
    .strictObject({
      ingressClassName: z.string().optional(),
      defaultBackend: Backend.optional(),
      tls: z.array(z.strictObject({ hosts: z.array(z.string()).optional(), secretName: z.string().optional() })).optional(),
      rules: z
        .array(
          z.strictObject({
            host: z.string().optional(),
            http: z.strictObject({ paths: z.array(z.strictObject({ path: z.string().optional(), pathType: z.string(), backend: Backend })) }).optional(),
          }),
        )
        .optional(),
    })
    .optional(),
  status: z.strictObject({ loadBalancer: z.looseObject({ ingress: z.array(loose).optional() }).optional() }).optional(),
});

export const IngressClass = objectOf('networking.k8s.io/v1', 'IngressClass', {
  spec: z.strictObject({ controller: z.string().optional(), parameters: loose.optional() }).optional(),
});

/** A backend names a Service and a port (by number or name). */
function checkBackend(backend: unknown, field: string, causes: Parameters<NonNullable<Kind['validate']>>[1]): void {
  const service = asObj(asObj(backend).service);
  if (!isObj(asObj(backend).service) && !isObj(asObj(backend).resource)) causes.push(required(`${field}.service`));
  if (!isObj(asObj(backend).service)) return;
  const port = asObj(service.port);
  if (port.name === undefined && port.number === undefined) causes.push(required(`${field}.service.port`, 'port name or number is required'));
  if (port.name !== undefined && port.number !== undefined) causes.push(invalidValue(`${field}.service.port`, port, 'cannot set both port name & port number'));
}

export const ingress: Kind = {
  info: resource('networking.k8s.io', 'v1', 'ingresses', 'Ingress', { shortNames: ['ing'], subresources: ['status'] }),
  schema: Ingress,
  columns: [
    nameColumn,
    { name: 'Class', type: 'string', cell: (o) => String(asObj(o.spec).ingressClassName ?? '<none>') },
    {
      name: 'Hosts',
      type: 'string',
      cell: (o) => {
        const hosts = asArray(asObj(o.spec).rules).map((r) => String(asObj(r).host ?? '*'));
        return hosts.length ? hosts.join(',') : '*';
      },
    },
    {
      name: 'Address',
      type: 'string',
      cell: (o) =>
        asArray(asObj(asObj(o.status).loadBalancer).ingress)
          .map((i) => asObj(i).ip ?? asObj(i).hostname)
          .join(','),
    },
    { name: 'Ports', type: 'string', cell: (o) => (asArray(asObj(o.spec).tls).length ? '80, 443' : '80') },
    ageColumn,
  ],
  initialStatus: () => ({ loadBalancer: {} }),
  validate(object, causes) {
    const spec = asObj(object.spec);
    if (spec.defaultBackend !== undefined) checkBackend(spec.defaultBackend, 'spec.defaultBackend', causes);
    if (!spec.defaultBackend && asArray(spec.rules).length === 0)
      causes.push(invalidValue('spec.rules', [], 'either `defaultBackend` or `rules` must be specified'));
    asArray(spec.rules).forEach((r, i) => {
      const host = asObj(r).host;
      if (typeof host === 'string' && !HOST.test(host))
        causes.push(invalidValue(`spec.rules[${i}].host`, host, "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain"));
      asArray(asObj(asObj(r).http).paths).forEach((p, j) => {
        const field = `spec.rules[${i}].http.paths[${j}]`;
        const path = asObj(p);
        if (!PATH_TYPES.includes(String(path.pathType))) causes.push(notSupported(`${field}.pathType`, path.pathType, PATH_TYPES));
        if (path.pathType !== 'ImplementationSpecific' && !String(path.path ?? '').startsWith('/'))
          causes.push(invalidValue(`${field}.path`, path.path, 'must be an absolute path'));
        checkBackend(path.backend, `${field}.backend`, causes);
      });
    });
  },
};

export const ingressClass: Kind = {
  info: resource('networking.k8s.io', 'v1', 'ingressclasses', 'IngressClass', { namespaced: false }),
  schema: IngressClass,
  columns: [
    nameColumn,
    { name: 'Controller', type: 'string', cell: (o) => String(asObj(o.spec).controller ?? '') },
    { name: 'Parameters', type: 'string', cell: () => '<none>' },
    ageColumn,
  ],
  validate(object, causes) {
    if (!asObj(object.spec).controller) causes.push(required('spec.controller'));
  },
};

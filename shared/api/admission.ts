/**
 * What the API does to an object before it is stored, per kind, as kube-apiserver's
 * strategies do: reset what clients may not set, fill defaults (so `describe` prints what a
 * user expects), and validate names, labels, required fields and immutable fields.
 */
import { randomInt } from 'node:crypto';
import type { KubeObject } from '../store/object.js';
import { labelKeyError, labelValueError } from '../store/selectors.js';
import { generateNameError, nameError, nameRuleFor } from './names.js';
import type { ResourceInfo } from './resources.js';
import { SCHEMAS } from './schemas/index.js';
import type { StatusCause } from './status.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const required = (field: string, message = 'Required value'): StatusCause => ({ type: 'FieldValueRequired', field, message });
const invalidValue = (field: string, value: unknown, message: string): StatusCause => ({
  type: 'FieldValueInvalid',
  field,
  message: `Invalid value: ${JSON.stringify(value)}: ${message}`,
});
const forbidden = (field: string, message: string): StatusCause => ({ type: 'FieldValueForbidden', field, message: `Forbidden: ${message}` });

/** Fields the server owns: a client's values are dropped on create. */
export function resetServerFields(object: KubeObject): void {
  const meta = object.metadata;
  for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink']) delete meta[f];
}

/** The status a new object starts with, for kinds whose status only the system writes. */
export function initialStatus(kind: string, object: KubeObject): unknown {
  switch (kind) {
    case 'Pod':
      return { phase: 'Pending', qosClass: qosClass(object) };
    case 'Deployment':
    case 'ReplicaSet':
      return {};
    case 'Service':
      return { loadBalancer: {} };
    case 'Namespace':
      return { phase: 'Active' };
    default:
      return object.status;
  }
}

function qosClass(pod: KubeObject): string {
  const containers = asArray(asObj(pod.spec).containers).map(asObj);
  let anyRequest = false;
  let allGuaranteed = containers.length > 0;
  for (const c of containers) {
    const res = asObj(c.resources);
    const limits = asObj(res.limits);
    const requests = asObj(res.requests);
    if (Object.keys(limits).length || Object.keys(requests).length) anyRequest = true;
    for (const r of ['cpu', 'memory']) {
      const limit = limits[r];
      const request = requests[r] ?? limit;
      if (limit === undefined || request !== limit) allGuaranteed = false;
    }
  }
  if (allGuaranteed) return 'Guaranteed';
  return anyRequest ? 'Burstable' : 'BestEffort';
}

function defaultContainer(c: Obj): void {
  const image = typeof c.image === 'string' ? c.image : '';
  const tag = image.includes('@') ? 'digest' : image.split('/').pop()!.split(':')[1];
  c.imagePullPolicy ??= !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  for (const p of asArray(c.ports).map(asObj)) p.protocol ??= 'TCP';
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    if (!isObj(c[probe])) continue;
    const pr = c[probe] as Obj;
    pr.timeoutSeconds ??= 1;
    pr.periodSeconds ??= 10;
    pr.successThreshold ??= 1;
    pr.failureThreshold ??= 3;
    if (isObj(pr.httpGet)) (pr.httpGet as Obj).scheme ??= 'HTTP';
    if (isObj(pr.httpGet)) (pr.httpGet as Obj).path ??= '/';
  }
}

function defaultPodSpec(spec: Obj): void {
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  for (const c of [...asArray(spec.containers), ...asArray(spec.initContainers)]) if (isObj(c)) defaultContainer(c);
}

function defaultIntOrPercent(value: unknown, fallback: string): unknown {
  return value === undefined || value === null ? fallback : value;
}

/** Fills Kubernetes' defaults in place. */
export function applyDefaults(kind: string, object: KubeObject): void {
  const spec = isObj(object.spec) ? (object.spec as Obj) : undefined;
  switch (kind) {
    case 'Pod':
      if (spec) defaultPodSpec(spec);
      break;
    case 'Deployment': {
      if (!spec) break;
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      const strategy = (spec.strategy = asObj(spec.strategy));
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') {
        const ru = (strategy.rollingUpdate = asObj(strategy.rollingUpdate));
        ru.maxUnavailable = defaultIntOrPercent(ru.maxUnavailable, '25%');
        ru.maxSurge = defaultIntOrPercent(ru.maxSurge, '25%');
      }
      const template = asObj(spec.template);
      if (isObj(template.spec)) defaultPodSpec(template.spec as Obj);
      break;
    }
    case 'ReplicaSet': {
      if (!spec) break;
      spec.replicas ??= 1;
      const template = asObj(spec.template);
      if (isObj(template.spec)) defaultPodSpec(template.spec as Obj);
      break;
    }
    case 'Service': {
      if (!spec) break;
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      spec.internalTrafficPolicy ??= 'Cluster';
      spec.ipFamilies ??= ['IPv4'];
      spec.ipFamilyPolicy ??= 'SingleStack';
      if (spec.type !== 'ExternalName' && spec.clusterIP === undefined) {
        const ip = `10.96.${randomInt(0, 256)}.${randomInt(1, 255)}`;
        spec.clusterIP = ip;
        spec.clusterIPs = [ip];
      }
      for (const p of asArray(spec.ports).map(asObj)) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
      }
      break;
    }
    case 'Secret':
      object.type ??= 'Opaque';
      break;
    case 'Namespace':
      object.spec = { finalizers: ['kubernetes'], ...asObj(object.spec) };
      break;
  }
}

function validateMetadata(info: ResourceInfo, object: KubeObject, causes: StatusCause[]): void {
  const meta = object.metadata;
  const name = meta.name;
  if (!name && !meta.generateName) causes.push(required('metadata.name', 'Required value: name or generateName is required'));
  if (meta.generateName) {
    const err = generateNameError(meta.generateName, nameRuleFor(info.kind));
    if (err) causes.push(invalidValue('metadata.generateName', meta.generateName, err));
  }
  if (name) {
    const err = nameError(name, nameRuleFor(info.kind));
    if (err) causes.push(invalidValue('metadata.name', name, err));
  }
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    const keyErr = labelKeyError(key);
    if (keyErr) causes.push(invalidValue('metadata.labels', key, keyErr));
    if (typeof value !== 'string') causes.push(invalidValue(`metadata.labels[${key}]`, value, 'must be a string'));
    else {
      const valueErr = labelValueError(value);
      if (valueErr) causes.push(invalidValue('metadata.labels', value, valueErr));
    }
  }
  for (const [key, value] of Object.entries(meta.annotations ?? {})) {
    const keyErr = labelKeyError(key);
    if (keyErr) causes.push(invalidValue('metadata.annotations', key, keyErr));
    if (typeof value !== 'string') causes.push(invalidValue(`metadata.annotations[${key}]`, value, 'must be a string'));
  }
}

function validatePodSpec(spec: unknown, path: string, causes: StatusCause[]): void {
  if (!isObj(spec)) {
    causes.push(required(path));
    return;
  }
  const containers = asArray(spec.containers);
  if (containers.length === 0) causes.push(required(`${path}.containers`));
  const names = new Set<string>();
  [...containers.map((c, i) => [`${path}.containers[${i}]`, c] as const), ...asArray(spec.initContainers).map((c, i) => [`${path}.initContainers[${i}]`, c] as const)].forEach(([p, raw]) => {
    const c = asObj(raw);
    if (typeof c.name !== 'string' || !c.name) causes.push(required(`${p}.name`));
    else {
      const err = nameError(c.name, 'dns1123-label');
      if (err) causes.push(invalidValue(`${p}.name`, c.name, err));
      if (names.has(c.name)) causes.push({ type: 'FieldValueDuplicate', field: `${p}.name`, message: `Duplicate value: ${JSON.stringify(c.name)}` });
      names.add(c.name);
    }
    if (typeof c.image !== 'string' || !c.image.trim()) causes.push(required(`${p}.image`));
    asArray(c.ports).forEach((port, j) => {
      const cp = asObj(port).containerPort;
      if (typeof cp !== 'number' || !Number.isInteger(cp) || cp < 1 || cp > 65535) {
        causes.push(invalidValue(`${p}.ports[${j}].containerPort`, cp, 'must be between 1 and 65535, inclusive'));
      }
    });
  });
  const policy = spec.restartPolicy;
  if (policy !== undefined && !['Always', 'OnFailure', 'Never'].includes(policy as string)) {
    causes.push({ type: 'FieldValueNotSupported', field: `${path}.restartPolicy`, message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Always", "OnFailure", "Never"` });
  }
}

function selectorMatchesTemplate(spec: Obj, path: string, causes: StatusCause[]): void {
  const selector = asObj(spec.selector);
  const matchLabels = asObj(selector.matchLabels);
  if (!isObj(spec.selector) || (Object.keys(matchLabels).length === 0 && asArray(selector.matchExpressions).length === 0)) {
    causes.push(required(`${path}.selector`));
    return;
  }
  const labels = asObj(asObj(asObj(spec.template).metadata).labels);
  for (const [k, v] of Object.entries(matchLabels)) {
    if (labels[k] !== v) {
      causes.push(invalidValue(`${path}.template.metadata.labels`, labels, '`selector` does not match template `labels`'));
      return;
    }
  }
}

function validateKind(info: ResourceInfo, object: KubeObject, causes: StatusCause[]): void {
  const spec = object.spec;
  switch (info.kind) {
    case 'Pod':
      validatePodSpec(spec, 'spec', causes);
      break;
    case 'Deployment':
    case 'ReplicaSet': {
      if (!isObj(spec)) {
        causes.push(required('spec'));
        break;
      }
      const replicas = spec.replicas;
      if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)) {
        causes.push(invalidValue('spec.replicas', replicas, 'must be greater than or equal to 0'));
      }
      selectorMatchesTemplate(spec, 'spec', causes);
      validatePodSpec(asObj(spec.template).spec, 'spec.template.spec', causes);
      if (info.kind === 'Deployment') {
        const strategy = asObj(spec.strategy);
        if (strategy.type !== undefined && !['RollingUpdate', 'Recreate'].includes(strategy.type as string)) {
          causes.push({ type: 'FieldValueNotSupported', field: 'spec.strategy.type', message: `Unsupported value: ${JSON.stringify(strategy.type)}: supported values: "Recreate", "RollingUpdate"` });
        }
        const ru = asObj(strategy.rollingUpdate);
        if (ru.maxSurge !== undefined && ru.maxUnavailable !== undefined && isZero(ru.maxSurge) && isZero(ru.maxUnavailable)) {
          causes.push(invalidValue('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
        }
      }
      break;
    }
    case 'Service':
      asArray(asObj(spec).ports).forEach((p, i) => {
        const port = asObj(p).port;
        if (typeof port !== 'number' || port < 1 || port > 65535) causes.push(invalidValue(`spec.ports[${i}].port`, port, 'must be between 1 and 65535, inclusive'));
      });
      break;
    case 'ConfigMap':
    case 'Secret':
      for (const field of ['data', 'binaryData', 'stringData']) {
        for (const key of Object.keys(asObj(object[field]))) {
          if (!/^[-._a-zA-Z0-9]+$/.test(key) || key.length > 253) {
            causes.push(invalidValue(`${field}[${key}]`, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
          }
        }
      }
      break;
  }
}

function isZero(v: unknown): boolean {
  return v === 0 || v === '0' || v === '0%';
}

/** Validates a new object; returns the causes (empty when valid). Schema causes come from `checkSchema`. */
export function validateCreate(info: ResourceInfo, object: KubeObject, schemaCauses: StatusCause[] = []): StatusCause[] {
  const causes: StatusCause[] = [...schemaCauses];
  validateMetadata(info, object, causes);
  validateKind(info, object, causes);
  return causes;
}

const POD_MUTABLE_CONTAINER_FIELDS = ['image'];

/** Validates an update against the stored object: the create rules plus immutable fields. */
export function validateUpdate(info: ResourceInfo, object: KubeObject, old: KubeObject, schemaCauses: StatusCause[] = []): StatusCause[] {
  const causes = validateCreate(info, object, schemaCauses);
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  switch (info.kind) {
    case 'Deployment':
    case 'ReplicaSet':
      if (!same(asObj(object.spec).selector, asObj(old.spec).selector)) {
        causes.push(invalidValue('spec.selector', asObj(object.spec).selector, 'field is immutable'));
      }
      break;
    case 'Pod': {
      const strip = (spec: unknown) => {
        const copy = structuredClone(asObj(spec));
        for (const list of ['containers', 'initContainers']) {
          copy[list] = asArray(copy[list]).map((c) => {
            const cc = { ...asObj(c) };
            for (const f of POD_MUTABLE_CONTAINER_FIELDS) delete cc[f];
            return cc;
          });
        }
        delete copy.activeDeadlineSeconds;
        delete copy.tolerations;
        delete copy.terminationGracePeriodSeconds;
        // The scheduler's binding writes nodeName once.
        if (!asObj(old.spec).nodeName) delete copy.nodeName;
        return copy;
      };
      if (!same(strip(object.spec), strip(old.spec))) {
        causes.push(forbidden('spec', 'pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'));
      }
      break;
    }
    case 'ConfigMap':
    case 'Secret':
      if (old.immutable === true) {
        for (const field of ['data', 'binaryData', 'stringData', 'immutable']) {
          if (!same(object[field], old[field])) causes.push(forbidden(field, 'field is immutable when `immutable` is set'));
        }
      }
      break;
    case 'Service':
      if (asObj(old.spec).clusterIP && asObj(object.spec).clusterIP !== undefined && asObj(object.spec).clusterIP !== asObj(old.spec).clusterIP) {
        causes.push(invalidValue('spec.clusterIP', asObj(object.spec).clusterIP, 'field is immutable'));
      }
      break;
  }
  return causes;
}

/** A zod issue path as Kubernetes writes a field: `spec.containers[0].image`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

export interface SchemaReport {
  /** Unknown fields, with where they are and their dotted path. */
  unknown: { path: readonly PropertyKey[]; key: string; field: string }[];
  /** Values of the wrong JSON type: Kubernetes cannot decode these (400). */
  decodeErrors: string[];
  /** Values the schema does not allow (422 causes). */
  causes: StatusCause[];
}

function valueAtPath(object: unknown, path: readonly PropertyKey[]): unknown {
  let cur = object;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[part];
  }
  return cur;
}

/** Checks an object against its kind's zod schema (`shared/api/schemas`). */
export function checkSchema(kind: string, object: Obj): SchemaReport {
  const report: SchemaReport = { unknown: [], decodeErrors: [], causes: [] };
  const schema = SCHEMAS[kind];
  if (!schema) return report;
  const result = schema.safeParse(object);
  if (result.success) return report;
  for (const issue of result.error.issues) {
    const field = fieldPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) report.unknown.push({ path: issue.path, key, field: field ? `${field}.${key}` : key });
    } else if (issue.code === 'invalid_value') {
      const value = valueAtPath(object, issue.path);
      const allowed = (issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      report.causes.push({ type: 'FieldValueNotSupported', field, message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed}` });
    } else if (valueAtPath(object, issue.path) !== undefined) {
      // Missing required fields are reported by validation, as 422 with their own wording.
      report.decodeErrors.push(`${field}: ${issue.message}`);
    }
  }
  return report;
}

/** Unknown fields, as dotted paths (`spec.replicaz`, `spec.template.spec.containers[0].imagee`). */
export function unknownFields(kind: string, object: Obj): string[] {
  return checkSchema(kind, object).unknown.map((u) => u.field);
}

/** Removes unknown fields (in place), as decoding into a typed object would; returns them. */
export function pruneUnknownFields(kind: string, object: Obj): string[] {
  const { unknown } = checkSchema(kind, object);
  for (const u of unknown) {
    const parent = valueAtPath(object, u.path);
    if (parent && typeof parent === 'object') delete (parent as Obj)[u.key];
  }
  return unknown.map((u) => u.field);
}

/**
 * A CRD's structural schema applied to custom resources (prune, default, validate) and checked
 * itself; the JSONPath of printer columns. Messages are kube-apiserver's.
 */
import { describe, expect, it } from 'vitest';
import { evaluate, JsonPathError, parseJsonPath, setAt } from '../../shared/api/custom/jsonpath.js';
import { checkStructural } from '../../shared/api/custom/schema-check.js';
import { applySchemaDefaults, type JSONSchemaProps, prune, validateValue } from '../../shared/api/custom/structural.js';
import type { StatusCause } from '../../shared/api/status.js';

const messages = (schema: JSONSchemaProps, value: unknown) => {
  const causes: StatusCause[] = [];
  validateValue(schema, value, '', causes);
  return causes.map((c) => `${c.field}: ${c.message}`);
};
const object = (properties: Record<string, JSONSchemaProps>, extra: JSONSchemaProps = {}): JSONSchemaProps => ({ type: 'object', properties, ...extra });
const spec = (properties: Record<string, JSONSchemaProps>, extra: JSONSchemaProps = {}) => object({ spec: object(properties, extra) });

describe('validation of custom resources', () => {
  it('numbers, strings and formats', () => {
    const s = spec({
      ratio: { type: 'number', exclusiveMaximum: true, maximum: 1, multipleOf: 0.25 },
      name: { type: 'string', minLength: 2, maxLength: 4 },
      mail: { type: 'string', format: 'email' },
      when: { type: 'string', format: 'date-time' },
      net: { type: 'string', format: 'cidr' },
      id: { type: 'string', format: 'uuid' },
      small: { type: 'integer', format: 'int32' },
    });
    expect(
      messages(s, {
        spec: {
          ratio: 0.5,
          name: 'abc',
          mail: 'a@b.io',
          when: '2026-11-28T10:00:00Z',
          net: '10.0.0.0/8',
          id: '0b5e1d9c-8a1f-4f0e-9d8e-2b4a1c7d6e5f',
          small: 7,
        },
      }),
    ).toEqual([]);
    expect(messages(s, { spec: { ratio: 1, name: 'a', mail: 'nobody', when: 'tuesday', net: '10.0.0.0/33', id: 'x', small: 2 ** 31 } })).toEqual([
      'spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1',
      'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long',
      'spec.mail: Invalid value: "nobody": spec.mail in body must be of type email: "nobody"',
      'spec.when: Invalid value: "tuesday": spec.when in body must be of type date-time: "tuesday"',
      'spec.net: Invalid value: "10.0.0.0/33": spec.net in body must be of type cidr: "10.0.0.0/33"',
      'spec.id: Invalid value: "x": spec.id in body must be of type uuid: "x"',
      'spec.small: Invalid value: 2147483648: spec.small in body must be of type int32: 2147483648',
    ]);
    expect(messages(s, { spec: { ratio: 0.3, name: 'abcde' } })).toEqual([
      'spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.25',
      'spec.name: Too long: may not be more than 4 bytes',
    ]);
  });

  it('lists: sizes, sets, maps by key; maps of values; null only where nullable', () => {
    const s = spec({
      tags: { type: 'array', items: { type: 'string' }, maxItems: 2, 'x-kubernetes-list-type': 'set' },
      ports: {
        type: 'array',
        minItems: 1,
        items: object({ name: { type: 'string' }, port: { type: 'integer' } }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      },
      env: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 1 },
      maybe: { type: 'string', nullable: true },
      never: { type: 'string' },
    });
    expect(messages(s, { spec: { tags: ['a', 'b'], ports: [{ name: 'http', port: 80 }], env: { A: '1' }, maybe: null } })).toEqual([]);
    expect(
      messages(s, {
        spec: {
          tags: ['a', 'a', 'b'],
          ports: [
            { name: 'h', port: 1 },
            { name: 'h', port: 2 },
          ],
          env: { A: 1, B: '2' },
          never: null,
        },
      }),
    ).toEqual([
      'spec.tags: Too many: 3: must have at most 2 items',
      'spec.tags[1]: Duplicate value: "a"',
      'spec.ports[1]: Duplicate value: {"name":"h"}',
      'spec.env: Too many: 2: must have at most 1 items',
      'spec.env[A]: Invalid value: "integer": spec.env[A] in body must be of type string: "integer"',
      'spec.never: Invalid value: "null": spec.never in body must be of type string: "null"',
    ]);
    expect(messages(s, { spec: { ports: [] } })).toEqual(['spec.ports: Invalid value: 0: spec.ports in body should have at least 1 items']);
  });

  it('embedded resources, anyOf, oneOf and not', () => {
    const s = spec({
      template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
      size: { type: 'integer', anyOf: [{ minimum: 10 }, { maximum: 2 }] },
      pick: { type: 'string', oneOf: [{ enum: ['a', 'b'] }, { enum: ['b', 'c'] }] },
      name: { type: 'string', not: { enum: ['root'] } },
    });
    expect(messages(s, { spec: { template: { apiVersion: 'v1', kind: 'Pod', spec: {} }, size: 1, pick: 'a', name: 'me' } })).toEqual([]);
    expect(messages(s, { spec: { template: { spec: {} }, size: 5, pick: 'b', name: 'root' } })).toEqual([
      'spec.template.apiVersion: Required value: must not be empty',
      'spec.template.kind: Required value: must not be empty',
      'spec.size: Invalid value: "": "spec.size" must validate at least one schema (anyOf)',
      'spec.pick: Invalid value: "": "spec.pick" must validate one and only one schema (oneOf). Found 2 valid alternatives',
      'spec.name: Invalid value: "": "spec.name" must not validate the schema (not)',
    ]);
  });
});

describe('pruning and defaulting', () => {
  const s = object({
    spec: object({
      keep: { type: 'string' },
      nested: object({ level: { type: 'integer', default: 3 }, when: { type: 'string' } }, { default: {} }),
      free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      items: { type: 'array', items: object({ name: { type: 'string' }, weight: { type: 'integer', default: 1 } }) },
      labels: { type: 'object', additionalProperties: object({ v: { type: 'string' } }) },
      flag: { type: 'boolean', default: false },
    }),
  });

  it('prunes what the schema does not know, keeping apiVersion, kind, metadata and preserved fields', () => {
    const cr = {
      apiVersion: 'x.io/v1',
      kind: 'X',
      metadata: { name: 'a' },
      top: 1,
      spec: { keep: 'k', drop: 1, free: { any: { deep: [1] } }, items: [{ name: 'a', extra: true }], labels: { l: { v: 'x', w: 'y' } } },
    };
    expect(prune(s, cr).map((u) => u.field)).toEqual(['top', 'spec.drop', 'spec.items[0].extra', 'spec.labels[l].w']);
  });

  it('fills defaults where fields are missing (and in a defaulted object, its own), and in list items', () => {
    const cr: Record<string, unknown> = { spec: { items: [{ name: 'a' }, { name: 'b', weight: 5 }], flag: null } };
    applySchemaDefaults(s, cr);
    expect(cr.spec).toEqual({
      items: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 5 },
      ],
      flag: false,
      nested: { level: 3 },
    });
  });
});

describe('a CRD schema must be structural', () => {
  const causes = (schema: unknown) => {
    const found: StatusCause[] = [];
    checkStructural(schema, 'schema', found);
    return found.map((c) => `${c.field}: ${c.message}`);
  };

  it('accepts a structural schema', () => {
    const ok = object({
      metadata: object({ name: { type: 'string', maxLength: 10 } }),
      spec: object({
        port: { 'x-kubernetes-int-or-string': true },
        any: { 'x-kubernetes-preserve-unknown-fields': true },
        list: { type: 'array', items: { type: 'string' } },
      }),
    });
    expect(causes(ok)).toEqual([]);
  });

  it('names each way a schema is not structural', () => {
    const bad = {
      type: 'object',
      properties: {
        metadata: { type: 'object', properties: { labels: { type: 'object' } } },
        spec: {
          type: 'object',
          properties: { a: { type: 'string' } },
          additionalProperties: { type: 'string' },
        },
        list: { type: 'array' },
        size: { type: 'integer', default: 'big' },
        name: { type: 'string', pattern: '(' },
        kind: { type: 'thing' },
        ref: { $ref: '#/definitions/x' },
        ports: { type: 'array', 'x-kubernetes-list-type': 'map', items: { type: 'object' } },
      },
    };
    expect(causes(bad)).toEqual([
      'schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified',
      'schema.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive',
      'schema.properties[list].items: Required value: must be specified',
      'schema.properties[size].default: Invalid value: "string": schema.properties[size].default in body must be of type integer: "string"',
      expect.stringMatching(/^schema\.properties\[name\]\.pattern: Invalid value: "\(": must be a valid regular expression/),
      'schema.properties[kind].type: Unsupported value: "thing": supported values: "array", "boolean", "integer", "number", "object", "string"',
      'schema.properties[ref].$ref: Forbidden: $ref is not supported',
      'schema.properties[ref].type: Required value: must not be empty for specified object fields',
      'schema.properties[ports].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map',
    ]);
    expect(causes({ type: 'string' })).toEqual(['schema.type: Invalid value: "string": must be object at the root']);
  });
});

describe('JSONPath of printer columns', () => {
  const pod = {
    metadata: { labels: { 'app.kubernetes.io/name': 'web' } },
    spec: { ports: [{ port: 80 }, { port: 443 }] },
    status: {
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'Synced', status: 'False' },
      ],
    },
  };
  const at = (path: string) => evaluate(parseJsonPath(path), pod);

  it('fields, indexes, wildcards, filters and quoted keys', () => {
    expect(at('.spec.ports[0].port')).toEqual([80]);
    expect(at('.spec.ports[-1].port')).toEqual([443]);
    expect(at('{.spec.ports[*].port}')).toEqual([80, 443]);
    expect(at('.status.conditions[?(@.type=="Ready")].status')).toEqual(['True']);
    expect(at(".status.conditions[?(@.status!='True')].type")).toEqual(['Synced']);
    expect(at(".metadata.labels['app.kubernetes.io/name']")).toEqual(['web']);
    expect(at('.metadata.labels.app\\.kubernetes\\.io/name')).toEqual(['web']);
    expect(at('.spec.missing')).toEqual([]);
  });

  it('refuses what is not a path, and sets a field path', () => {
    expect(() => parseJsonPath('spec.x')).toThrow(JsonPathError);
    expect(() => parseJsonPath('.spec[')).toThrow(JsonPathError);
    const o: Record<string, unknown> = { spec: { a: 1 } };
    setAt('.spec.scale.replicas', o, 3);
    expect(o).toEqual({ spec: { a: 1, scale: { replicas: 3 } } });
  });
});

/**
 * A CRD's validation rules (`x-kubernetes-validations`), in CEL, as kube-apiserver runs them:
 * each rule on the value of its schema node (`self`), a transition rule (one that reads
 * `oldSelf`) only on an update where the old value exists; a rule that yields false is a cause
 * with its `message` (or `messageExpression`'s, or `failed rule: <rule>`), at its node's path
 * (plus `fieldPath`), of its `reason`'s type. Values are typed by the schema (an integer field
 * is a CEL int, an object a map), so `self.replicas <= self.max` and `has(self.x)` read as
 * Kubernetes reads them.
 *
 * The evaluator is @bufbuild/cel (the CEL standard library and its strings extension), loaded
 * on first use: most API instances never meet a rule, and a function's cold start should not pay
 * for it. So the rules run in admission (which may wait), after the schema's checks.
 * Kubernetes' own CEL libraries (lists, regex, quantity, url, ip, ...) are not there: a rule
 * that calls one is refused when the CRD is written, saying which function, rather than failing
 * on every object later.
 */
import type { CelInput } from '@bufbuild/cel';
import type { StatusCause } from '../status.js';
import type { JSONSchemaProps } from './structural.js';

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

type Cel = typeof import('@bufbuild/cel');
let loading: Promise<void> | undefined;
let cel: Cel;
let env: ReturnType<Cel['celEnv']>;

/** Loads the evaluator, once. */
function ready(): Promise<void> {
  loading ??= Promise.all([import('@bufbuild/cel'), import('@bufbuild/cel/ext')]).then(([lib, ext]) => {
    cel = lib;
    env = lib.celEnv({ funcs: ext.strings });
  });
  return loading;
}

/** What the planner evaluates itself (operators, index, has and the macros' helpers): not in the function table. */
const NATIVE = new Set(['@not_strictly_false', '_&&_', '_||_', '_?_:_', '_[_]', '_[?_]', '_?._']);
const REASONS = ['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate'];

type Program = (bindings: Record<string, CelInput>) => unknown;

interface Compiled {
  rule: ValidationRule;
  run: Program;
  message?: Program;
  transition: boolean;
}

const compiled = new Map<string, Program>();

/** The expression planned once, or the reason it cannot be run. */
function compile(expression: string): Program | string {
  const known = compiled.get(expression);
  if (known) return known;
  let parsed: ReturnType<Cel['parse']>;
  try {
    parsed = cel.parse(expression);
  } catch (err) {
    return `compilation failed: ${(err as Error).message}`;
  }
  const unknown = [...callsOf(parsed.expr)].filter((name) => !NATIVE.has(name) && !env.funcs.find(name));
  if (unknown.length)
    return `compilation failed: undeclared reference to '${unknown[0]}' (this server's CEL has the standard library and the strings extension, not Kubernetes' list, regex, quantity, url or ip libraries)`;
  const program = cel.plan(env, parsed) as unknown as Program;
  compiled.set(expression, program);
  return program;
}

/** The names of the functions an expression calls (walking the parsed protobuf form). */
function callsOf(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) callsOf(n, found);
  else if (node && typeof node === 'object') {
    const n = node as { case?: string; value?: { function?: string } };
    if (n.case === 'callExpr' && typeof n.value?.function === 'string') found.add(n.value.function);
    for (const [key, value] of Object.entries(node)) if (key !== '$typeName') callsOf(value, found);
  }
  return found;
}

const rulesOf = (s: JSONSchemaProps) => (s['x-kubernetes-validations'] ?? []) as ValidationRule[];

/** The causes of each rule of the schema, at any depth, that cannot be compiled or is malformed. */
export async function ruleErrors(schema: JSONSchemaProps, field: string): Promise<StatusCause[]> {
  await ready();
  const causes: StatusCause[] = [];
  for (const [node, at] of schemaNodes(schema, field)) if (Array.isArray(node['x-kubernetes-validations'])) checkRules(node, at, causes);
  return causes;
}

/** Every node of a schema that may carry rules (properties, items, additionalProperties), with its path. */
function* schemaNodes(schema: JSONSchemaProps, field: string): Generator<[JSONSchemaProps, string]> {
  if (!schema || typeof schema !== 'object') return;
  yield [schema, field];
  for (const [key, sub] of Object.entries(schema.properties ?? {})) yield* schemaNodes(sub, `${field}.properties[${key}]`);
  if (schema.items && !Array.isArray(schema.items)) yield* schemaNodes(schema.items, `${field}.items`);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
    yield* schemaNodes(schema.additionalProperties, `${field}.additionalProperties`);
}

function checkRules(schema: JSONSchemaProps, field: string, causes: StatusCause[]): void {
  rulesOf(schema).forEach((rule, i) => {
    const at = `${field}.x-kubernetes-validations[${i}]`;
    if (typeof rule?.rule !== 'string' || rule.rule === '') {
      causes.push({ type: 'FieldValueRequired', field: `${at}.rule`, message: 'Required value' });
      return;
    }
    const program = compile(rule.rule);
    if (typeof program === 'string')
      causes.push({ type: 'FieldValueInvalid', field: `${at}.rule`, message: `Invalid value: ${JSON.stringify(rule.rule)}: ${program}` });
    if (rule.messageExpression !== undefined) {
      const message = compile(rule.messageExpression);
      if (typeof message === 'string')
        causes.push({
          type: 'FieldValueInvalid',
          field: `${at}.messageExpression`,
          message: `Invalid value: ${JSON.stringify(rule.messageExpression)}: ${message}`,
        });
    }
    if (rule.reason !== undefined && !REASONS.includes(rule.reason))
      causes.push({
        type: 'FieldValueNotSupported',
        field: `${at}.reason`,
        message: `Unsupported value: ${JSON.stringify(rule.reason)}: supported values: ${REASONS.map((r) => `"${r}"`).join(', ')}`,
      });
  });
}

/** Whether the schema holds any validation rule. */
export function hasRules(schema: JSONSchemaProps): boolean {
  for (const [node] of schemaNodes(schema, '')) if (rulesOf(node).length) return true;
  return false;
}

function compiledRules(schema: JSONSchemaProps): Compiled[] {
  return rulesOf(schema).flatMap((rule) => {
    const run = compile(rule.rule);
    if (typeof run === 'string') return [];
    const message = rule.messageExpression === undefined ? undefined : compile(rule.messageExpression);
    return [{ rule, run, message: typeof message === 'string' ? undefined : message, transition: /\boldSelf\b/.test(rule.rule) }];
  });
}

/**
 * The causes of the rules `value` (a whole custom resource) breaks: on create the rules that do
 * not read oldSelf; on update (`old` given) every rule, the transition rules against `old`.
 */
export async function brokenRules(schema: JSONSchemaProps, value: unknown, old: unknown): Promise<StatusCause[]> {
  await ready();
  const causes: StatusCause[] = [];
  runRules(schema, value, undefined, '', causes, false);
  if (old !== undefined) runRules(schema, value, old, '', causes, true);
  return causes;
}

function runRules(schema: JSONSchemaProps, value: unknown, old: unknown, field: string, causes: StatusCause[], transitions: boolean): void {
  if (value === undefined || value === null) return;
  const rules = compiledRules(schema).filter((r) => r.transition === transitions);
  for (const r of rules) {
    if (r.transition && old === undefined && !r.rule.optionalOldSelf) continue;
    const bindings: Record<string, CelInput> = { self: toCel(schema, value) };
    if (r.transition) bindings.oldSelf = old === undefined ? null : toCel(schema, old);
    const at = `${field || '<root>'}${r.rule.fieldPath ?? ''}`;
    const result = r.run(bindings);
    if (result === true) continue;
    const reason = r.rule.reason ?? 'FieldValueInvalid';
    const text = cel.isCelError(result) ? `${(result as Error).message} evaluating rule: ${r.rule.rule}` : messageOf(r, bindings);
    causes.push(cause(reason, at, schema.type ?? 'object', text));
  }
  if (Array.isArray(value)) {
    if (schema.items) {
      const oldItems = Array.isArray(old) ? old : [];
      const keys = schema['x-kubernetes-list-map-keys'];
      value.forEach((item, i) => {
        const before =
          transitions && schema['x-kubernetes-list-type'] === 'map' && keys
            ? oldItems.find((o) => keys.every((k) => (o as Record<string, unknown>)?.[k] === (item as Record<string, unknown>)?.[k]))
            : undefined;
        runRules(schema.items!, item, before, `${field}[${i}]`, causes, transitions);
      });
    }
    return;
  }
  if (typeof value !== 'object') return;
  const o = value as Record<string, unknown>;
  const before = old && typeof old === 'object' && !Array.isArray(old) ? (old as Record<string, unknown>) : undefined;
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    if (key in o) runRules(sub, o[key], before?.[key], field ? `${field}.${key}` : key, causes, transitions);
  }
  const additional = schema.additionalProperties;
  if (additional && typeof additional === 'object') {
    for (const key of Object.keys(o)) if (!schema.properties?.[key]) runRules(additional, o[key], before?.[key], `${field}[${key}]`, causes, transitions);
  }
}

function messageOf(r: Compiled, bindings: Record<string, CelInput>): string {
  if (r.message) {
    const text = r.message(bindings);
    if (typeof text === 'string' && text.trim() !== '') return text;
  }
  return r.rule.message ?? `failed rule: ${r.rule.rule}`;
}

function cause(reason: string, field: string, type: string, text: string): StatusCause {
  switch (reason) {
    case 'FieldValueForbidden':
      return { type: reason, field, message: `Forbidden: ${text}` };
    case 'FieldValueRequired':
      return { type: reason, field, message: `Required value: ${text}` };
    case 'FieldValueDuplicate':
      return { type: reason, field, message: `Duplicate value: ${JSON.stringify(type)}: ${text}` };
    default:
      return { type: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(type)}: ${text}` };
  }
}

/** A JSON value as CEL sees it under the schema: integers as ints, objects as maps. */
function toCel(schema: JSONSchemaProps | undefined, value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => toCel(schema?.items, v)) as CelInput;
  if (typeof value === 'number') {
    const integer = schema?.type === 'integer' || schema?.['x-kubernetes-int-or-string'] || (schema?.type === undefined && Number.isInteger(value));
    return integer && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (typeof value === 'object') {
    const additional = typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined;
    return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toCel(schema?.properties?.[k] ?? additional, v)])) as CelInput;
  }
  return value as CelInput;
}

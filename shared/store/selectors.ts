/**
 * Label and field selectors in Kubernetes' syntax, parsed once and matched many times.
 *
 * Labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, `a>3`, `a<3`,
 * comma-separated (all must hold). Fields: `path=value`, `path==value`, `path!=value`,
 * comma-separated, with `\,` `\=` `\\` escapes; a path is dotted into the object
 * (`spec.nodeName`, `involvedObject.uid`) and a missing field reads as ''.
 */
import type { LabelSelector } from '../api/schemas/common.js';
import { InvalidError } from './errors.js';
import type { KubeObject } from './object.js';

export type Operator = 'in' | 'notin' | 'exists' | 'notexists' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

export interface Selector {
  kind: 'label' | 'field';
  requirements: Requirement[];
}

export const EVERYTHING_LABELS: Selector = { kind: 'label', requirements: [] };

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Validates a label key (`[prefix/]name`); returns an error message or undefined. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `prefix part of "${key}" must be a DNS-1123 subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !NAME_PART.test(name)) {
    return `name part of "${key}" must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`;
  }
  return undefined;
}

/** Validates a label value; returns an error message or undefined. */
export function labelValueError(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return `a valid label value must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters): "${value}"`;
  }
  return undefined;
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function checkKey(key: string, whole: string): string {
  const err = labelKeyError(key);
  if (err) throw new InvalidError(`unable to parse requirement "${whole}": ${err}`);
  return key;
}

function checkValue(value: string, whole: string): string {
  const err = labelValueError(value);
  if (err) throw new InvalidError(`unable to parse requirement "${whole}": ${err}`);
  return value;
}

function parseLabelRequirement(part: string): Requirement {
  let m = /^!\s*(\S+)$/.exec(part);
  if (m) return { key: checkKey(m[1], part), operator: 'notexists', values: [] };
  m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part);
  if (m) {
    const values = m[3].split(',').map((v) => v.trim());
    if (values.length === 1 && values[0] === '' && m[2] === 'in') {
      throw new InvalidError(`unable to parse requirement "${part}": for 'in' operator, values set can't be empty`);
    }
    return { key: checkKey(m[1], part), operator: m[2] as Operator, values: values.map((v) => checkValue(v, part)) };
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(part);
  if (m) {
    const key = checkKey(m[1], part);
    const value = m[3].trim();
    if (m[2] === '>' || m[2] === '<') {
      if (!/^-?\d+$/.test(value)) throw new InvalidError(`unable to parse requirement "${part}": for 'gt', 'lt' operators, the value must be an integer`);
      return { key, operator: m[2] === '>' ? 'gt' : 'lt', values: [value] };
    }
    return { key, operator: m[2] === '!=' ? 'notin' : 'in', values: [checkValue(value, part)] };
  }
  if (/^[^\s=!<>(),]+$/.test(part)) return { key: checkKey(part, part), operator: 'exists', values: [] };
  throw new InvalidError(`unable to parse requirement: "${part}"`);
}

/** Parses a label selector; '' selects everything. Throws `InvalidError`. */
export function parseLabelSelector(text: string): Selector {
  return { kind: 'label', requirements: splitTopLevel(text).map(parseLabelRequirement) };
}

/** Splits a field selector on unescaped commas and unescapes the parts' values. */
function splitEscaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[i + 1];
      i++;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

function unescapeField(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/** Parses a field selector; '' selects everything. Throws `InvalidError`. */
export function parseFieldSelector(text: string): Selector {
  const requirements: Requirement[] = [];
  for (const raw of splitEscaped(text, ',')) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^(.+?)(==|!=|=)(.*)$/s.exec(part);
    if (!m || m[1].includes('\\') || !/^[A-Za-z0-9_.\-/]+$/.test(m[1].trim())) {
      throw new InvalidError(`invalid field selector: "${part}": expected key=value, key==value or key!=value`);
    }
    requirements.push({ key: m[1].trim(), operator: m[2] === '!=' ? 'notin' : 'in', values: [unescapeField(m[3])] });
  }
  return { kind: 'field', requirements };
}

export function toLabelSelector(sel: string | Selector | undefined): Selector | undefined {
  if (sel === undefined) return undefined;
  const parsed = typeof sel === 'string' ? parseLabelSelector(sel) : sel;
  return parsed.requirements.length ? parsed : undefined;
}

export function toFieldSelector(sel: string | Selector | undefined): Selector | undefined {
  if (sel === undefined) return undefined;
  const parsed = typeof sel === 'string' ? parseFieldSelector(sel) : sel;
  return parsed.requirements.length ? parsed : undefined;
}

function matchRequirement(req: Requirement, value: string | undefined): boolean {
  switch (req.operator) {
    case 'in':
      return value !== undefined && req.values.includes(value);
    case 'notin':
      return value === undefined || !req.values.includes(value);
    case 'exists':
      return value !== undefined;
    case 'notexists':
      return value === undefined;
    case 'gt':
      return value !== undefined && /^-?\d+$/.test(value) && Number(value) > Number(req.values[0]);
    case 'lt':
      return value !== undefined && /^-?\d+$/.test(value) && Number(value) < Number(req.values[0]);
  }
}

/** True when the labels satisfy every requirement. */
export function matchLabels(selector: Selector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  for (const req of selector.requirements) {
    if (!matchRequirement(req, labels?.[req.key])) return false;
  }
  return true;
}

/** Reads a dotted field path; missing or non-scalar fields read as ''. */
export function fieldValue(object: KubeObject, path: string): string {
  let cur: unknown = object;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  if (typeof cur === 'object') return '';
  return String(cur);
}

/** True when the object's fields satisfy every requirement. */
export function matchFields(selector: Selector | undefined, object: KubeObject): boolean {
  if (!selector) return true;
  for (const req of selector.requirements) {
    if (!matchRequirement(req, fieldValue(object, req.key))) return false;
  }
  return true;
}

/** A LabelSelector as objects hold it (matchLabels and matchExpressions), parsed. An empty one matches everything. */
/** A LabelSelector as the text `?labelSelector=` takes (`app=web,tier in (a,b),!old`); '' for none. */
export function labelSelectorText(selector: LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

export function fromLabelSelector(labelSelector: LabelSelector | undefined): Selector {
  const requirements: Requirement[] = Object.entries(labelSelector?.matchLabels ?? {}).map(([key, value]) => ({ key, operator: 'in', values: [value] }));
  for (const e of labelSelector?.matchExpressions ?? []) {
    const operator = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: 'notexists' } as const)[e.operator as 'In'];
    if (operator) requirements.push({ key: e.key, operator, values: e.values ?? [] });
  }
  return { kind: 'label', requirements };
}

/** The equality requirements of a label selector, as a map (what `matchLabels` in a spec holds). */
export function selectorFromMatchLabels(matchLabels: Record<string, string> | undefined): Selector {
  return {
    kind: 'label',
    requirements: Object.entries(matchLabels ?? {}).map(([key, value]) => ({ key, operator: 'in', values: [value] })),
  };
}

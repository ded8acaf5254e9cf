/**
 * OpenAPI v3 component schemas named and shaped as Kubernetes' own (`io.k8s.api.core.v1.Pod`,
 * `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`, fields pointing at definitions through
 * `allOf: [{$ref}]`), with Kubernetes' field descriptions.
 *
 * The source is the npm package `kubernetes-models`, generated from Kubernetes' OpenAPI: its
 * declaration files keep, per definition, one interface whose JSDoc comments are the upstream
 * descriptions, whose `?` marks optional fields and whose types name the referenced
 * definitions (its runtime code keeps only compiled validators, without descriptions). The
 * files are generated and regular, so a small reader suffices: imports, the interface, its
 * members, and a type grammar of string literals, `string`/`number`/`boolean`, `Array<T>`,
 * `{ [key: string]: T }` and references. Files are read on first use and parsed once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATOMIC_STRUCTS, FIELD_EXTENSIONS } from './extensions.js';

export type Schema = Record<string, unknown>;

export const REF_PREFIX = '#/components/schemas/';

const API_VERSION_DESCRIPTION =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const KIND_DESCRIPTION =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';
/** The package has no comment on Quantity; this says what Kubernetes' says, shortly. */
const QUANTITY_DESCRIPTION =
  'Quantity is a fixed-point representation of a number: a plain number, optionally with a binary SI suffix (Ki, Mi, Gi, Ti, Pi, Ei), a decimal SI suffix (m, "", k, M, G, T, P, E) or a decimal exponent (e3, E6). Examples: 100m, 0.5, 128Mi, 1Gi.';

// ---- where the declarations are ------------------------------------------------------------

/** Node's lookup of a package by name: `node_modules/<name>` in `from` or any parent. */
function findPackage(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

interface Packages {
  models: string;
  apimachinery: string;
}

let packages: Packages | null | undefined;

function modelPackages(): Packages | null {
  if (packages !== undefined) return packages;
  const models = findPackage('kubernetes-models', dirname(fileURLToPath(import.meta.url)));
  const apimachinery = models && findPackage('@kubernetes-models/apimachinery', models);
  packages = models && apimachinery ? { models, apimachinery } : null;
  if (!packages) console.warn('[openapi] kubernetes-models is not installed: kinds are served without field schemas');
  return packages;
}

/** The declaration file of a served kind, if the package has it. */
export function kindFile(group: string, version: string, kind: string): string | undefined {
  const pkgs = modelPackages();
  if (!pkgs) return undefined;
  const file = join(pkgs.models, group || '', version, `${kind}.d.ts`);
  return existsSync(file) ? file : undefined;
}

/** The declaration of ObjectMeta, for kinds of Skiff's own (no package declares them). */
export function objectMetaFile(): string | undefined {
  const pkgs = modelPackages();
  const file = pkgs && join(pkgs.apimachinery, 'apis', 'meta', 'v1', 'ObjectMeta.d.ts');
  return file && existsSync(file) ? file : undefined;
}

/** OpenAPI packages of the groups whose name is not just their first label. */
const GROUP_PACKAGES: Record<string, string> = {
  'apiextensions.k8s.io': 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions',
  'apiregistration.k8s.io': 'io.k8s.kube-aggregator.pkg.apis.apiregistration',
};

/** Kubernetes' definition name for a declaration file: `.../v1/Pod.d.ts` -> `io.k8s.api.core.v1.Pod`. */
function definitionName(file: string, pkgs: Packages): string {
  const name = file.slice(file.lastIndexOf(sep) + 1).replace(/\.d\.ts$/, '');
  const inApimachinery = relative(pkgs.apimachinery, file);
  if (!inApimachinery.startsWith('..')) {
    const dirs = dirname(inApimachinery).split(sep);
    return ['io.k8s.apimachinery.pkg', ...dirs, name].join('.');
  }
  const dirs = dirname(relative(pkgs.models, file)).split(sep);
  if (dirs.length === 1) return `io.k8s.api.core.${dirs[0]}.${name}`;
  const [group, version] = dirs;
  return `${GROUP_PACKAGES[group] ?? `io.k8s.api.${group.split('.')[0]}`}.${version}.${name}`;
}

function resolveImport(spec: string, from: string, pkgs: Packages): string | undefined {
  let file: string;
  spec = spec.replace(/\.js$/, '');
  if (spec.startsWith('.')) file = resolve(dirname(from), spec);
  else if (spec.startsWith('@kubernetes-models/apimachinery/')) file = join(pkgs.apimachinery, spec.slice('@kubernetes-models/apimachinery/'.length));
  else if (spec.startsWith('kubernetes-models/')) file = join(pkgs.models, spec.slice('kubernetes-models/'.length));
  else return undefined; // @kubernetes-models/base: TypeMeta, Model
  file += '.d.ts';
  return existsSync(file) ? file : undefined;
}

// ---- reading one declaration file ----------------------------------------------------------

type TypeNode =
  | { t: 'string' | 'number' | 'boolean' | 'unknown' | 'emptyObject' }
  | { t: 'literal'; value: string }
  | { t: 'array'; of: TypeNode }
  | { t: 'map'; of: TypeNode }
  | { t: 'ref'; id: string }
  | { t: 'union'; of: TypeNode[] }
  /** An object declared in place (a StatefulSet's `volumeClaimTemplates` items). */
  | { t: 'object'; members: Member[] };

/** Parses the TypeScript types the generator writes. */
function parseType(text: string): TypeNode {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|[A-Za-z_$][\w$]*|\[\]|[<>{}[\]:;|,]/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const expect = (tok: string) => {
    if (tokens[i] !== tok) throw new Error(`expected ${tok} at ${tokens.slice(i).join(' ')} in ${text}`);
    i++;
  };
  const union = (): TypeNode => {
    const of = [primary()];
    while (peek() === '|') {
      i++;
      of.push(primary());
    }
    return of.length === 1 ? of[0] : { t: 'union', of };
  };
  const primary = (): TypeNode => {
    let node: TypeNode;
    const tok = tokens[i++];
    if (tok === undefined) throw new Error(`unexpected end of type ${text}`);
    if (tok.startsWith('"')) node = { t: 'literal', value: JSON.parse(tok) as string };
    else if (tok === 'Array') {
      expect('<');
      node = { t: 'array', of: union() };
      expect('>');
    } else if (tok === '{') {
      if (peek() === '}') {
        i++;
        node = { t: 'emptyObject' };
      } else {
        expect('[');
        i++; // the key's name
        expect(':');
        expect('string');
        expect(']');
        expect(':');
        node = { t: 'map', of: union() };
        if (peek() === ';') i++;
        expect('}');
      }
    } else if (tok === 'string' || tok === 'number' || tok === 'boolean') node = { t: tok };
    else if (tok === 'any' || tok === 'unknown' || tok === 'object') node = { t: 'unknown' };
    else node = { t: 'ref', id: tok };
    while (peek() === '[]') {
      i++;
      node = { t: 'array', of: node };
    }
    return node;
  };
  const node = union();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens.slice(i).join(' ')} in ${text}`);
  return node;
}

/** A JSDoc comment's text: the description as Kubernetes wrote it, paragraphs and all. */
function commentText(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const text = raw
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .replace(/\*\\\//g, '*/')
    .trim();
  return text || undefined;
}

interface Member {
  name: string;
  optional: boolean;
  type: TypeNode;
  description?: string;
}

/** The members of an interface body: `/** doc *\/ "name"?: Type;` one after another. */
function parseMembers(body: string): Member[] {
  const members: Member[] = [];
  let doc: string | undefined;
  let i = 0;
  while (i < body.length) {
    if (/\s/.test(body[i])) {
      i++;
    } else if (body.startsWith('/**', i)) {
      const end = body.indexOf('*/', i + 3);
      doc = body.slice(i + 3, end);
      i = end + 2;
    } else if (body[i] === '"') {
      const nameEnd = body.indexOf('"', i + 1);
      const name = body.slice(i + 1, nameEnd);
      i = nameEnd + 1;
      const optional = body[i] === '?';
      i = body.indexOf(':', i) + 1;
      const start = i;
      let depth = 0;
      for (; i < body.length; i++) {
        const ch = body[i];
        if (ch === '"') i = body.indexOf('"', i + 1);
        else if (ch === '<' || ch === '{' || ch === '[') depth++;
        else if (ch === '>' || ch === '}' || ch === ']') depth--;
        else if (ch === ';' && depth === 0) break;
      }
      // An array of objects declared in place: their members, read as an interface's are.
      const inline = /^\s*Array<\s*\{([\s\S]*)\}\s*>\s*$/.exec(body.slice(start, i));
      const type: TypeNode = inline ? { t: 'array', of: { t: 'object', members: parseMembers(inline[1]) } } : parseType(body.slice(start, i));
      members.push({ name, optional, type, description: commentText(doc) });
      doc = undefined;
      i++;
    } else {
      throw new Error(`unexpected declaration text: ${body.slice(i, i + 60)}`);
    }
  }
  return members;
}

interface Definition {
  name: string;
  schema: Schema;
  /** The declaration files this definition refers to. */
  refs: string[];
}

const definitions = new Map<string, Definition>();

/** Reads (once) the definition a declaration file holds. */
function definitionOf(file: string): Definition {
  const cached = definitions.get(file);
  if (cached) return cached;
  const pkgs = modelPackages()!;
  const text = readFileSync(file, 'utf8');
  const name = definitionName(file, pkgs);

  const imports = new Map<string, string>();
  for (const m of text.matchAll(/^import (?:type )?\{([^}]*)\} from "([^"]+)";/gm)) {
    const target = resolveImport(m[2], file, pkgs);
    if (!target) continue;
    for (const part of m[1].split(',')) {
      const id = part
        .trim()
        .split(/\s+as\s+/)
        .pop();
      if (id) imports.set(id, target);
    }
  }
  const refs = new Set<string>();
  const refTo = (id: string): Schema => {
    const target = imports.get(id);
    if (!target) throw new Error(`${file}: cannot find the declaration of ${id}`);
    refs.add(target);
    return { $ref: REF_PREFIX + definitionName(target, pkgs) };
  };

  const doc = '(?:\\/\\*\\*((?:(?!\\*\\/)[\\s\\S])*)\\*\\/\\s*)?';
  const iface = new RegExp(`${doc}export interface (\\w+)(?: extends [\\w, ]+)? \\{([\\s\\S]*?)^\\}`, 'm').exec(text);
  let schema: Schema;
  // A declaration may refer to itself (JSONSchemaProps' properties are JSONSchemaProps).
  if (iface) imports.set(iface[2], file);
  if (iface) {
    schema = objectSchema(name, commentText(iface[1]), parseMembers(iface[3]), refTo);
  } else {
    const alias = new RegExp(`${doc}export (?:declare )?type \\w+ = ([^;]+);`).exec(text);
    if (!alias) throw new Error(`no definition in ${file}`);
    schema = aliasSchema(name, commentText(alias[1]), parseType(alias[2]), refTo);
  }
  const definition = { name, schema, refs: [...refs] };
  definitions.set(file, definition);
  return definition;
}

// ---- from declarations to schemas ----------------------------------------------------------

/** The schema of a type, where it stands alone (items, map values, aliases). */
function typeSchema(node: TypeNode, refTo: (id: string) => Schema): Schema {
  switch (node.t) {
    case 'string':
      return { type: 'string' };
    // Kubernetes' API conventions allow no floating point: every number field is an integer.
    case 'number':
      return { type: 'integer' };
    case 'boolean':
      return { type: 'boolean' };
    case 'literal':
      return { type: 'string', enum: [node.value] };
    case 'array':
      return { type: 'array', items: typeSchema(node.of, refTo) };
    case 'map':
      return { type: 'object', additionalProperties: typeSchema(node.of, refTo) };
    case 'ref':
      return refTo(node.id);
    case 'emptyObject':
      return { type: 'object' };
    case 'object':
      return objectSchema('', undefined, node.members, refTo);
    case 'unknown':
      return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    case 'union': {
      if (node.of.every((n) => n.t === 'literal')) return { type: 'string', enum: node.of.map((n) => (n as { value: string }).value) };
      const kinds = new Set(node.of.map((n) => n.t));
      if (kinds.size === 2 && kinds.has('string') && kinds.has('number'))
        return { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
      return {};
    }
  }
}

function objectSchema(name: string, description: string | undefined, members: Member[], refTo: (id: string) => Schema): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  let apiVersion: string | undefined;
  let kind: string | undefined;
  const extensions = FIELD_EXTENSIONS[name] ?? {};
  for (const member of members) {
    let field: Schema;
    if ((member.name === 'apiVersion' || member.name === 'kind') && member.type.t === 'literal') {
      // The fixed apiVersion and kind of a kind (the package types them as literals).
      if (member.name === 'apiVersion') apiVersion = member.type.value;
      else kind = member.type.value;
      field = { description: member.name === 'apiVersion' ? API_VERSION_DESCRIPTION : KIND_DESCRIPTION, type: 'string' };
    } else {
      const schema = typeSchema(member.type, refTo);
      // A described reference keeps its own description beside the referenced one, as
      // Kubernetes writes it: `{description, allOf: [{$ref}]}`.
      field =
        schema.$ref && member.description
          ? { description: member.description, allOf: [schema] }
          : { ...(member.description ? { description: member.description } : {}), ...schema };
      if (member.type.t === 'array' && !extensions[member.name]) Object.assign(field, { 'x-kubernetes-list-type': 'atomic' });
      if (!member.optional) required.push(member.name);
    }
    properties[member.name] = { ...field, ...extensions[member.name] };
  }
  const schema: Schema = {
    ...(description ? { description } : {}),
    type: 'object',
    ...(members.length ? { properties } : {}),
    ...(required.length ? { required } : {}),
  };
  if (apiVersion && kind) {
    const slash = apiVersion.indexOf('/');
    const gvk = slash < 0 ? { group: '', version: apiVersion, kind } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1), kind };
    schema['x-kubernetes-group-version-kind'] = [gvk];
  }
  if (ATOMIC_STRUCTS.has(name)) schema['x-kubernetes-map-type'] = 'atomic';
  return schema;
}

/** The primitive definitions (`export type IX = ...`): IntOrString, Quantity, Time, MicroTime. */
function aliasSchema(name: string, description: string | undefined, type: TypeNode, refTo: (id: string) => Schema): Schema {
  const short = name.slice(name.lastIndexOf('.') + 1);
  // As in Kubernetes' v3 documents, IntOrString and Quantity carry no `type` (either is
  // allowed), which is also what makes kubectl explain print `<IntOrString>`, `<Quantity>`.
  if (short === 'IntOrString') return { description, 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
  if (short === 'Quantity') return { description: description ?? QUANTITY_DESCRIPTION, oneOf: [{ type: 'string' }, { type: 'number' }] };
  const schema = typeSchema(type, refTo);
  if (short === 'Time' || short === 'MicroTime') schema.format = 'date-time';
  return description ? { description, ...schema } : schema;
}

// ---- closures --------------------------------------------------------------------------------

/**
 * The definitions reachable from the given declaration files, by Kubernetes name. Each
 * definition object is shared between callers: treat them as read-only.
 */
export function definitionsFrom(files: string[]): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  const seen = new Set<string>();
  const queue = [...files];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const definition = definitionOf(file);
    out[definition.name] = definition.schema;
    queue.push(...definition.refs);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** The Kubernetes definition name of a served kind's declaration file. */
export function kindDefinitionName(file: string): string {
  return definitionOf(file).name;
}

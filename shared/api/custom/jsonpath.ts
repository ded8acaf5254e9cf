/**
 * The JSONPath of a CRD's printer columns and scale paths, as kubectl's templates write it
 * (`.spec.replicas`, `{.status.conditions[?(@.type=="Ready")].status}`, `.spec.ports[*].port`,
 * `.metadata.labels['app.kubernetes.io/name']`): fields, indexes (negative from the end),
 * wildcards and equality filters.
 */

type Step =
  | { kind: 'field'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'filter'; path: string[]; op: '==' | '!='; value: unknown }
  | { kind: 'exists'; path: string[] };

export class JsonPathError extends Error {}

/** Parses a path; throws a JsonPathError that says what is wrong with it. */
export function parseJsonPath(text: string): Step[] {
  let s = text.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1).trim();
  if (s.startsWith('$')) s = s.slice(1);
  if (!s.startsWith('.') && !s.startsWith('[')) throw new JsonPathError(`unrecognized character in action: ${JSON.stringify(s[0] ?? '')}`);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '.') {
      let j = i + 1;
      let name = '';
      while (j < s.length && s[j] !== '.' && s[j] !== '[') {
        if (s[j] === '\\' && j + 1 < s.length) j++;
        name += s[j];
        j++;
      }
      if (!name) throw new JsonPathError(`empty field name at ${i}`);
      steps.push(name === '*' ? { kind: 'all' } : { kind: 'field', name });
      i = j;
    } else if (s[i] === '[') {
      const end = closing(s, i);
      steps.push(bracket(s.slice(i + 1, end).trim()));
      i = end + 1;
    } else {
      throw new JsonPathError(`unrecognized character in action: ${JSON.stringify(s[i])}`);
    }
  }
  return steps;
}

function closing(s: string, open: number): number {
  let quote: string | undefined;
  for (let i = open + 1; i < s.length; i++) {
    const ch = s[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === ']') return i;
  }
  throw new JsonPathError('unterminated array');
}

function unquote(text: string): string | undefined {
  const m = /^(['"])(.*)\1$/.exec(text);
  return m ? m[2] : undefined;
}

function bracket(inner: string): Step {
  if (inner === '*') return { kind: 'all' };
  if (/^-?\d+$/.test(inner)) return { kind: 'index', index: Number(inner) };
  const quoted = unquote(inner);
  if (quoted !== undefined) return { kind: 'field', name: quoted };
  const filter = /^\?\(\s*@((?:\.[\w-]+)+)\s*(?:(==|!=)\s*(.+?))?\s*\)$/.exec(inner);
  if (filter) {
    const path = filter[1].slice(1).split('.');
    if (!filter[2]) return { kind: 'exists', path };
    const raw = filter[3];
    const value = unquote(raw) ?? (raw === 'true' ? true : raw === 'false' ? false : Number.isNaN(Number(raw)) ? raw : Number(raw));
    return { kind: 'filter', path, op: filter[2] as '==' | '!=', value };
  }
  throw new JsonPathError(`invalid array index ${inner}`);
}

const at = (value: unknown, path: string[]): unknown =>
  path.reduce<unknown>((cur, key) => (cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined), value);

/** Every value the path reaches in `root`, in order. */
export function evaluate(steps: Step[], root: unknown): unknown[] {
  let current: unknown[] = [root];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const value of current) {
      if (value === null || value === undefined) continue;
      if (step.kind === 'field') {
        if (typeof value === 'object' && !Array.isArray(value) && step.name in (value as object)) next.push((value as Record<string, unknown>)[step.name]);
      } else if (step.kind === 'index') {
        if (Array.isArray(value)) {
          const i = step.index < 0 ? value.length + step.index : step.index;
          if (i >= 0 && i < value.length) next.push(value[i]);
        }
      } else if (step.kind === 'all') {
        if (Array.isArray(value)) next.push(...value);
        else if (typeof value === 'object') next.push(...Object.values(value as object));
      } else if (Array.isArray(value)) {
        for (const item of value) {
          const found = at(item, step.path);
          if (step.kind === 'exists' ? found !== undefined : (found === step.value) === (step.op === '==')) next.push(item);
        }
      }
    }
    current = next;
  }
  return current;
}

/** The one value a simple path (`.spec.replicas`) names, or undefined. */
export function valueAt(path: string, root: unknown): unknown {
  return evaluate(parseJsonPath(path), root)[0];
}

/** Sets what a simple field path (`.spec.replicas`) names, making the objects on the way. */
export function setAt(path: string, root: Record<string, unknown>, value: unknown): void {
  const steps = parseJsonPath(path);
  let cur = root;
  steps.forEach((step, i) => {
    if (step.kind !== 'field') throw new JsonPathError(`${path} is not a path of fields`);
    if (i === steps.length - 1) cur[step.name] = value;
    else {
      const next = cur[step.name];
      cur = cur[step.name] = next && typeof next === 'object' && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    }
  });
}

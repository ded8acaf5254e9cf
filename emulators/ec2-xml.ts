/**
 * The EC2 query protocol's two halves, for the EC2 emulator: requests are form-encoded maps whose
 * lists and structures are flattened (`Tag.1.Key`, `LaunchTemplateData.UserData`), and answers
 * are XML in which every list is a run of `<item>`s. Errors carry a code the SDK turns into the
 * exception's name.
 */
import { randomUUID } from 'node:crypto';

export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
export const tag = (name: string, inner: string) => `<${name}>${inner}</${name}>`;
export const text = (name: string, value: string | number | boolean) => tag(name, escapeXml(String(value)));
export const items = (name: string, list: string[]) => (list.length ? tag(name, list.map((i) => tag('item', i)).join('')) : `<${name}/>`);
export const response = (action: string, inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">${text('requestId', randomUUID())}${inner}</${action}Response>`;
export const errorXml = (e: Ec2Error) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${text('Code', e.code)}${text('Message', e.message)}</Error></Errors>${text('RequestID', randomUUID())}</Response>`;

/** `Prefix.1.Name`-style parameters as a list of their sub-maps (`Prefix.<n>.<rest>`). */
export function indexed(params: Record<string, string>, prefix: string): Record<string, string>[] {
  const byIndex = new Map<number, Record<string, string>>();
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)(?:\\.(.*))?$`);
  for (const [key, value] of Object.entries(params)) {
    const m = pattern.exec(key);
    if (!m) continue;
    const entry = byIndex.get(Number(m[1])) ?? {};
    entry[m[2] ?? ''] = value;
    byIndex.set(Number(m[1]), entry);
  }
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
}

/** The parameters under `prefix.` (a structure), with the prefix taken off. */
export function under(params: Record<string, string>, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) if (key.startsWith(`${prefix}.`)) out[key.slice(prefix.length + 1)] = value;
  return out;
}

/** The tags a request's `TagSpecification.N` give resources of one type. */
export function tagsFor(params: Record<string, string>, resourceType: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const spec of indexed(params, 'TagSpecification')) {
    if (spec.ResourceType !== resourceType) continue;
    for (const t of indexed(spec, 'Tag')) tags.set(t.Key, t.Value ?? '');
  }
  return tags;
}

/**
 * Kubernetes resource quantities (`100m`, `0.5`, `1Gi`, `500Mi`, `2k`, `1e3`) as exact numbers
 * in base units: `parseCpu` gives millicores, `parseBytes` bytes (and counts, like `pods`).
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E))?$/;

export class QuantityError extends Error {}

/** The quantity's value in base units (may be fractional). Throws `QuantityError`. */
export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new QuantityError(`quantity ${value} is not a finite number`);
    return value;
  }
  const m = QUANTITY.exec(value.trim());
  if (!m) throw new QuantityError(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(value)}`);
  const number = Number(m[1]);
  if (m[2]) return number * BINARY[m[2]];
  if (m[3]) return number * 10 ** Number(m[3].slice(1));
  return number * DECIMAL[m[4] ?? ''];
}

/** CPU in whole millicores, rounded up as Kubernetes does (`0.1` and `100m` are 100). */
export function parseCpu(value: string | number): number {
  return Math.ceil(Math.round(parseQuantity(value) * 1e9) / 1e6);
}

/** Bytes (or counts) rounded up to a whole number. */
export function parseBytes(value: string | number): number {
  return Math.ceil(parseQuantity(value));
}

export function formatCpu(millicores: number): string {
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

export function formatBytes(bytes: number): string {
  for (const [suffix, size] of [
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}

/**
 * IPv4 ranges: the service range ClusterIPs come from, the cluster range nodes' pod ranges are
 * cut from, and each node's pod range.
 */

export interface Cidr {
  /** As given. */
  cidr: string;
  /** Its network address, as a number. */
  base: number;
  /** How many addresses it spans. */
  size: number;
  bits: number;
}

/** Parses `a.b.c.d/n` (n from `min` to 30), its base rounded down to the prefix; throws with `what` named. */
export function parseCidr(cidr: string, what = 'the range', min = 8): Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const bits = Number(m?.[5]);
  const parts = m ? m.slice(1, 5).map(Number) : [];
  if (!m || parts.some((p) => p > 255) || bits < min || bits > 30) throw new Error(`${what} ${JSON.stringify(cidr)} is not an IPv4 CIDR of /${min} to /30`);
  const size = 2 ** (32 - bits);
  const base = numberOf(parts.join('.'));
  return { cidr, base: base - (base % size), size, bits };
}

export const ipOf = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
export const numberOf = (ip: string): number => ip.split('.').reduce((a, part) => a * 256 + Number(part), 0);

/** Whether `ip` is one of the range's host addresses: past its network address, short of its broadcast. */
export function isHostOf(range: Cidr, ip: string): boolean {
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip)) return false;
  const n = numberOf(ip);
  return n > range.base && n < range.base + range.size - 1;
}

/** The `index`th subnet of /`bits` in `range` (as a CIDR), or undefined past its end. */
export function subnet(range: Cidr, bits: number, index: number): string | undefined {
  const size = 2 ** (32 - bits);
  if (bits < range.bits || index < 0 || (index + 1) * size > range.size) return undefined;
  return `${ipOf(range.base + index * size)}/${bits}`;
}

/**
 * Where nodes' pod ranges are cut from, a /24 each (kube-controller-manager's
 * --node-cidr-mask-size default): on loopback, clear of the API's 127.0.0.1 and the service range.
 */
export const DEFAULT_CLUSTER_CIDR = '127.16.0.0/12';

/** The cluster range, checked: it must hold at least one node's /24. */
export function clusterRange(cidr = DEFAULT_CLUSTER_CIDR): Cidr {
  const range = parseCidr(cidr, 'the cluster range');
  if (range.bits > 24) throw new Error(`the cluster range ${JSON.stringify(cidr)} must be /24 or wider: each node takes a /24 of it`);
  return range;
}

/**
 * Encoded list responses, kept while their resource is unchanged. kube-apiserver serves lists
 * from its watch cache with each object serialized once, and so does Skiff (`serialize.ts`);
 * this goes one step further for the repeated list (informers' relists, dashboards, CI
 * polling, `kubectl get` in a loop): the whole body, already UTF-8 encoded, and gzipped once
 * for the clients that accept it. An entry is good while the store's `changeStamp` for its
 * resource is the one read before the list was made; a store without stamps caches nothing.
 *
 * The body keeps the resourceVersion it was made at, which may be older than the head: the
 * list is still exactly the state at that revision (nothing of the resource changed since),
 * as a list from kube-apiserver's watch cache is.
 */
import { gzipSync } from 'node:zlib';

/** Responses at least this large are gzipped for clients that accept it (kube-apiserver: 128 KiB). */
export const GZIP_MIN_BYTES = 128 * 1024;
/** kube-apiserver's gzip level for responses. */
const GZIP_LEVEL = 4;

/** Bytes as Hono sends them (a Buffer over a plain ArrayBuffer). */
export type Bytes = Uint8Array<ArrayBuffer>;

export interface EncodedBody {
  body: Bytes;
  /** Made on first ask, when the body is large enough to be worth it. */
  gzipped?: Bytes;
}

interface Entry extends EncodedBody {
  stamp: number;
}

export class ListCache {
  private readonly entries = new Map<string, Entry>();
  /** The bodies' bytes (a gzipped copy is a fraction more, not counted). */
  private bytes = 0;

  constructor(private readonly maxBytes = 256 * 1024 * 1024) {}

  get(key: string, stamp: number): EncodedBody | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.stamp !== stamp) return undefined;
    // Most recently used last: the first entries are the ones to drop.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, stamp: number, body: Bytes): EncodedBody {
    this.drop(key);
    const entry: Entry = { stamp, body };
    if (body.byteLength > this.maxBytes / 4) return entry; // too large to keep
    this.entries.set(key, entry);
    this.bytes += body.byteLength;
    for (const oldest of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(oldest);
    }
    return entry;
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.bytes -= entry.body.byteLength;
    this.entries.delete(key);
  }
}

/** Whether an Accept-Encoding header accepts gzip (and does not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** The gzipped body, made once per encoded body. */
export function gzipped(encoded: EncodedBody): Bytes {
  encoded.gzipped ??= gzipSync(encoded.body, { level: GZIP_LEVEL }) as Bytes;
  return encoded.gzipped;
}

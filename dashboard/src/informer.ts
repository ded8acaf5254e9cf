/**
 * Live collections, as client-go's informers keep them: a list, then a watch from the list's
 * resourceVersion (with bookmarks), resumed from the last version seen when the server ends it,
 * listed afresh when that version is too old (410 Gone), and tried again with back-off when the
 * network fails. No polling anywhere. One collection per resource, however many views show it
 * (one watch per kind in use, not per row); views are told of changes at most once a frame.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Client, KubeObject } from './api.js';

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Collection {
  readonly items = new Map<string, KubeObject>();
  synced = false;
  error?: string;
  /** Counts changes: a view renders again when it moves. */
  version = 0;
  private readonly listeners = new Set<() => void>();
  private scheduled = false;
  private abort?: AbortController;
  private stopTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly client: Client,
    readonly path: string,
  ) {}

  subscribe(listener: () => void): () => void {
    clearTimeout(this.stopTimer);
    this.listeners.add(listener);
    if (!this.abort) {
      this.abort = new AbortController();
      void this.run(this.abort.signal);
    }
    return () => {
      this.listeners.delete(listener);
      // Kept a while: moving between views does not list again.
      if (this.listeners.size === 0) this.stopTimer = setTimeout(() => this.stop(), 30_000);
    };
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
  }

  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      this.version++;
      for (const l of this.listeners) l();
    };
    if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible') requestAnimationFrame(flush);
    else setTimeout(flush, 16);
  }

  private async run(signal: AbortSignal): Promise<void> {
    let version: string | undefined;
    let backoff = 500;
    while (!signal.aborted) {
      try {
        if (version === undefined) {
          const list = await this.client.get<{ items: KubeObject[]; metadata: { resourceVersion: string } }>(this.path);
          this.items.clear();
          for (const o of list.items) this.items.set(keyOf(o), o);
          version = list.metadata.resourceVersion;
          this.synced = true;
          this.error = undefined;
          this.changed();
        }
        version = await this.watch(version, signal);
        backoff = 500;
      } catch (err) {
        if (signal.aborted) return;
        this.error = err instanceof Error ? err.message : String(err);
        this.changed();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /** Watches from `version`; answers the last version seen, or undefined when a new list is needed. */
  private async watch(version: string, signal: AbortSignal): Promise<string | undefined> {
    const sep = this.path.includes('?') ? '&' : '?';
    const url = `${this.path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(version)}&timeoutSeconds=600`;
    const res = await fetch(url, { headers: this.client.headers(), signal });
    if (res.status === 410) return undefined;
    if (!res.ok || !res.body) throw new Error(`watch ${this.path}: ${res.status} ${res.statusText}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let last: string | undefined = version;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return last;
      buffer += value;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        // A quiet watch gets a bare newline now and then (behind a front that cuts silence).
        if (!line) continue;
        const event = JSON.parse(line) as { type: string; object: KubeObject & { code?: number } };
        if (event.type === 'ERROR') {
          if (event.object.code === 410) return undefined;
          throw new Error(`watch ${this.path}: ${(event.object as { message?: string }).message ?? 'error'}`);
        }
        last = event.object.metadata?.resourceVersion ?? last;
        if (event.type === 'BOOKMARK') continue;
        if (event.type === 'DELETED') this.items.delete(keyOf(event.object));
        else this.items.set(keyOf(event.object), event.object);
        this.changed();
      }
    }
  }
}

const collections = new Map<string, Collection>();

/** The one collection of a resource's path for this client. */
export function collectionOf(client: Client, path: string): Collection {
  const key = `${client.token}\n${path}`;
  let c = collections.get(key);
  if (!c) {
    c = new Collection(client, path);
    collections.set(key, c);
  }
  return c;
}

/** The collection at `path`, live: the view renders again as it changes. */
export function useCollection(client: Client, path: string): Collection {
  const collection = collectionOf(client, path);
  const [, setVersion] = useState(0);
  useEffect(() => collection.subscribe(() => setVersion(collection.version)), [collection]);
  return collection;
}

/** Stops every watch (signing out). */
export function stopAll(): void {
  for (const c of collections.values()) c.stop();
  collections.clear();
}

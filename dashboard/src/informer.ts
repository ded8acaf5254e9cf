/**
 * Live collections, as client-go's informers keep them: a list (in pages), then a watch from the
 * list's resourceVersion (with bookmarks), resumed from the last version seen when the server
 * ends it, listed afresh when that version is too old (410 Gone), and tried again with back-off
 * when the network fails. No polling anywhere. One collection per resource, however many views
 * show it (one watch per kind in use, not per row); views are told of changes at most once a
 * frame. Watches go over WebSockets where the API serves them (a browser's six connections to a
 * host would otherwise be held by six watches), over streamed responses where it does not.
 */
import { useEffect, useState } from 'preact/hooks';
import { type Client, type KubeObject, openSocket, websockets } from './api.js';

/** Objects a page of a list holds. */
const PAGE = 500;
const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Collection {
  readonly items = new Map<string, KubeObject>();
  synced = false;
  /** The first list's later pages still coming, its first shown. */
  listing = false;
  error?: string;
  /** Counts changes: a view renders again when it moves. */
  version = 0;
  /** Counts changes of which objects there are (added, deleted; not modified): what an order depends on. */
  membership = 0;
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
        if (version === undefined) version = await this.list();
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

  /**
   * Lists in pages of 500 (one consistent snapshot, as client-go's reflector lists): the first
   * list shows its first page as it comes, so a list of thousands paints with its first rows, and
   * the rest at its end, in one change (a change per page drew the view again while the person was
   * already scrolling it: the first scroll of 5,000 pods had 6 to 10 frames over 50 ms, now 1 to
   * 3); a list made again (after 410 Gone) swaps the whole set in at its end. Answers its
   * resourceVersion.
   */
  private async list(): Promise<string> {
    const fresh = new Map<string, KubeObject>();
    const sep = this.path.includes('?') ? '&' : '?';
    let token: string | undefined;
    let version: string;
    do {
      const page = await this.client.get<{ items: KubeObject[]; metadata: { resourceVersion: string; continue?: string } }>(
        `${this.path}${sep}limit=${PAGE}${token ? `&continue=${encodeURIComponent(token)}` : ''}`,
      );
      for (const o of page.items) fresh.set(keyOf(o), o);
      version = page.metadata.resourceVersion;
      token = page.metadata.continue || undefined;
      if (!this.synced) {
        for (const o of page.items) this.items.set(keyOf(o), o);
        this.membership++;
        this.synced = true;
        this.listing = token !== undefined;
        this.changed();
      }
    } while (token);
    this.items.clear();
    for (const [k, o] of fresh) this.items.set(k, o);
    this.membership++;
    this.synced = true;
    this.listing = false;
    this.error = undefined;
    this.changed();
    return version;
  }

  /** Watches from `version`; answers the last version seen, or undefined when a new list is needed. */
  private async watch(version: string, signal: AbortSignal): Promise<string | undefined> {
    const sep = this.path.includes('?') ? '&' : '?';
    const url = (seconds: number) =>
      `${this.path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(version)}&timeoutSeconds=${seconds}`;
    if (websockets.served !== false) {
      const watched = await this.watchOverSocket(url(600), version, signal);
      if (watched !== UNSERVED) return watched;
      websockets.served = false;
    }
    // Over a streamed response (the AWS shape), a watch is a function invocation that runs on
    // after the page is gone (Lambda does not stop a stream its client left): a shorter one leaves
    // less behind, and resuming from the last version costs a request, not a list.
    return this.watchOverFetch(url(120), version, signal);
  }

  /**
   * One event of a watch, applied: the version it brings (undefined: too old, list again).
   * An ERROR other than 410 Gone is thrown (tried again after a back-off).
   */
  private apply(event: { type: string; object: KubeObject & { code?: number; message?: string } }, last: string): string | undefined {
    if (event.type === 'ERROR') {
      if (event.object.code === 410) return undefined;
      throw new Error(`watch ${this.path}: ${event.object.message ?? 'error'}`);
    }
    const version = event.object.metadata?.resourceVersion ?? last;
    if (event.type === 'BOOKMARK') return version;
    const key = keyOf(event.object);
    if (event.type === 'DELETED') {
      if (this.items.delete(key)) this.membership++;
    } else {
      if (!this.items.has(key)) this.membership++;
      this.items.set(key, event.object);
    }
    this.changed();
    return version;
  }

  /**
   * The watch over a WebSocket (an event a message): a browser holds six HTTP/1.1 connections to
   * a host at most, and a streamed watch holds one for its life; WebSockets do not count. An API
   * that does not serve them (one behind a Function URL) is learnt from the first that never
   * opens, and watched over streamed responses from then on.
   */
  private watchOverSocket(url: string, version: string, signal: AbortSignal): Promise<string | undefined | typeof UNSERVED> {
    return new Promise((resolve, reject) => {
      const ws = openSocket(this.client, url, ['binary.k8s.io']);
      const decoder = new TextDecoder();
      let opened = false;
      let last: string | undefined = version;
      let failure: unknown;
      const stop = () => ws.close();
      signal.addEventListener('abort', stop, { once: true });
      ws.onopen = () => {
        opened = true;
        websockets.served = true;
      };
      ws.onmessage = (m) => {
        if (last === undefined || failure) return;
        try {
          last = this.apply(JSON.parse(decoder.decode(m.data as ArrayBuffer)), last);
          if (last === undefined) ws.close();
        } catch (err) {
          failure = err;
          ws.close();
        }
      };
      ws.onclose = () => {
        signal.removeEventListener('abort', stop);
        if (failure) reject(failure);
        else if (opened) resolve(last);
        // Never opened: refused (a list just succeeded, so most likely not served), or the network.
        else if (websockets.served === undefined) resolve(UNSERVED);
        else reject(new Error(`watch ${this.path}: the connection failed`));
      };
    });
  }

  private async watchOverFetch(url: string, version: string, signal: AbortSignal): Promise<string | undefined> {
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
        last = this.apply(JSON.parse(line), last ?? version);
        if (last === undefined) {
          await reader.cancel();
          return undefined;
        }
      }
    }
  }
}

const UNSERVED = Symbol('unserved');

/** The collections of each signed-in client, by path (a client's token may be renewed: it is the same user). */
const collections = new Map<Client, Map<string, Collection>>();

/** The one collection of a resource's path for this client. */
export function collectionOf(client: Client, path: string): Collection {
  let mine = collections.get(client);
  if (!mine) collections.set(client, (mine = new Map()));
  let c = mine.get(path);
  if (!c) {
    c = new Collection(client, path);
    mine.set(path, c);
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
  for (const mine of collections.values()) for (const c of mine.values()) c.stop();
  collections.clear();
}

/**
 * The same operations, phrased for each backend the store benchmark compares: a Skiff `Store`
 * (any driver) and etcd as Kubernetes uses it (JSON values under /registry keys, compare-and-swap
 * by mod revision, lists that read the whole prefix and filter by labels in the client, which is
 * what kube-apiserver does when it reads etcd directly).
 */
import { Etcd3 } from 'etcd3';
import { guaranteedUpdate } from '../../shared/store/retry.js';
import { matchLabels, parseLabelSelector } from '../../shared/store/selectors.js';
import type { KubeObject, Store } from '../../shared/store/types.js';

export interface BenchBackend {
  readonly name: string;
  /** Creates object `name` in keyspace `space` with the labels and a payload. */
  create(space: string, name: string, labels: Record<string, string>, payload: string): Promise<void>;
  /** One read-modify-write of `name` with compare-and-swap, retried on conflict. */
  casUpdate(space: string, name: string): Promise<void>;
  /** Lists keyspace `space` with a label selector; returns the number of matches. */
  list(space: string, selector: string): Promise<number>;
  /** Watches keyspace `space` from now; `onChange` gets each changed object's name. */
  watch(space: string, onChange: (name: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

function objectFor(name: string, labels: Record<string, string>, payload: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'bench', labels }, data: { payload, counter: '0' } };
}

function bump(object: KubeObject): KubeObject {
  const data = object.data as Record<string, string>;
  return { ...object, data: { ...data, counter: String(Number(data.counter) + 1) } };
}

export function storeBackend(name: string, store: Store): BenchBackend {
  const resource = (space: string) => `${space}.bench.skiff.io`;
  return {
    name,
    async create(space, objName, labels, payload) {
      await store.create(resource(space), objectFor(objName, labels, payload));
    },
    async casUpdate(space, objName) {
      await guaranteedUpdate(store, resource(space), 'bench', objName, bump);
    },
    async list(space, selector) {
      let count = 0;
      let token: string | undefined;
      do {
        const page = await store.list(resource(space), { namespace: 'bench', labelSelector: selector, limit: 100_000, continue: token });
        count += page.items.length;
        token = page.continue;
      } while (token);
      return count;
    },
    async watch(space, onChange) {
      const abort = new AbortController();
      const from = await store.currentRevision();
      const iterator = store.watch(resource(space), { fromRevision: from, signal: abort.signal });
      const done = (async () => {
        for await (const event of iterator) {
          if (event.type !== 'BOOKMARK') onChange(event.object.metadata.name ?? '');
        }
      })().catch(() => undefined);
      return async () => {
        abort.abort();
        await iterator.return?.();
        await done;
      };
    },
    close: () => store.close(),
  };
}

export function etcdBackend(endpoint: string): BenchBackend {
  // kube-apiserver lifts gRPC's 4 MiB receive limit too: a 100,000-object list is ~100 MiB.
  const client = new Etcd3({ hosts: endpoint, grpcOptions: { 'grpc.max_receive_message_length': -1 } });
  const key = (space: string, name: string) => `/registry/${space}/bench/${name}`;
  return {
    name: 'etcd',
    async create(space, objName, labels, payload) {
      const k = key(space, objName);
      // Kubernetes' create: a transaction that puts only if the key has never been written.
      const res = await client
        .if(k, 'Create', '==', 0)
        .then(client.put(k).value(JSON.stringify(objectFor(objName, labels, payload))))
        .commit();
      if (!res.succeeded) throw new Error(`etcd: ${k} already exists`);
    },
    async casUpdate(space, objName) {
      const k = key(space, objName);
      for (;;) {
        const got = await client.get(k).exec();
        const kv = got.kvs[0];
        const next = bump(JSON.parse(kv.value.toString()) as KubeObject);
        const res = await client
          .if(k, 'Mod', '==', kv.mod_revision)
          .then(client.put(k).value(JSON.stringify(next)))
          .commit();
        if (res.succeeded) return;
      }
    },
    async list(space, selector) {
      const parsed = parseLabelSelector(selector);
      const values = await client.getAll().prefix(`/registry/${space}/`).strings();
      let count = 0;
      for (const text of Object.values(values)) {
        const object = JSON.parse(text) as KubeObject;
        if (matchLabels(parsed, object.metadata.labels)) count++;
      }
      return count;
    },
    async watch(space, onChange) {
      const watcher = await client.watch().prefix(`/registry/${space}/`).create();
      watcher.on('put', (kv) => onChange(kv.key.toString().split('/').pop() ?? ''));
      return async () => {
        await watcher.cancel();
      };
    },
    close: async () => client.close(),
  };
}

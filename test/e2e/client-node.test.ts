/**
 * The official JavaScript client drives Skiff: typed list, create, patch and delete, and an
 * Informer (list + watch, resumed after the server ends each watch, with bookmarks) whose
 * cache stays equal to the server's state through 1,000 random changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { type AppsV1Api, type CoreV1Api, type KubeConfig, type KubernetesObject, k8s } from '../support/client-node.js';

let cluster: TestCluster;
let kc: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;

beforeAll(async () => {
  // Watches end every 2 s, so the informer must resume many times during the test.
  cluster = await startTestCluster({ maxWatchSeconds: 2, watchBookmarkIntervalMs: 300 });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.server.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
});
afterAll(async () => {
  await cluster?.stop();
});

describe('@kubernetes/client-node', () => {
  it('lists, creates, patches and deletes', async () => {
    const namespaces = await core.listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toEqual(expect.arrayContaining(['default', 'kube-system']));

    const created = await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'api-client' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'api-client' } },
          template: { metadata: { labels: { app: 'api-client' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } },
        },
      },
    });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.spec?.strategy?.type).toBe('RollingUpdate');

    const patched = await apps.patchNamespacedDeployment(
      { name: 'api-client', namespace: 'default', body: { spec: { replicas: 4 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(patched.spec?.replicas).toBe(4);
    const scale = await apps.readNamespacedDeploymentScale({ name: 'api-client', namespace: 'default' });
    expect(scale.spec?.replicas).toBe(4);

    await apps.deleteNamespacedDeployment({ name: 'api-client', namespace: 'default' });
    await expect(apps.readNamespacedDeployment({ name: 'api-client', namespace: 'default' })).rejects.toMatchObject({ code: 404 });
  });

  it('a Watch with allowWatchBookmarks gets BOOKMARKs carrying the newest revision it has seen', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    const seen: { type: string; rv: string }[] = [];
    // The server ends each watch after 2 s; resume from the newest revision seen, as a reflector does.
    let from = list.metadata?.resourceVersion ?? '';
    let stopped = false;
    let current: { abort(): void } | undefined;
    const watchOnce = async (): Promise<void> => {
      const watch = new k8s.Watch(kc);
      let done!: () => void;
      const ended = new Promise<void>((r) => (done = r));
      current = await watch.watch(
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: from, allowWatchBookmarks: true },
        (type, obj: KubernetesObject) => {
          from = obj.metadata?.resourceVersion ?? from;
          seen.push({ type, rv: from });
        },
        () => done(),
      );
      await ended;
    };
    const watching = (async () => {
      while (!stopped) await watchOnce().catch(() => new Promise((r) => setTimeout(r, 100)));
    })();
    try {
      const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'bookmarked' } } });
      const createdAt = Number(created.metadata?.resourceVersion);
      // A bookmark may come before the create (a slow create, a quick bookmark); one must come after it.
      const deadline = Date.now() + 30_000;
      while (!seen.some((e) => e.type === 'BOOKMARK' && Number(e.rv) >= createdAt) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(seen.filter((e) => e.type !== 'BOOKMARK')[0]).toEqual({ type: 'ADDED', rv: created.metadata?.resourceVersion });
      const bookmarks = seen.filter((e) => e.type === 'BOOKMARK').map((e) => Number(e.rv));
      expect(Math.max(...bookmarks)).toBeGreaterThanOrEqual(createdAt);
      // Bookmarks never go back in time.
      expect(bookmarks).toEqual([...bookmarks].sort((a, b) => a - b));
    } finally {
      stopped = true;
      current?.abort();
      await Promise.race([watching, new Promise((r) => setTimeout(r, 3000))]);
      await core.deleteNamespacedConfigMap({ name: 'bookmarked', namespace: 'default' }).catch(() => undefined);
    }
  });

  it('an Informer stays consistent through 1,000 changes while its watch is ended and resumed', async () => {
    const path = '/api/v1/namespaces/default/configmaps';
    const informer = k8s.makeInformer(kc, path, () => core.listNamespacedConfigMap({ namespace: 'default' }));
    let events = 0;
    for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, () => events++);
    const errors: unknown[] = [];
    informer.on('error', (err) => {
      errors.push(err);
      // As client-go does: an informer whose watch failed starts again.
      setTimeout(() => void informer.start(), 100);
    });
    await informer.start();
    try {
      let seed = 7;
      const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
      const live = new Set<string>();
      const startedAt = Date.now();
      // At least 1,000 changes, and for at least 5 s: over two of the server's 2 s watch lifetimes.
      for (let i = 0; i < 1000 || Date.now() - startedAt < 5000; i++) {
        const name = `cm-${rand(60)}`;
        if (!live.has(name)) {
          await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name }, data: { i: String(i) } } });
          live.add(name);
        } else if (rand(4) === 0) {
          await core.deleteNamespacedConfigMap({ name, namespace: 'default' });
          live.delete(name);
        } else {
          await core.patchNamespacedConfigMap(
            { name, namespace: 'default', body: { data: { i: String(i) } } },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
          );
        }
      }
      const truth = await core.listNamespacedConfigMap({ namespace: 'default' });
      const expected = truth.items.map((c) => `${c.metadata?.name}@${c.metadata?.resourceVersion}`).sort();
      expect(expected).toHaveLength(live.size);
      const deadline = Date.now() + 20_000;
      let cached: string[] = [];
      while (Date.now() < deadline) {
        cached = informer
          .list()
          .map((c) => `${c.metadata?.name}@${c.metadata?.resourceVersion}`)
          .sort();
        if (JSON.stringify(cached) === JSON.stringify(expected)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(cached).toEqual(expected);
      expect(events).toBeGreaterThanOrEqual(1000);
    } finally {
      await informer.stop();
    }
  }, 180_000);
});

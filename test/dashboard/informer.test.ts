/**
 * The dashboard's collections (dashboard/src/informer.ts) list in pages of 500, as client-go's
 * reflector does: the first page is shown as it comes, so a list of thousands paints with its
 * first rows, and the rest in one change at the list's end (a change per page drew the view again
 * while the person was already scrolling it), with `listing` saying more is coming meanwhile.
 */
import { afterEach, expect, it } from 'vitest';
import { type Client, type KubeObject, websockets } from '../../dashboard/src/api.js';
import { Collection } from '../../dashboard/src/informer.js';

const pod = (i: number): KubeObject => ({ metadata: { namespace: 'default', name: `web-${String(i).padStart(4, '0')}`, resourceVersion: '7' } });
const until = async (what: () => boolean) => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(what()).toBe(true);
};

let collection: Collection | undefined;
afterEach(() => collection?.stop());

it('shows the first page of a list at once, and the rest in one change at its end', async () => {
  // No WebSocket here: the watch after the list is tried over fetch, and fails; it is not what is tested.
  websockets.served = false;
  const pages = [
    { items: Array.from({ length: 500 }, (_, i) => pod(i)), metadata: { resourceVersion: '7', continue: 'a' } },
    { items: Array.from({ length: 500 }, (_, i) => pod(500 + i)), metadata: { resourceVersion: '7', continue: 'b' } },
    { items: Array.from({ length: 200 }, (_, i) => pod(1000 + i)), metadata: { resourceVersion: '7' } },
  ];
  const asked: string[] = [];
  const gates: (() => void)[] = [];
  const client = {
    headers: () => ({}),
    async get(path: string) {
      asked.push(path);
      await new Promise<void>((open) => gates.push(open));
      return pages[asked.length - 1];
    },
  } as unknown as Client;
  collection = new Collection(client, '/api/v1/pods');
  const c = collection;
  const seen: { size: number; listing: boolean; synced: boolean }[] = [];
  c.subscribe(() => seen.push({ size: c.items.size, listing: c.listing, synced: c.synced }));

  await until(() => gates.length === 1);
  gates[0]();
  await until(() => seen.length === 1);
  expect(seen[0]).toEqual({ size: 500, listing: true, synced: true });

  // The second page comes, and nothing is drawn for it.
  await until(() => gates.length === 2);
  gates[1]();
  await until(() => gates.length === 3);
  await new Promise((r) => setTimeout(r, 50));
  expect(seen).toHaveLength(1);
  expect(c.items.size).toBe(500);

  gates[2]();
  await until(() => seen.length >= 2);
  expect(seen[1]).toEqual({ size: 1200, listing: false, synced: true });
  expect(asked).toEqual(['/api/v1/pods?limit=500', '/api/v1/pods?limit=500&continue=a', '/api/v1/pods?limit=500&continue=b']);
});

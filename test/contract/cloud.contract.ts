/**
 * The `CloudProvider` contract (shared/cloud/types.ts), one suite for every driver: `sim`,
 * `local` and the recording fake. A driver that cannot pass a case says so by name, with the
 * reason, and the case is not run for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InsufficientCapacityError, type CloudProvider } from '../../shared/cloud/types.js';

export interface CloudUnderTest {
  provider: CloudProvider;
  /** An instance type and zone the provider has capacity in, and one zone it does not serve. */
  instanceType: string;
  zone: string;
  unservedZone?: string;
  /** Whether the node's kubelet has registered its Node with the API (drivers that start one). */
  registered?(name: string): Promise<boolean>;
  cleanup(): Promise<void>;
}

export type CloudCase = 'capacity errors' | 'registers its node';

export function cloudContract(name: string, open: () => Promise<CloudUnderTest>, skip: Partial<Record<CloudCase, string>> = {}): void {
  describe(`CloudProvider contract: ${name}`, () => {
    let current: CloudUnderTest | undefined;
    const start = async () => (current = await open());
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });
    const caseIt = (title: string, fn: () => Promise<void>, timeout = 60_000, which?: CloudCase) => {
      const reason = which && skip[which];
      if (reason) it.skip(`${title} (not for ${name}: ${reason})`, fn);
      else it(title, fn, timeout);
    };

    caseIt('offers instance types with cpu, memory, pods and zones', async () => {
      const { provider, instanceType } = await start();
      const types = await provider.instanceTypes();
      const type = types.find((t) => t.name === instanceType);
      expect(type).toBeDefined();
      expect(type!.cpu).toBeGreaterThan(0);
      expect(type!.memory).toBeGreaterThan(0);
      expect(type!.pods).toBeGreaterThan(0);
      expect(type!.zones.length).toBeGreaterThan(0);
    });

    caseIt('create starts a node that get and list report, with a providerID of its own', async () => {
      const { provider, instanceType, zone } = await start();
      const node = await provider.create({ name: 'contract-1', instanceType, zone, labels: { team: 'a' } });
      expect(node).toMatchObject({ name: 'contract-1', instanceType, zone });
      expect(node.providerID.startsWith(`${provider.name}://`)).toBe(true);
      expect(['pending', 'running']).toContain(node.state);
      expect(node.labels.team).toBe('a');
      expect((await provider.get('contract-1'))?.providerID).toBe(node.providerID);
      expect((await provider.list()).map((n) => n.name)).toEqual(['contract-1']);
      expect(await provider.get('never-made')).toBeUndefined();
    });

    caseIt('create is idempotent by name: asking again returns the same node', async () => {
      const { provider, instanceType, zone } = await start();
      const first = await provider.create({ name: 'contract-2', instanceType, zone });
      const again = await provider.create({ name: 'contract-2', instanceType, zone });
      expect(again.providerID).toBe(first.providerID);
      expect((await provider.list()).filter((n) => n.name === 'contract-2')).toHaveLength(1);
    });

    caseIt('delete removes the node, and deleting it again or an unknown name is no error', async () => {
      const { provider, instanceType, zone } = await start();
      await provider.create({ name: 'contract-3', instanceType, zone });
      await provider.delete('contract-3');
      expect(await provider.get('contract-3')).toBeUndefined();
      expect(await provider.list()).toEqual([]);
      await provider.delete('contract-3');
      await provider.delete('never-made');
    });

    caseIt(
      'a zone the type is not offered in is InsufficientCapacity, and nothing is left behind',
      async () => {
        const { provider, instanceType, unservedZone } = await start();
        await expect(provider.create({ name: 'contract-4', instanceType, zone: unservedZone ?? 'nowhere' })).rejects.toBeInstanceOf(InsufficientCapacityError);
        expect(await provider.get('contract-4')).toBeUndefined();
      },
      60_000,
      'capacity errors',
    );

    caseIt(
      "the node's kubelet registers its Node with the API",
      async () => {
        const under = await start();
        await under.provider.create({ name: 'contract-5', instanceType: under.instanceType, zone: under.zone });
        const deadline = Date.now() + 30_000;
        while (!(await under.registered!('contract-5'))) {
          if (Date.now() > deadline) throw new Error('the node never registered');
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      60_000,
      'registers its node',
    );
  });
}

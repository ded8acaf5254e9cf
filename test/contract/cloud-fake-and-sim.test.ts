/** The CloudProvider contract on the in-process drivers: the recording fake and `sim`. */
import { describe, expect, it } from 'vitest';
import { FakeCloudProvider } from '../../shared/cloud/fake.js';
import { SimCloudProvider } from '../../shared/cloud/sim.js';
import { InsufficientCapacityError } from '../../shared/cloud/types.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import { cloudContract } from './cloud.contract.js';

cloudContract(
  'fake',
  async () => ({ provider: new FakeCloudProvider(), instanceType: 'fake.small', zone: 'zone-a', unservedZone: 'zone-z', cleanup: async () => undefined }),
  { 'registers its node': 'the fake starts no kubelet: nodes are records only' },
);

cloudContract('sim', async () => {
  const store = openSqliteStore({ path: ':memory:' });
  const provider = new SimCloudProvider(store, { leaseIntervalMs: 60_000 });
  return {
    provider,
    instanceType: 'sim.small',
    zone: 'sim-a',
    unservedZone: 'sim-z',
    registered: async (name) => (await store.list('nodes')).items.some((n) => n.metadata.name === name),
    cleanup: async () => {
      await provider.close();
      await store.close();
    },
  };
});

describe('the recording fake', () => {
  it('records every call and fails the next call of a method when told, once', async () => {
    const fake = new FakeCloudProvider();
    fake.failNext('create', new InsufficientCapacityError('fake.small', 'zone-a'));
    await expect(fake.create({ name: 'n1', instanceType: 'fake.small', zone: 'zone-a' })).rejects.toBeInstanceOf(InsufficientCapacityError);
    const node = await fake.create({ name: 'n1', instanceType: 'fake.small', zone: 'zone-a' });
    expect(node.providerID).toMatch(/^fake:\/\/zone-a\/i-/);
    await fake.delete('n1');
    expect(fake.calls.map((c) => c.method)).toEqual(['create', 'create', 'delete']);
    expect(fake.callsOf('create')[1].argument).toMatchObject({ name: 'n1' });
  });
});

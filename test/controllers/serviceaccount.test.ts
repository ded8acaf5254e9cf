/**
 * Every namespace has a `default` ServiceAccount: made when the namespace appears, made again
 * when deleted, and not made in a namespace on its way out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findResource } from '../../shared/api/resources.js';
import { startSimCluster, until, type SimCluster } from '../support/sim-cluster.js';

let sim: SimCluster;
beforeAll(async () => {
  sim = await startSimCluster({ nodes: 1 });
});
afterAll(() => sim?.stop());

const defaultAccount = (namespace: string) => sim.store.get('serviceaccounts', namespace, 'default').catch(() => undefined);

describe('service account controller', () => {
  it('gives every namespace a default ServiceAccount, and gives it back when deleted', async () => {
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) await until(`default account in ${ns}`, () => defaultAccount(ns));
    await sim.registry.create(findResource('', 'v1', 'namespaces')!, '', { metadata: { name: 'team' } });
    const first = await until('default account in team', () => defaultAccount('team'));
    await sim.store.delete('serviceaccounts', 'team', 'default');
    const again = await until('a new default account in team', async () => {
      const sa = await defaultAccount('team');
      return sa && sa.metadata.uid !== first.metadata.uid && sa;
    });
    expect(again.metadata.namespace).toBe('team');
  });

  it('makes none in a namespace being deleted, which then goes', async () => {
    const namespaces = findResource('', 'v1', 'namespaces')!;
    await sim.registry.create(namespaces, '', { metadata: { name: 'leaving' } });
    await until('default account in leaving', () => defaultAccount('leaving'));
    await sim.registry.delete(namespaces, '', 'leaving');
    await until('namespace leaving gone', async () => !(await sim.store.get('namespaces', '', 'leaving').catch(() => undefined)));
    expect(await defaultAccount('leaving')).toBeUndefined();
  });
});

/**
 * The migration controller: carries out a skiff.dev/v1 Migration (kinds/migration.ts), moving
 * every node of other providers to `spec.to`, the provider the provisioner now launches on.
 *
 * Each pass reads the world afresh and does the next safe thing, so a migration killed at any
 * step (the process gone, the function timed out) resumes where it stood:
 *
 * 1. the nodes of other providers (by their providerID's scheme) are cordoned, so no new pod
 *    lands there;
 * 2. their pods are evicted, per owner one at a time and only while every replica of that owner
 *    is ready and none is already going: a workload of 10 replicas has at least 9 available
 *    throughout. An evicted pod's ReplicaSet makes a new one, which finds no room but on the new
 *    provider's nodes, which the provisioner launches for it. A pod no controller owns would be
 *    lost, so it is not evicted (as `kubectl drain` without --force): the migration says so and
 *    waits;
 * 3. a node with no pod left is removed at its provider and its Node deleted;
 * 4. with no node of another provider left, the migration is Complete.
 *
 * PodDisruptionBudgets are not served yet; the rule in 2 is what a budget of
 * `maxUnavailable: 1` would allow.
 */
import { isTerminal, typedList } from '../api/objects.js';
import type { CloudProvider } from '../cloud/types.js';
import { ignoreNotFound } from '../errors.js';
import { guaranteedUpdate } from '../store/retry.js';
import type { ChangeEvent, KubeObject, Store } from '../store/types.js';
import { ownerOf, removeNode, SafeEviction, updateNode } from './eviction.js';
import { isActive } from './replicaset.js';
import type { Controller, ReconcileResult } from './types.js';

export const MIGRATIONS_RESOURCE = 'migrations.skiff.dev';
const KEY = 'migrations';
const MIGRATING_TO = 'skiff.dev/migrating-to';

export interface MigrationOptions {
  /** The providers a node may be of, by their names (the providerID's scheme). */
  providers: CloudProvider[];
  now?: () => number;
  log?: (line: string) => void;
}

type NodeObject = ReturnType<typeof typedList<'nodes'>>[number];

interface MigrationObject extends KubeObject {
  spec: { to: string };
  status?: {
    phase?: string;
    nodesTotal?: number;
    nodesLeft?: number;
    nodes?: string[];
    podsMoved?: number;
    startedAt?: string;
    completedAt?: string;
    message?: string;
  };
}

const schemeOf = (n: NodeObject) => (n.spec?.providerID ?? '').split('://')[0];

export class MigrationController implements Controller {
  readonly name = 'migration';
  private readonly now: () => number;
  private readonly eviction: SafeEviction;

  constructor(
    private readonly store: Store,
    private readonly options: MigrationOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.eviction = new SafeEviction(store, (line) => options.log?.(`migration: ${line}`));
  }

  keysFor(event: ChangeEvent): string[] {
    return event.resource === MIGRATIONS_RESOURCE ? [KEY] : [];
  }

  async allKeys(): Promise<string[]> {
    return [KEY];
  }

  async reconcile(): Promise<ReconcileResult | void> {
    const migrations = (await this.store.list(MIGRATIONS_RESOURCE)).items as MigrationObject[];
    const open = migrations.filter((m) => m.status?.phase !== 'Complete' && m.status?.phase !== 'Failed');
    if (open.length === 0) return;
    // One at a time, oldest first: two migrations to different providers would undo each other.
    const current = open.sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)))[0];
    await this.step(current);
    return { requeueAfterMs: 500 };
  }

  /** One pass over a migration: cordon, evict, remove, and the status brought up to date. */
  private async step(m: MigrationObject): Promise<void> {
    const to = m.spec.to;
    if (!this.options.providers.some((p) => p.name === to))
      return this.setStatus(m, { phase: 'Failed', message: `no provider named "${to}" is configured here` });
    const [nodes, pods, replicaSets] = await Promise.all([
      this.store.list('nodes').then((l) => typedList('nodes', l.items)),
      this.store.list('pods').then((l) => typedList('pods', l.items)),
      this.store.list('replicasets.apps').then((l) => typedList('replicasets.apps', l.items)),
    ]);
    const old = nodes.filter((n) => schemeOf(n) !== to);
    if (old.length === 0) {
      this.options.log?.(`migration ${m.metadata.name}: every node is of ${to}`);
      return this.setStatus(m, { phase: 'Complete', nodesLeft: 0, nodes: [], completedAt: new Date(this.now()).toISOString(), message: '' });
    }
    for (const n of old)
      if (!n.spec?.unschedulable || n.metadata.annotations?.[MIGRATING_TO] !== to)
        await updateNode(this.store, n.metadata.name as string, { [MIGRATING_TO]: to }, true);
    const onOld = new Set(old.map((n) => n.metadata.name));
    const moved = await this.eviction.evict(
      pods.filter((p) => onOld.has(p.spec.nodeName)),
      pods,
      replicaSets,
    );
    const bare = pods.filter((p) => onOld.has(p.spec.nodeName) && isActive(p) && !ownerOf(p));
    for (const n of old) {
      const busy = pods.some((p) => p.spec.nodeName === n.metadata.name && !isTerminal(p));
      if (!busy) await this.remove(n);
    }
    await this.setStatus(m, {
      phase: 'Migrating',
      nodesTotal: m.status?.nodesTotal ?? old.length,
      nodesLeft: old.length,
      nodes: old.map((n) => n.metadata.name as string),
      podsMoved: (m.status?.podsMoved ?? 0) + moved,
      startedAt: m.status?.startedAt ?? new Date(this.now()).toISOString(),
      message: bare.length
        ? `${bare.length} pods no controller owns keep their nodes (delete them to go on): ${bare.map((p) => p.metadata.name).join(', ')}`
        : '',
    });
  }

  /** Stops an emptied node at its provider, then deletes its Node. */
  private async remove(node: NodeObject): Promise<void> {
    const name = node.metadata.name as string;
    const provider = this.options.providers.find((p) => p.name === schemeOf(node));
    if (!provider) return; // Nothing here can stop it: deleting the Node alone would only see it register again.
    this.options.log?.(`migration: node ${name} is empty; removing it from ${provider.name}`);
    await removeNode(this.store, provider, name);
  }

  private async setStatus(m: MigrationObject, status: NonNullable<MigrationObject['status']>): Promise<void> {
    await guaranteedUpdate<MigrationObject>(this.store, MIGRATIONS_RESOURCE, '', m.metadata.name as string, (current) => {
      const next = { ...current.status, ...status };
      return JSON.stringify(next) === JSON.stringify(current.status) ? undefined : { ...current, status: next };
    }).catch(ignoreNotFound);
  }
}

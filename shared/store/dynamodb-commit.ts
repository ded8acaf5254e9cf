/**
 * The DynamoDB driver's group commit: writes queued in the same tick are decided against fresh
 * consistent reads and committed in one TransactWriteItems that also moves the head counter,
 * and the whole batch is decided again when the transaction loses a race. Apart from the driver,
 * which only says what each write decides (`Op.run`), so that the retry loop and the state an
 * attempt reads can be read on their own.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { transactItems, type PlannedChange, type TableSettings } from './dynamodb-items.js';
import type { DynamoTable, StoredObject } from './dynamodb-table.js';
import { changesOf, decideEach, settle, type Decision, type Waiting } from './group-commit.js';

/** Changes per transaction: 100 items, less the counter, two items (object, log) each. */
const MAX_CHANGES_PER_TRANSACTION = 49;

export interface ObjectKey {
  resource: string;
  namespace: string;
  name: string;
}

/** A write to one key, decided against the state read at the start of a transaction attempt. */
export interface Op extends Waiting {
  key: ObjectKey;
  run: (state: BatchState) => Decision<PlannedChange>;
}

/** What one transaction attempt has read and decided so far. */
export interface BatchState {
  head: number;
  /** The object as this attempt sees it: read from the table, then as earlier ops changed it. */
  read(resource: string, namespace: string, name: string): StoredObject;
  /** Records what an op made of the object, for the ops after it in the same attempt. */
  write(resource: string, namespace: string, name: string, state: StoredObject): void;
  nextRevision(): number;
}

const stateKey = (resource: string, namespace: string, name: string) => `${resource}\u0000${namespace}\u0000${name}`;

export class GroupCommit {
  /** Transactions committed, the changes they carried, and the races lost (each retried). */
  readonly stats = { transactions: 0, changes: 0, conflicts: 0 };
  private pending: Op[] = [];
  private flushing = false;
  private closed = false;

  constructor(
    private readonly table: DynamoTable,
    private readonly settings: TableSettings,
    /** Called after each committed transaction. */
    private readonly committed: () => void,
  ) {}

  enqueue<T>(key: ObjectKey, run: Op['run']): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ key, run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Waits for every queued write to be committed, then refuses new ones. */
  async close(): Promise<void> {
    while (this.flushing || this.pending.length) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_CHANGES_PER_TRANSACTION);
      await this.commit(batch);
    }
    this.flushing = false;
  }

  /** Decides every op against fresh reads and commits them in one transaction, retrying lost races. */
  private async commit(batch: Op[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let head: number;
      try {
        head = await this.table.readMeta('head');
      } catch (err) {
        for (const op of batch) op.reject(err);
        return;
      }
      const state = await this.batchState(head, batch);
      const outcomes = decideEach(batch, (op) => op.run(state));
      const changes = changesOf(outcomes);
      if (changes.length === 0) {
        settle(batch, outcomes);
        return;
      }
      try {
        await this.table.transact(transactItems(this.settings, head, changes));
      } catch (err) {
        const lostRace =
          err instanceof TransactionCanceledException ||
          err instanceof ConditionalCheckFailedException ||
          (err as { name?: string }).name === 'TransactionConflictException';
        if (lostRace) this.stats.conflicts++;
        if (lostRace && attempt < 200) {
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 2 ** attempt)));
          continue;
        }
        for (const op of batch) op.reject(err);
        return;
      }
      this.stats.transactions++;
      this.stats.changes += changes.length;
      settle(batch, outcomes);
      this.committed();
      return;
    }
  }

  /** Reads (consistently) every key the batch may touch. */
  private async batchState(head: number, batch: Op[]): Promise<BatchState> {
    const objects = new Map<string, StoredObject>();
    let next = head;
    const wanted = new Map(batch.map((op) => [stateKey(op.key.resource, op.key.namespace, op.key.name), op.key]));
    await Promise.all(
      [...wanted.values()].map(async ({ resource, namespace, name }) => {
        objects.set(stateKey(resource, namespace, name), await this.table.getObject(resource, namespace, name));
      }),
    );
    return {
      head,
      read: (resource, namespace, name) => objects.get(stateKey(resource, namespace, name)) ?? {},
      write: (resource, namespace, name, state) => objects.set(stateKey(resource, namespace, name), state),
      nextRevision: () => ++next,
    };
  }
}

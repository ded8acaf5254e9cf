/**
 * What both drivers' group commits share: the writes queued in one tick are decided one by one
 * inside one transaction, so one write's error fails only that write, and every caller hears
 * its own outcome only once the whole transaction is committed. The queueing itself differs
 * (SQLite commits synchronously, DynamoDB retries lost races), so it stays in each driver.
 */

/** A queued write's caller, waiting for the commit. */
export interface Waiting {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** What one write decided: its caller's result, and the change to commit (none for a no-op). */
export interface Decision<C> {
  result: unknown;
  change?: C;
}

export interface Outcome<C> {
  ok: boolean;
  value: unknown;
  change?: C;
}

/** Runs `decide` for every write in order; a write that throws becomes a failed outcome, not an abort. */
export function decideEach<W, C>(batch: W[], decide: (write: W) => Decision<C>): Outcome<C>[] {
  const outcomes: Outcome<C>[] = [];
  for (const write of batch) {
    try {
      const { result, change } = decide(write);
      outcomes.push({ ok: true, value: result, change });
    } catch (err) {
      outcomes.push({ ok: false, value: err });
    }
  }
  return outcomes;
}

/** The changes to commit, in the order their writes were queued. */
export function changesOf<C>(outcomes: Outcome<C>[]): C[] {
  return outcomes.flatMap((o) => (o.change ? [o.change] : []));
}

/** Hands each caller its own write's outcome; call only once the transaction is committed. */
export function settle(batch: Waiting[], outcomes: Outcome<unknown>[]): void {
  for (const [i, write] of batch.entries()) {
    if (outcomes[i].ok) write.resolve(outcomes[i].value);
    else write.reject(outcomes[i].value);
  }
}

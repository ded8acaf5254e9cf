/**
 * What a controller is: level-triggered and idempotent. `reconcile(key)` reads the current
 * state and writes only what is missing, so a repeated, late or reordered event does no harm.
 */
import type { ChangeEvent } from '../store/types.js';

export interface ReconcileResult {
  /** Come back to this key after this long (through the Queue port). */
  requeueAfterMs?: number;
}

export interface Controller {
  readonly name: string;
  /** The keys a change concerns ([] when none). Pure and cheap: it runs for every change. */
  keysFor(event: ChangeEvent): string[];
  /** Every key there is, for the resync at start. */
  allKeys(): Promise<string[]>;
  /**
   * Time alone changes its answer (a Lease that stops being renewed writes nothing): the AWS
   * shape's tick function resyncs its keys on a schedule.
   */
  readonly periodic?: boolean;
  /** Makes the world match the desired state for `key`. */
  reconcile(key: string): Promise<ReconcileResult | void>;
}

/**
 * Re-encryption in the background: every stored object of the sealed resources that is not
 * sealed under the current key-encryption key (sealed under a retired one, or written before
 * encryption was on) is sealed again, its history in the change log too; once a pass finds
 * nothing left to seal, the retired keys are dropped from the keyring.
 *
 * It runs at start (which also finishes a rotation a crash interrupted: the key file holds the
 * old and new keys until the end, and each object is rewritten in one transaction, so every
 * object stays readable whatever the moment of the crash) and whenever the current key
 * changes.
 */
import { ConflictError, NotFoundError } from '../store/errors.js';
import type { SealedStore } from './sealed-store.js';

export interface PassResult {
  /** Current objects sealed again. */
  objects: number;
  /** States in the change log sealed again. */
  history: number;
}

/** One pass over every sealed resource. */
export async function reencryptPass(store: SealedStore): Promise<PassResult> {
  const result: PassResult = { objects: 0, history: 0 };
  const { sealer } = store;
  for (const resource of store.resources) {
    for (const stored of (await store.inner.list(resource)).items) {
      if (!sealer.needsSealing(stored)) continue;
      try {
        // Written back at the revision read: a write in between wins (and sealed it anew).
        await store.update(resource, await store.open(resource, stored));
        result.objects++;
      } catch (err) {
        if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
      }
    }
    result.history += await store.rewriteHistory(resource, async (state) =>
      sealer.needsSealing(state) ? sealer.seal(resource, await store.open(resource, state)) : undefined,
    );
  }
  return result;
}

export interface Reencryption {
  /** Resolves when the pass running now (if any) is over. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs passes at start and after each key rotation, until one finds nothing to seal; then drops
 * the retired keys (only when the driver can rewrite its history: else the log may still need
 * them until it is compacted).
 */
export function startReencryption(store: SealedStore, options: { intervalMs?: number; log?: (line: string) => void } = {}): Reencryption {
  const log = options.log ?? (() => undefined);
  const keyring = store.sealer.keyring;
  let doneFor: string | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  const run = async () => {
    const keyId = keyring.currentKeyId();
    if (keyId === doneFor || stopped) return;
    let total: PassResult = { objects: 0, history: 0 };
    const started = Date.now();
    for (let pass = 0; pass < 5 && !stopped; pass++) {
      const result = await reencryptPass(store);
      total = { objects: total.objects + result.objects, history: total.history + result.history };
      if (result.objects + result.history > 0) continue;
      // A rotation during the pass: the next pass seals under the newer key, then drops.
      if (keyring.currentKeyId() !== keyId) return;
      const dropped = store.inner.rewriteHistory ? await keyring.dropRetired(new Set()) : [];
      if (total.objects + total.history + dropped.length > 0) {
        log(
          `sealed ${total.objects} objects and ${total.history} logged states under ${keyId} in ${Date.now() - started} ms${dropped.length ? `; dropped ${dropped.join(', ')}` : ''}`,
        );
      }
      doneFor = keyId;
      return;
    }
  };
  const tick = () => {
    running = running.then(run).catch((err: Error) => log(`re-encryption failed, retried: ${err.message}`));
  };
  tick();
  const timer = setInterval(tick, options.intervalMs ?? 1000);
  timer.unref();
  return {
    idle: () => running,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

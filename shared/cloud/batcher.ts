/**
 * Gathers like requests into one call, as Karpenter batches its CreateFleet calls: requests
 * under one key wait until none has come for `idleMs`, and never longer than `maxMs` (or until
 * `maxItems` are in); then `run` gets them all, and answers each, with its result or an Error.
 */
export interface BatcherOptions {
  idleMs: number;
  maxMs: number;
  maxItems?: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

interface Batch<I, O> {
  waiting: Waiting<I, O>[];
  idle?: NodeJS.Timeout;
  max: NodeJS.Timeout;
}

export class Batcher<I, O> {
  private readonly batches = new Map<string, Batch<I, O>>();

  constructor(
    private readonly run: (items: I[]) => Promise<(O | Error)[]>,
    private readonly options: BatcherOptions,
  ) {}

  add(key: string, item: I): Promise<O> {
    let batch = this.batches.get(key);
    if (!batch) {
      batch = { waiting: [], max: setTimeout(() => this.flush(key), this.options.maxMs) };
      this.batches.set(key, batch);
    }
    clearTimeout(batch.idle);
    batch.idle = setTimeout(() => this.flush(key), this.options.idleMs);
    const answer = new Promise<O>((resolve, reject) => batch.waiting.push({ item, resolve, reject }));
    if (batch.waiting.length >= (this.options.maxItems ?? Number.POSITIVE_INFINITY)) this.flush(key);
    return answer;
  }

  private flush(key: string): void {
    const batch = this.batches.get(key);
    if (!batch) return;
    this.batches.delete(key);
    clearTimeout(batch.idle);
    clearTimeout(batch.max);
    this.run(batch.waiting.map((w) => w.item)).then(
      (results) =>
        batch.waiting.forEach((w, k) => {
          const result = results[k];
          if (result instanceof Error) w.reject(result);
          else if (result === undefined) w.reject(new Error('the batch gave this request no answer'));
          else w.resolve(result);
        }),
      (err) => {
        for (const w of batch.waiting) w.reject(err);
      },
    );
  }
}

/** A patch that cannot be applied as written: the API answers 400 or 422 with its message. */
export class PatchError extends Error {
  constructor(
    message: string,
    readonly code: 400 | 422 = 400,
  ) {
    super(message);
  }
}

/** Server-side apply found fields another manager owns with other values. */
export class ApplyConflictError extends Error {
  constructor(readonly conflicts: { field: string; manager: string }[]) {
    const lines = conflicts.map((c) => `- conflict with "${c.manager}": ${c.field}`);
    super(`Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${lines.map((l) => l.slice(2)).join('; ')}`);
  }
}

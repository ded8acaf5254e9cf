/**
 * Runs tasks with at most `limit` in flight, in order of the list; rejects with the first
 * failure once the tasks under way have settled. For bulk writes (a deletecollection, a
 * garbage collector pass, a ReplicaSet's batch): enough in flight that the store commits them
 * together, few enough that other work gets its turn.
 */
export async function inParallel(tasks: (() => Promise<unknown>)[], limit: number): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < tasks.length && !failure) {
      const task = tasks[next++];
      try {
        await task();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failure) throw failure.error;
}

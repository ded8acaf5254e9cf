/**
 * How deep objects and arrays may nest. kube-apiserver's JSON decoder stops at 10,000 levels;
 * here the bound is lower, because the YAML library composes documents recursively and runs
 * out of stack at about 780 levels. 500 is still far past any real object (the deepest
 * Kubernetes schemas nest a few dozen levels). Request bodies are held to it as they are
 * decoded, and patch results too, so repeated patches cannot grow an object past it.
 */
export const MAX_NESTING_DEPTH = 500;

/** The message for a value past the bound, naming it. */
export function nestingMessage(limit = MAX_NESTING_DEPTH): string {
  return `nesting depth exceeds the limit of ${limit} levels`;
}

/** Whether objects and arrays in `value` nest deeper than `limit` (iterative: no recursion). */
export function nestedDeeperThan(value: unknown, limit = MAX_NESTING_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limit) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

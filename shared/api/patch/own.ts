/**
 * Object members as JSON has them: own properties only. `o[key]` would find `constructor` or
 * `toString` on the prototype, and `o[key] = v` with key `__proto__` would replace the
 * prototype instead of adding a member (JSON.parse makes `"__proto__"` an ordinary member).
 */
export function ownMember(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

export function setMember(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

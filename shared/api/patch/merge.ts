/**
 * JSON merge patch (RFC 7386): objects merge, null deletes, anything else replaces. Members
 * are read and written as own properties, so one named `__proto__` stays a member.
 */
import { ownMember, setMember } from './own.js';

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const base: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete base[key];
    else setMember(base, key, mergePatch(ownMember(base, key), value));
  }
  return base;
}

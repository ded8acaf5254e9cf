/**
 * Kubernetes name rules (apimachinery's validation): what metadata.name may be, per resource,
 * and what a metadata.generateName may be and the names it generates.
 */
import { randomSuffix } from '../store/object.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export type NameRule = 'dns1123-subdomain' | 'dns1123-label' | 'dns1035-label' | 'path-segment';

/** Returns the Kubernetes message for a bad name, or undefined when the name is fine. */
export function nameError(name: string, rule: NameRule): string | undefined {
  switch (rule) {
    case 'dns1123-label':
      if (name.length > 63) return 'must be no more than 63 characters';
      if (!DNS1123_LABEL.test(name)) {
        return `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`;
      }
      return undefined;
    case 'dns1035-label':
      if (name.length > 63) return 'must be no more than 63 characters';
      if (!DNS1035_LABEL.test(name)) {
        return `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`;
      }
      return undefined;
    case 'dns1123-subdomain':
      if (name.length > 253) return 'must be no more than 253 characters';
      if (!DNS1123_SUBDOMAIN.test(name)) {
        return `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`;
      }
      return undefined;
    case 'path-segment':
      if (name === '.' || name === '..') return `may not be '${name}'`;
      if (/[/%]/.test(name)) return `may not contain '/' or '%'`;
      return undefined;
  }
}

/** kube-apiserver's SimpleNameGenerator: the prefix cut to 58 characters, so that with the 5 random ones a name fits 63. */
export const MAX_GENERATED_NAME_PREFIX = 58;

/** The name a generateName gives: the prefix (cut to 58 characters) and a random suffix. */
export function generatedName(prefix: string, suffix = randomSuffix()): string {
  return prefix.slice(0, MAX_GENERATED_NAME_PREFIX) + suffix;
}

/**
 * Returns the Kubernetes message for a bad generateName, or undefined. As kube-apiserver, the
 * prefix itself must be a valid name but for a trailing '-' (ValidateObjectMeta with
 * prefix=true), and so must every name drawn from it.
 */
export function generateNameError(prefix: string, rule: NameRule): string | undefined {
  if (rule === 'path-segment') {
    if (/[/%]/.test(prefix)) return `may not contain '/' or '%'`;
  } else {
    // apimachinery's maskTrailingDash, quirk included: the dash and the character before it become 'a'.
    const masked = prefix.length > 1 && prefix.endsWith('-') ? `${prefix.slice(0, -2)}a` : prefix;
    const err = nameError(masked, rule);
    if (err) return err;
  }
  // Any suffix will do: all are five lowercase letters and digits.
  return nameError(generatedName(prefix, 'bbbbb'), rule);
}

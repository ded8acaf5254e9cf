/** What ConfigMaps and Secrets share: their data keys, and `immutable`. */
import type { KubeObject } from '../../store/object.js';
import type { StatusCause } from '../status.js';
import { asObj, forbiddenField, invalidValue, sameJson } from '../validation.js';

const DATA_FIELDS = ['data', 'binaryData', 'stringData'];

export function validateDataKeys(object: KubeObject, causes: StatusCause[]): void {
  for (const field of DATA_FIELDS) {
    for (const key of Object.keys(asObj(object[field]))) {
      if (!/^[-._a-zA-Z0-9]+$/.test(key) || key.length > 253)
        causes.push(invalidValue(`${field}[${key}]`, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
    }
  }
}

/** Once `immutable` is set, neither the data nor the flag changes. */
export function immutableData(object: KubeObject, old: KubeObject, causes: StatusCause[]): void {
  if (old.immutable !== true) return;
  for (const field of [...DATA_FIELDS, 'immutable'])
    if (!sameJson(object[field], old[field])) causes.push(forbiddenField(field, 'field is immutable when `immutable` is set'));
}

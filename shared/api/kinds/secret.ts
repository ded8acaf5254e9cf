/** core/v1 Secret. */
import { ageColumn, nameColumn } from '../columns.js';
import { Secret } from '../schemas/index.js';
import { asObj } from '../validation.js';
import { immutableData, validateDataKeys } from './config-data.js';
import { resource, type Kind } from './kind.js';

export const secret: Kind = {
  info: resource('', 'v1', 'secrets', 'Secret', { fieldSelectors: ['type'] }),
  schema: Secret,
  columns: [
    nameColumn,
    { name: 'Type', type: 'string', cell: (o) => o.type ?? 'Opaque' },
    { name: 'Data', type: 'integer', cell: (o) => Object.keys(asObj(o.data)).length },
    ageColumn,
  ],
  defaults(object) {
    object.type ??= 'Opaque';
    // stringData is write-only: its values join `data`, base64-encoded, winning over a same key.
    const text = object.stringData;
    if (text && typeof text === 'object' && !Array.isArray(text)) {
      const data: Record<string, unknown> = { ...asObj(object.data) };
      for (const [key, value] of Object.entries(text)) data[key] = Buffer.from(String(value)).toString('base64');
      object.data = data;
      delete object.stringData;
    }
  },
  validate: validateDataKeys,
  validateUpdate: immutableData,
};

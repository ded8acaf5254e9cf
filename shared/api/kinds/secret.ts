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
  },
  validate: validateDataKeys,
  validateUpdate: immutableData,
};

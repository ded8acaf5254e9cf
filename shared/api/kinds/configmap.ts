/** core/v1 ConfigMap. */
import { ageColumn, nameColumn } from '../columns.js';
import { ConfigMap } from '../schemas/index.js';
import { asObj } from '../validation.js';
import { immutableData, validateDataKeys } from './config-data.js';
import { resource, type Kind } from './kind.js';

export const configMap: Kind = {
  info: resource('', 'v1', 'configmaps', 'ConfigMap', { shortNames: ['cm'] }),
  schema: ConfigMap,
  columns: [nameColumn, { name: 'Data', type: 'integer', cell: (o) => Object.keys(asObj(o.data)).length + Object.keys(asObj(o.binaryData)).length }, ageColumn],
  validate: validateDataKeys,
  validateUpdate: immutableData,
};

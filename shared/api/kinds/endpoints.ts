/** core/v1 Endpoints. */
import { ageColumn, nameColumn } from '../columns.js';
import { Endpoints } from '../schemas/index.js';
import { asArray, asObj } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const endpoints: Kind = {
  info: resource('', 'v1', 'endpoints', 'Endpoints', { singular: 'endpoints', shortNames: ['ep'] }),
  schema: Endpoints,
  nameRule: 'path-segment',
  columns: [
    nameColumn,
    {
      name: 'Endpoints',
      type: 'string',
      cell: (o) => {
        const list: string[] = [];
        for (const s of asArray(o.subsets).map(asObj)) {
          for (const a of asArray(s.addresses).map(asObj)) {
            const ports = asArray(s.ports).map(asObj);
            if (ports.length === 0) list.push(String(a.ip));
            for (const p of ports) list.push(`${a.ip}:${p.port}`);
          }
        }
        if (list.length === 0) return '<none>';
        return list.length > 3 ? `${list.slice(0, 3).join(',')} + ${list.length - 3} more...` : list.join(',');
      },
    },
    ageColumn,
  ],
};

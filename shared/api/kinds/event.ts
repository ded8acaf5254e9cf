/** core/v1 Event. */
import { age } from '../columns.js';
import { Event } from '../schemas/index.js';
import { asObj } from '../validation.js';
import { resource, type Kind } from './kind.js';

export const event: Kind = {
  info: resource('', 'v1', 'events', 'Event', {
    shortNames: ['ev'],
    fieldSelectors: [
      'involvedObject.kind',
      'involvedObject.namespace',
      'involvedObject.name',
      'involvedObject.uid',
      'involvedObject.apiVersion',
      'involvedObject.resourceVersion',
      'involvedObject.fieldPath',
      'reason',
      'reportingComponent',
      'source',
      'type',
    ],
  }),
  schema: Event,
  nameRule: 'path-segment',
  columns: [
    { name: 'Last Seen', type: 'string', cell: (o, now) => age((o.lastTimestamp as string) || (o.eventTime as string) || o.metadata.creationTimestamp, now) },
    { name: 'Type', type: 'string', cell: (o) => o.type ?? '' },
    { name: 'Reason', type: 'string', cell: (o) => o.reason ?? '' },
    {
      name: 'Object',
      type: 'string',
      cell: (o) => {
        const io = asObj(o.involvedObject);
        return `${String(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`;
      },
    },
    { name: 'Message', type: 'string', cell: (o) => String(o.message ?? '').trim() },
  ],
};

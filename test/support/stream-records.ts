/**
 * A DynamoDB stream record of the store's log, in the shape a Lambda receives it (binary as
 * base64), for the tests of the functions that read the stream.
 */
import { gzipSync } from 'node:zlib';

/** The log item written at revision `seq` for `object`; its sequence number is 1000 + seq. */
export function streamRecord(seq: number, object: object, type = 'ADDED', resource = 'replicasets.apps') {
  const meta = (object as { metadata: { namespace?: string; name: string } }).metadata;
  return {
    eventID: `e${seq}`,
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    dynamodb: {
      SequenceNumber: String(1000 + seq),
      Keys: { pk: { S: 'log' }, sk: { S: String(seq).padStart(16, '0') } },
      NewImage: {
        pk: { S: 'log' },
        sk: { S: String(seq).padStart(16, '0') },
        rev: { N: String(seq) },
        type: { S: type },
        resource: { S: resource },
        namespace: { S: meta.namespace ?? '' },
        name: { S: meta.name },
        body: { B: gzipSync(JSON.stringify(object)).toString('base64') },
      },
    },
  };
}

/**
 * A meter in front of DynamoDB (Local): every request passes through unchanged but for
 * `ReturnConsumedCapacity: TOTAL`, added where the operation takes it, and the capacity the
 * engine reports is summed per operation. DynamoDB Local computes capacity as DynamoDB does
 * (4 KB write units, 4 KB strongly consistent read units, transactions at twice the cost), so
 * the cost model is built on measured units, not guessed ones. DynamoDB Streams calls are
 * counted too (Lambda's reads of a stream are not billed). Local only: the request is changed,
 * so a SigV4 signature would no longer hold, and DynamoDB Local does not check them.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const CAPACITY_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export interface OperationUse {
  requests: number;
  capacityUnits: number;
}

export interface CapacityMeter {
  endpoint: string;
  /** Per operation (`TransactWriteItems`, `Query`, `DynamoDBStreams.GetRecords`, ...). */
  readonly operations: Map<string, OperationUse>;
  /** Write and read units summed, for pricing. */
  totals(): { writeUnits: number; readUnits: number; requests: number };
  reset(): void;
  close(): Promise<void>;
}

function sumCapacity(consumed: unknown): number {
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  return list.reduce((sum: number, c: { CapacityUnits?: number }) => sum + (c.CapacityUnits ?? 0), 0);
}

export async function startCapacityMeter(target: string): Promise<CapacityMeter> {
  const upstream = new URL(target);
  const operations = new Map<string, OperationUse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [service, op] = String(req.headers['x-amz-target'] ?? 'unknown.unknown').split('.');
      const name = service.startsWith('DynamoDBStreams') ? `DynamoDBStreams.${op}` : op;
      let body = Buffer.concat(chunks);
      if (CAPACITY_OPERATIONS.has(op)) body = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString('utf8')), ReturnConsumedCapacity: 'TOTAL' }));
      const headers = { ...req.headers, 'content-length': String(body.length), host: upstream.host };
      const out = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers }, (answer) => {
        const back: Buffer[] = [];
        answer.on('data', (c: Buffer) => back.push(c));
        answer.on('end', () => {
          const text = Buffer.concat(back);
          const use = operations.get(name) ?? { requests: 0, capacityUnits: 0 };
          use.requests++;
          if (CAPACITY_OPERATIONS.has(op) && answer.statusCode === 200) use.capacityUnits += sumCapacity(JSON.parse(text.toString('utf8')).ConsumedCapacity);
          operations.set(name, use);
          res.writeHead(answer.statusCode ?? 500, answer.headers).end(text);
        });
      });
      out.on('error', (err) => res.writeHead(502).end(String(err)));
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    operations,
    totals() {
      let writeUnits = 0;
      let readUnits = 0;
      let requests = 0;
      for (const [name, use] of operations) {
        requests += use.requests;
        if (WRITES.has(name)) writeUnits += use.capacityUnits;
        else readUnits += use.capacityUnits;
      }
      return { writeUnits, readUnits, requests };
    },
    reset: () => operations.clear(),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

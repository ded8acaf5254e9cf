import { afterAll, beforeAll } from 'vitest';
import { openDynamoStore } from '../../shared/store/dynamodb.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../emulators/dynamodb-local.js';
import { storeContract } from './store.contract.js';

let local: DynamoDbLocal;
let tables = 0;
beforeAll(async () => {
  local = await startDynamoDbLocal();
});
afterAll(async () => {
  await local?.stop();
});

storeContract('dynamodb', async () => {
  const store = await openDynamoStore({ tableName: `contract-${process.pid}-${tables++}`, endpoint: local.endpoint, createTable: true, pollIntervalMs: 20 });
  return { store, cleanup: () => store.close() };
});

/**
 * The AWS shape, one file per concern. `sst.config.ts` calls this; the component tests
 * (test/infra/components.test.ts) call it under Pulumi's mocks.
 */
import { alarms } from './alarms';
import { apiGateway } from './api-gateway';
import { apiFunction, controllerFunctions } from './functions';
import { network } from './network';
import { queues } from './queues';
import { storage } from './storage';
import { workers } from './workers';

export function skiff() {
  const net = network();
  const state = storage();
  const q = queues();
  const pool = workers(net);
  const api = apiGateway(apiFunction(net, state));
  const controllers = controllerFunctions(state, q, net, pool, api.url);
  alarms(q, controllers);
  return {
    api: api.url,
    table: state.table.name,
    queue: q.requeue.url,
    workersCluster: pool.cluster.name,
    workerLaunchTemplate: pool.launchTemplate.id,
  };
}

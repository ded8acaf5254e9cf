/**
 * The AWS shape, one file per concern. `sst.config.ts` calls this; the component tests
 * (test/infra/components.test.ts) call it under Pulumi's mocks.
 */
import { alarms } from './alarms';
import { apiGateway } from './api-gateway';
import { apiFunction, controllerFunctions } from './functions';
import { front } from './front';
import { network } from './network';
import { queues } from './queues';
import { relay } from './relay';
import type { Identity } from './settings';
import { storage } from './storage';
import { workers } from './workers';

export function skiff(identity: Identity = {}) {
  const net = network();
  const state = storage();
  const q = queues();
  const pool = workers(net);
  const api = apiGateway(apiFunction(net, state, identity));
  const controllers = controllerFunctions(state, q, net, pool, api.url);
  alarms(q, controllers);
  // What users call: the API, with a pod's streams sent to the relay.
  const entry = front(api, relay(net, state, pool, identity));
  return {
    api: entry.url,
    apiGateway: api.url,
    table: state.table.name,
    queue: q.requeue.url,
    workersCluster: pool.cluster.name,
    workerLaunchTemplate: pool.launchTemplate.id,
  };
}

/**
 * The kubelet as a process: `tsx kubelet/main.ts --name local-0 --server https://... --token-file
 * ... --ca-file ... --data-dir ...`. With `--bootstrap-token-file`, a first start exchanges that
 * token for the node's own credential and keeps it in the `--token-file` (`bootstrap.ts`). The `local` cloud provider starts one per node. SIGTERM or
 * SIGINT stops its pods (grace periods honoured) and then the agent; SIGKILL leaves the
 * containers running for the next kubelet on the same data dir to adopt.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ApiClient } from './api-client.js';
import { keptServing, nodeCredential } from './bootstrap.js';
import { Kubelet } from './kubelet.js';
import { createRuntime } from './runtime/factory.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    server: { type: 'string' },
    'token-file': { type: 'string' },
    'bootstrap-token-file': { type: 'string' },
    'ca-file': { type: 'string' },
    'serving-token-file': { type: 'string' },
    'tls-cert-file': { type: 'string' },
    'tls-key-file': { type: 'string' },
    'data-dir': { type: 'string' },
    runtime: { type: 'string', default: 'process' },
    'docker-socket': { type: 'string', default: '/var/run/docker.sock' },
    address: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'pod-cidr': { type: 'string' },
    cpu: { type: 'string' },
    memory: { type: 'string' },
    pods: { type: 'string' },
    label: { type: 'string', multiple: true, default: [] },
    // As kubelet's: `key=value:Effect`, comma-separated; set when the Node is first made.
    'register-with-taints': { type: 'string' },
    // As kubelet's: the pods' nameserver, and the cluster's domain.
    'cluster-dns': { type: 'string' },
    'serve-cluster-dns': { type: 'boolean' },
    'cluster-domain': { type: 'string', default: 'cluster.local' },
    'provider-id': { type: 'string' },
    'lease-interval-ms': { type: 'string' },
    'history-interval-ms': { type: 'string' },
    'backoff-initial-ms': { type: 'string' },
    'pod-poll-seconds': { type: 'string' },
    // How often running pods' configMap, secret, downwardAPI and projected volumes are brought up to date (default 60).
    'volume-sync-seconds': { type: 'string' },
  },
});

function required(name: keyof typeof values): string {
  const v = values[name];
  if (typeof v !== 'string' || !v) {
    console.error(`kubelet: --${name} is required`);
    process.exit(2);
  }
  return v;
}

/** `key=value:Effect,key:Effect` as taints; a malformed one stops the kubelet with the reason. */
function parseTaints(text: string): { key: string; value?: string; effect: string }[] {
  return text
    .split(',')
    .filter(Boolean)
    .map((item) => {
      const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(item.trim());
      if (!m) {
        console.error(`kubelet: --register-with-taints: ${JSON.stringify(item)} is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute`);
        process.exit(2);
      }
      return { key: m[1], ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3] };
    });
}

async function main() {
  const name = required('name');
  const dataDir = required('data-dir');
  const ca = values['ca-file'] ? readFileSync(values['ca-file'], 'utf8') : undefined;
  const token = await nodeCredential({
    server: required('server'),
    ca,
    nodeName: name,
    credentialFile: required('token-file'),
    bootstrapToken: values['bootstrap-token-file'] ? readFileSync(values['bootstrap-token-file'], 'utf8').trim() : undefined,
    servingAddresses: [values.address!],
  });
  // Serving material from the bootstrap exchange, unless given on the command line.
  const serving = keptServing(required('token-file'));
  const api = new ApiClient({ server: required('server'), token, ca });
  const labels = Object.fromEntries(values.label!.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const backoffInitial = values['backoff-initial-ms'] ? Number(values['backoff-initial-ms']) : undefined;
  const kubelet = new Kubelet({
    nodeName: name,
    api,
    runtime: createRuntime(values.runtime!, { dataDir, node: name, dockerSocket: values['docker-socket'] }),
    address: values.address,
    port: Number(values.port),
    podCidr: values['pod-cidr'],
    volumesDir: join(dataDir, 'volumes'),
    localPathRoot: join(dataDir, 'storage'),
    ca,
    tls:
      values['tls-cert-file'] && values['tls-key-file']
        ? { cert: readFileSync(values['tls-cert-file'], 'utf8'), key: readFileSync(values['tls-key-file'], 'utf8') }
        : serving && { cert: serving.certificate, key: serving.key },
    servingToken: values['serving-token-file'] ? readFileSync(values['serving-token-file'], 'utf8').trim() : serving?.token,
    cpu: values.cpu ? Number(values.cpu) : undefined,
    memory: values.memory ? Number(values.memory) : undefined,
    pods: values.pods ? Number(values.pods) : undefined,
    labels,
    taints: parseTaints(values['register-with-taints'] ?? ''),
    clusterDns: values['cluster-dns'],
    serveDns: values['serve-cluster-dns'],
    clusterDomain: values['cluster-domain'],
    providerID: values['provider-id'],
    volumeSyncMs: values['volume-sync-seconds'] ? Number(values['volume-sync-seconds']) * 1000 : undefined,
    podPollIntervalMs: values['pod-poll-seconds'] ? Number(values['pod-poll-seconds']) * 1000 : undefined,
    leaseIntervalMs: values['lease-interval-ms'] ? Number(values['lease-interval-ms']) : undefined,
    historyIntervalMs: values['history-interval-ms'] ? Number(values['history-interval-ms']) : undefined,
    backoff: backoffInitial ? { initialMs: backoffInitial, maxMs: backoffInitial * 30, resetAfterMs: 600_000 } : undefined,
    log: (line) => console.log(line),
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping: pods first');
    await kubelet.stop({ stopPods: true });
    console.log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  await kubelet.start();
  console.log('ready');
}

main().catch((err) => {
  console.error(`kubelet: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});

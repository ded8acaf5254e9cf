/**
 * The node proxy against a real API server that cannot be reached when the proxy starts (an API
 * still starting, or too loaded to answer): its first lists fail, and it lists again in the
 * background until they succeed, then follows. A Service created afterwards answers on its
 * ClusterIP, through the proxy, from its endpoints. (A proxy that gave up on a failed first list
 * left a node without Services or cluster DNS for good.)
 */
import { createServer, type Server, connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../emulators/free-port.js';
import { ApiClient } from '../../kubelet/api-client.js';
import { ServiceProxy } from '../../kubelet/proxy.js';
import { claimLoopbackSlot } from '../support/loopback-slots.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';
import { until } from '../support/until.js';

const slot = claimLoopbackSlot();
// The API allocates ClusterIPs from this file's own loopback range, which the proxy binds.
process.env.SKIFF_SERVICE_CIDR = `${slot.servicePrefix}.0/24`;

let cluster: TestCluster;
let proxy: ServiceProxy | undefined;
const servers: Server[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await proxy?.stop();
  for (const s of servers) s.close();
  await cluster.stop();
  slot.release();
});

/** A TCP server on 127.0.0.1 that answers `hello` and closes; its port. */
async function helloServer(): Promise<number> {
  const server = createServer((socket) => socket.end('hello'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** What a TCP connection to host:port reads before it closes, or the error it ends in. */
function read(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const socket = connect({ host, port });
    socket.setTimeout(2000, () => socket.destroy(new Error('timed out')));
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', (err) => resolve(`error: ${err.message}`));
  });
}

it('lists again until the API answers, then serves a Service created later on its ClusterIP', async () => {
  // The API's address is a port nothing listens on yet; a forwarder to the server comes later.
  const port = await freePort();
  const lines: string[] = [];
  proxy = new ServiceProxy({
    api: new ApiClient({
      server: `https://127.0.0.1:${port}`,
      token: cluster.server.issueToken('system:node:proxy-test', ['system:nodes']),
      ca: cluster.server.caCert,
    }),
    nodeAddress: '127.0.0.1',
    log: (line) => lines.push(line),
  });
  await proxy.start();
  expect(proxy.services()).toEqual([]);
  expect(lines.join('\n')).toMatch(/proxy: listing \/api\/v1\/services: .*again in 1 s/);

  const api = new URL(cluster.server.url);
  const forwarder = createServer((socket) => socket.pipe(connect({ host: api.hostname, port: Number(api.port) })).pipe(socket));
  servers.push(forwarder);
  await new Promise<void>((resolve) => forwarder.listen(port, '127.0.0.1', resolve));
  await until('the proxy has listed the Services', async () => proxy?.services().some((s) => s.metadata.name === 'kubernetes'), 30_000);

  const backend = await helloServer();
  await cluster.kubectlOk(['create', 'service', 'clusterip', 'hello', '--tcp=80:8080']);
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'hello-1', labels: { 'kubernetes.io/service-name': 'hello' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    ports: [{ name: '80-8080', port: backend, protocol: 'TCP' }],
  };
  await cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(slice) });
  const clusterIP = (await cluster.kubectlOk(['get', 'service', 'hello', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  expect(clusterIP.startsWith(`${slot.servicePrefix}.`)).toBe(true);
  const answer = await until(
    'the Service answering on its ClusterIP',
    async () => {
      const got = await read(clusterIP, 80);
      return got === 'hello' && got;
    },
    30_000,
  );
  expect(answer).toBe('hello');
});

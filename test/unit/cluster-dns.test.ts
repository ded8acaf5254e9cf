/**
 * Cluster DNS over real UDP and TCP, on a store: a Service's name is its ClusterIP, a headless
 * Service's its ready endpoints (and each endpoint's dashed name), a named port an SRV record, an
 * ExternalName a CNAME; other names in the cluster domain are NXDOMAIN, and names outside it go
 * to the upstream resolver.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as packet from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../shared/api/registry.js';
import { type DnsServer, startDnsServer, storeDirectory } from '../../shared/dns/server.js';
import { openSqliteStore } from '../../shared/store/sqlite.js';
import type { KubeObject, Store } from '../../shared/store/types.js';

let store: Store;
let dns: DnsServer;
let upstream: DnsServer;

beforeAll(async () => {
  store = openSqliteStore({ path: ':memory:' });
  await new Registry(store).ensureSystemNamespaces();
  const service = (name: string, spec: object) =>
    store.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec } as unknown as KubeObject);
  await service('web', { clusterIP: '127.96.4.5', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
  await service('db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] });
  await service('mail', { type: 'ExternalName', externalName: 'smtp.example.com' });
  await store.create('endpointslices.discovery.k8s.io', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'db-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'db' } },
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['10.0.0.7'], conditions: { ready: true } },
      { addresses: ['10.0.0.8'], conditions: { ready: false } },
    ],
    ports: [{ name: 'pg', port: 5432 }],
  } as unknown as KubeObject);
  // An "upstream" (another cluster DNS, over an empty store) whose own upstream answers nothing.
  const other = openSqliteStore({ path: ':memory:' });
  upstream = await startDnsServer({ directory: storeDirectory(other), host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: 9 } });
  dns = await startDnsServer({ directory: storeDirectory(store), host: '127.0.0.1', port: 0, upstream: { host: '127.0.0.1', port: upstream.port } });
});
afterAll(async () => {
  await dns?.close();
  await upstream?.close();
  await store?.close();
});

function ask(name: string, type: packet.RecordType = 'A'): Promise<packet.Packet> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer for ${name}`));
    }, 4000);
    socket.on('message', (m) => {
      clearTimeout(timer);
      socket.close();
      resolve(packet.decode(m));
    });
    socket.send(packet.encode({ type: 'query', id: 7, flags: packet.RECURSION_DESIRED, questions: [{ type, name }] }), dns.port, '127.0.0.1');
  });
}

const data = (p: packet.Packet) => (p.answers ?? []).map((a) => (a as { data: unknown }).data);

describe('cluster DNS', () => {
  it('answers a Service with its ClusterIP, a headless one with its ready endpoints, an ExternalName with a CNAME', async () => {
    expect(data(await ask('web.default.svc.cluster.local'))).toEqual(['127.96.4.5']);
    expect(data(await ask('db.default.svc.cluster.local'))).toEqual(['10.0.0.7']);
    expect(data(await ask('10-0-0-7.db.default.svc.cluster.local'))).toEqual(['10.0.0.7']);
    expect(data(await ask('mail.default.svc.cluster.local'))).toEqual(['smtp.example.com']);
    expect(data(await ask('10-1-2-3.default.pod.cluster.local'))).toEqual(['10.1.2.3']);
  });

  it('answers SRV for named ports', async () => {
    expect(data(await ask('_http._tcp.web.default.svc.cluster.local', 'SRV'))).toEqual([
      { priority: 0, weight: 100, port: 80, target: 'web.default.svc.cluster.local' },
    ]);
    expect(data(await ask('_pg._tcp.db.default.svc.cluster.local', 'SRV'))).toEqual([
      { priority: 0, weight: 100, port: 5432, target: '10-0-0-7.db.default.svc.cluster.local' },
    ]);
  });

  it('says NXDOMAIN for unknown cluster names, and passes other names upstream', async () => {
    const missing = (await ask('nothere.default.svc.cluster.local')) as packet.Packet & { rcode: string; flag_aa: boolean };
    expect(missing.rcode).toBe('NXDOMAIN');
    expect(missing.flag_aa).toBe(true);
    const outside = (await ask('example.org')) as packet.Packet & { rcode: string; flag_aa: boolean };
    // Passed to the upstream, which passed it on to a port that answers nothing: SERVFAIL, not authoritative.
    expect(outside.rcode).toBe('SERVFAIL');
    expect(outside.flag_aa).toBe(false);
  });

  it('answers over TCP too, each message prefixed with its length', async () => {
    const query = packet.encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] });
    const answer = await new Promise<packet.Packet>((resolve, reject) => {
      const socket = connect(dns.port, '127.0.0.1', () => {
        const length = Buffer.alloc(2);
        length.writeUInt16BE(query.length);
        socket.write(Buffer.concat([length, query]));
      });
      let got = Buffer.alloc(0);
      socket.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          socket.end();
          resolve(packet.decode(got.subarray(2)));
        }
      });
      socket.on('error', reject);
    });
    expect(data(answer)).toEqual(['127.96.4.5']);
  });
});

/**
 * Services with the real kubectl (simulated nodes run the pods): `kubectl expose` gets a
 * ClusterIP from the service range that no other Service holds, NodePorts from their range, and
 * the endpoints controller keeps the EndpointSlices and Endpoints of the selected pods (ready,
 * serving and terminating, named target ports resolved); addresses asked for that are taken or
 * out of range are refused with the field named, and a deleted Service's address is free again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlledCluster, startControlledCluster } from '../support/api-server.js';
import { until } from '../support/until.js';

let cluster: ControlledCluster;

beforeAll(async () => {
  cluster = await startControlledCluster(2);
  await cluster.kubectlOk(['create', 'deployment', 'web', '--image=app:v1', '--replicas=3', '--port=8080']);
  await cluster.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
});
afterAll(async () => {
  await cluster?.stop();
});

const json = async (args: string[]) => JSON.parse(await cluster.kubectlOk([...args, '-o', 'json']));
const podIPs = async () => ((await json(['get', 'pods', '-l', 'app=web'])).items as { status: { podIP: string } }[]).map((p) => p.status.podIP).sort();

describe('Services and their endpoints', () => {
  it('gives an exposed Deployment a ClusterIP in the range, and EndpointSlices and Endpoints of its ready pods', async () => {
    expect((await cluster.kubectlOk(['expose', 'deployment', 'web', '--port=80', '--target-port=8080'])).trim()).toBe('service/web exposed');
    const svc = await json(['get', 'svc', 'web']);
    expect(svc.spec.clusterIP).toMatch(/^127\.96\.\d+\.\d+$/);
    expect(svc.spec.clusterIP).not.toBe('127.96.0.1');
    expect(svc.spec.clusterIPs).toEqual([svc.spec.clusterIP]);
    const ips = await podIPs();
    expect(ips).toHaveLength(3);
    const slices = await until(
      'the slices',
      async () => {
        const list = (await json(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web'])).items;
        return list.length === 1 && list[0].endpoints?.length === 3 && list;
      },
      20_000,
      200,
    );
    expect(slices[0]).toMatchObject({ addressType: 'IPv4', ports: [{ port: 8080, protocol: 'TCP' }] });
    expect(slices[0].metadata.ownerReferences[0]).toMatchObject({ kind: 'Service', name: 'web', controller: true });
    expect(slices[0].endpoints.map((e: { addresses: string[] }) => e.addresses[0]).sort()).toEqual(ips);
    for (const e of slices[0].endpoints) expect(e.conditions).toEqual({ ready: true, serving: true, terminating: false });
    const endpoints = await json(['get', 'endpoints', 'web']);
    expect(endpoints.subsets).toHaveLength(1);
    expect(endpoints.subsets[0].addresses.map((a: { ip: string }) => a.ip).sort()).toEqual(ips);
    expect(endpoints.subsets[0].ports).toEqual([{ port: 8080, protocol: 'TCP' }]);
    expect(await cluster.kubectlOk(['get', 'endpoints', 'web'])).toMatch(/^web\s+\S+:8080,\S+:8080,\S+:8080\s+/m);
  });

  it('follows the pods: scaled up and down, the endpoints follow', async () => {
    await cluster.kubectlOk(['scale', 'deployment/web', '--replicas=5']);
    await until('5 endpoints', async () => (await json(['get', 'endpoints', 'web'])).subsets?.[0]?.addresses?.length === 5, 30_000, 200);
    await cluster.kubectlOk(['scale', 'deployment/web', '--replicas=2']);
    await until('2 endpoints', async () => (await json(['get', 'endpoints', 'web'])).subsets?.[0]?.addresses?.length === 2, 30_000, 200);
    const ips = await until('2 pods left', async () => {
      const now = await podIPs();
      return now.length === 2 && now;
    });
    const slice = (await json(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web'])).items[0];
    expect(slice.endpoints.map((e: { addresses: string[] }) => e.addresses[0]).sort()).toEqual(ips);
  });

  it('resolves a named target port in each pod, and makes NodePorts from their range', async () => {
    const manifest = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'named' },
      spec: { type: 'NodePort', selector: { app: 'named' }, ports: [{ name: 'http', port: 80, targetPort: 'web' }] },
    };
    await cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    await cluster.kubectlOk([
      'run',
      'named',
      '--image=app:v1',
      '--labels=app=named',
      '--overrides',
      JSON.stringify({ spec: { containers: [{ name: 'named', image: 'app:v1', ports: [{ name: 'web', containerPort: 9090 }] }] } }),
    ]);
    const svc = await json(['get', 'svc', 'named']);
    expect(svc.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
    expect(svc.spec.ports[0].nodePort).toBeLessThanOrEqual(32767);
    expect(await cluster.kubectlOk(['get', 'svc', 'named'])).toMatch(
      new RegExp(`^named\\s+NodePort\\s+127\\.96\\.\\S+\\s+<none>\\s+80:${svc.spec.ports[0].nodePort}/TCP\\s+`, 'm'),
    );
    const endpoints = await until('the named port resolved', async () => (await json(['get', 'endpoints', 'named'])).subsets?.[0], 30_000, 200);
    expect(endpoints.ports).toEqual([{ name: 'http', port: 9090, protocol: 'TCP' }]);
  });
});

describe('what a Service may not hold', () => {
  const create = (name: string, spec: object) =>
    cluster.api('/api/v1/namespaces/default/services', {
      method: 'POST',
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec }),
    });

  it('refuses an address out of the range or held by another, and a NodePort taken or out of range', async () => {
    const web = await json(['get', 'svc', 'web']);
    const taken = await create('copycat', { clusterIP: web.spec.clusterIP, ports: [{ port: 80 }] });
    expect(taken.status).toBe(422);
    expect(taken.json().details.causes[0]).toMatchObject({ field: 'spec.clusterIP', message: expect.stringContaining('provided IP is already allocated') });
    const outside = await create('outside', { clusterIP: '10.0.0.1', ports: [{ port: 80 }] });
    expect(outside.status).toBe(422);
    expect(outside.json().message).toContain('provided IP is not in the valid range. The range of valid IPs is 127.96.0.0/16');
    const named = await json(['get', 'svc', 'named']);
    const port = await create('sameport', { type: 'NodePort', ports: [{ port: 80, nodePort: named.spec.ports[0].nodePort }] });
    expect(port.status).toBe(422);
    expect(port.json().message).toContain('provided port is already allocated');
    expect((await create('lowport', { type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] })).status).toBe(422);
    // Headless: no address; a dry run holds nothing.
    expect((await create('headless', { clusterIP: 'None', selector: { app: 'web' }, ports: [{ port: 80 }] })).json().spec.clusterIP).toBe('None');
    const dry = await cluster.api('/api/v1/namespaces/default/services?dryRun=All', {
      method: 'POST',
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'dry' }, spec: { clusterIP: '127.96.9.9', ports: [{ port: 80 }] } }),
    });
    expect(dry.status).toBe(201);
    expect((await create('after-dry', { clusterIP: '127.96.9.9', ports: [{ port: 80 }] })).status).toBe(201);
  });

  it('gives a Service turned NodePort its NodePorts, keeps them across updates, and frees them when it turns back', async () => {
    expect((await create('turns', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] })).status).toBe(201);
    await cluster.kubectlOk(['patch', 'svc', 'turns', '-p', '{"spec":{"type":"NodePort"}}']);
    const nodePort = (await json(['get', 'svc', 'turns'])).spec.ports[0].nodePort;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    await cluster.kubectlOk(['label', 'svc', 'turns', 'tier=front']);
    expect((await json(['get', 'svc', 'turns'])).spec.ports[0].nodePort).toBe(nodePort);
    await cluster.kubectlOk(['patch', 'svc', 'turns', '-p', '{"spec":{"type":"ClusterIP"}}']);
    expect((await json(['get', 'svc', 'turns'])).spec.ports[0].nodePort).toBeUndefined();
    // Its NodePort is free again: another Service may ask for it.
    await until(
      'the NodePort free',
      async () => (await create(`takes-${Date.now()}`, { type: 'NodePort', ports: [{ port: 80, nodePort }] })).status === 201,
      20_000,
      200,
    );
  });

  it('frees a deleted Service’s address for the next', async () => {
    const mine = await create('short-lived', { clusterIP: '127.96.7.7', ports: [{ port: 80 }] });
    expect(mine.status).toBe(201);
    await cluster.kubectlOk(['delete', 'svc', 'short-lived']);
    // Let go once the Service is gone (a Service being made holds its address for a minute at most).
    await until('the address free', async () => (await create('next', { clusterIP: '127.96.7.7', ports: [{ port: 80 }] })).status === 201, 20_000, 200);
  });
});

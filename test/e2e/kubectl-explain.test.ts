/**
 * The OpenAPI v3 answer describes every field of every served kind, as Kubernetes' does: the
 * real kubectl explains nested field paths with their types and descriptions, and a plain
 * (client-side) re-apply and diff of a changed manifest compute their patches from it without
 * an `unable to find api field` warning, and with the list merges the server does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listStrategy } from '../../shared/api/patch/merge-keys.js';
import { RESOURCES, servedGroupVersions } from '../../shared/api/resources.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

/** kubectl explain's output with its tab-separated field lines. */
async function explain(path: string): Promise<string> {
  return cluster.kubectlOk(['explain', path]);
}

describe('kubectl explain', () => {
  it('pods.spec.containers.env: the list, its item type and their fields', async () => {
    const out = await explain('pods.spec.containers.env');
    expect(out).toMatch(/^KIND:\s+Pod$/m);
    expect(out).toMatch(/^FIELD: env <\[\]EnvVar>$/m);
    expect(out).toContain('List of environment variables to set in the container.');
    expect(out).toContain('EnvVar represents an environment variable present in a Container.');
    expect(out).toMatch(/^ {2}name\t<string> -required-$/m);
    expect(out).toMatch(/^ {2}value\t<string>$/m);
    expect(out).toMatch(/^ {2}valueFrom\t<EnvVarSource>$/m);
    expect(out).toContain('Variable references $(VAR_NAME) are expanded');
  });

  it('deployments.spec.strategy.rollingUpdate: int-or-string fields', async () => {
    const out = await explain('deployments.spec.strategy.rollingUpdate');
    expect(out).toMatch(/^GROUP:\s+apps$/m);
    expect(out).toMatch(/^FIELD: rollingUpdate <RollingUpdateDeployment>$/m);
    expect(out).toContain('Rolling update config params. Present only if DeploymentStrategyType =');
    expect(out).toMatch(/^ {2}maxSurge\t<IntOrString>$/m);
    expect(out).toMatch(/^ {2}maxUnavailable\t<IntOrString>$/m);
    expect(out).toContain('The maximum number of pods that can be scheduled above the desired number');
  });

  it('services.spec.ports: integers, enums and required fields', async () => {
    const out = await explain('services.spec.ports');
    expect(out).toMatch(/^FIELD: ports <\[\]ServicePort>$/m);
    expect(out).toContain('The list of ports that are exposed by this service.');
    expect(out).toMatch(/^ {2}port\t<integer> -required-$/m);
    expect(out).toMatch(/^ {2}targetPort\t<IntOrString>$/m);
    expect(out).toMatch(/^ {2}protocol\t<string>\n {2}enum: SCTP, TCP, UDP$/m);
  });

  it('every served kind, at the top and down a nested path', async () => {
    const nested: Record<string, [string, RegExp, string]> = {
      namespaces: ['namespaces.status.phase', /^FIELD: phase <string>$/m, 'Phase is the current lifecycle phase of the namespace.'],
      pods: [
        'pods.spec.containers.resources.limits',
        /^FIELD: limits <map\[string\]Quantity>$/m,
        'Limits describes the maximum amount of compute resources allowed.',
      ],
      nodes: ['nodes.status.addresses', /^FIELD: addresses <\[\]NodeAddress>$/m, 'List of addresses reachable to the node.'],
      services: ['services.spec.type', /^FIELD: type <string>$/m, 'type determines how the Service is exposed.'],
      endpoints: ['endpoints.subsets.addresses.ip', /^FIELD: ip <string>$/m, 'The IP of this endpoint.'],
      events: ['events.involvedObject.uid', /^FIELD: uid <string>$/m, 'UID of the referent.'],
      configmaps: ['configmaps.data', /^FIELD: data <map\[string\]string>$/m, 'Data contains the configuration data.'],
      secrets: ['secrets.type', /^FIELD: type <string>$/m, 'Used to facilitate programmatic handling of secret data.'],
      deployments: ['deployments.spec.template.spec.containers.image', /^FIELD: image <string>$/m, 'Container image name.'],
      replicasets: ['replicasets.spec.selector.matchLabels', /^FIELD: matchLabels <map\[string\]string>$/m, 'matchLabels is a map of {key,value} pairs.'],
      leases: ['leases.spec.renewTime', /^FIELD: renewTime <string>$/m, 'renewTime is a time when the current holder of a lease has last updated the lease.'],
    };
    // A kind served without its own entry here (one added later) is explained down metadata.
    const served = RESOURCES.map((r) => r.resource);
    for (const name of Object.keys(nested)) expect(served).toContain(name);
    for (const r of RESOURCES) {
      // A plural two groups share (metrics.k8s.io's nodes and pods) is named by its kind, as kubectl explain takes it.
      const name = RESOURCES.filter((x) => x.resource === r.resource).length > 1 && r.group ? r.kind.toLowerCase() : r.resource;
      const top = await explain(name);
      expect(top).toMatch(new RegExp(`^KIND:\\s+${r.kind}$`, 'm'));
      expect(top).not.toContain('<empty>');
      expect(top).toMatch(/^ {2}metadata\t<ObjectMeta>( -required-)?$/m); // required in Events
      // The upstream metadata description (RBAC's kinds have the short one).
      expect(top).toMatch(/api-conventions\.md#metadata|Standard object's metadata\./);
      const [path, field, description] = (name === r.resource ? nested[r.resource] : undefined) ?? [
        `${name}.metadata.name`,
        /^FIELD: name <string>$/m,
        'Name must be unique within a namespace.',
      ];
      const out = await explain(path);
      expect(out, path).toMatch(field);
      expect(out.replace(/\s+/g, ' '), path).toContain(description);
    }
  });

  it('a field that is not there is an error naming it', async () => {
    const r = await cluster.kubectl(['explain', 'pods.spec.containers.nosuchfield']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('field "nosuchfield" does not exist');
  });
});

const stack = (image: string, env: string, servicePort: number, data: string, holder: string) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: explained
  labels: {app: explained}
spec:
  replicas: 2
  selector:
    matchLabels: {app: explained}
  template:
    metadata:
      labels: {app: explained}
    spec:
      containers:
      - name: web
        image: ${image}
        env: [${env}]
        ports: [{containerPort: 80, name: http}]
        resources:
          limits: {cpu: 500m, memory: 128Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: explained
spec:
  selector: {app: explained}
  ports:
  - {name: http, port: ${servicePort}, targetPort: http}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: explained
  annotations: {note: "${holder}"}
data: {${data}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: explained
spec:
  holderIdentity: ${holder}
  leaseDurationSeconds: 15
`;

describe('client-side apply and diff', () => {
  it('re-apply and diff of a changed manifest: no field warnings, lists merged as kubectl meant', async () => {
    const file = join(cluster.dir, 'explained.yaml');
    writeFileSync(file, stack('nginx:1.25', '{name: A, value: "1"}, {name: B, value: "2"}', 80, 'one: "1", two: "2"', 'first'));
    const created = await cluster.kubectl(['apply', '-f', file]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toBe('');

    // Change a container image, drop an env entry, change a service port, a map, a lease field.
    writeFileSync(file, stack('nginx:1.26', '{name: A, value: "10"}', 8080, 'one: "1", three: "3"', 'second'));
    const diff = await cluster.kubectl(['diff', '-f', file]);
    expect(diff.code, diff.stderr).toBe(1); // 1: differences found
    expect(diff.stderr).not.toContain('unable to find api field');
    expect(diff.stderr).not.toContain('warning');
    expect(diff.stdout).toMatch(/^-\s+image: nginx:1\.25$/m);
    expect(diff.stdout).toMatch(/^\+\s+image: nginx:1\.26$/m);
    expect(diff.stdout).toMatch(/^-\s+- name: B$/m);
    expect(diff.stdout).toMatch(/^\+\s+holderIdentity: second$/m);

    const applied = await cluster.kubectl(['apply', '-f', file]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).not.toContain('unable to find api field');
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('deployment.apps/explained configured');
    expect(applied.stdout).toContain('service/explained configured');
    expect(applied.stdout).toContain('lease.coordination.k8s.io/explained configured');

    const deployment = JSON.parse(await cluster.kubectlOk(['get', 'deployment', 'explained', '-o', 'json']));
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe('nginx:1.26');
    expect(container.env).toEqual([{ name: 'A', value: '10' }]);
    expect(container.resources.limits).toEqual({ cpu: '500m', memory: '128Mi' });
    const service = JSON.parse(await cluster.kubectlOk(['get', 'service', 'explained', '-o', 'json']));
    expect(service.spec.ports.map((p: { port: number }) => p.port)).toEqual([8080]);
    const configMap = JSON.parse(await cluster.kubectlOk(['get', 'configmap', 'explained', '-o', 'json']));
    expect(configMap.data).toEqual({ one: '1', three: '3' });
    const lease = JSON.parse(await cluster.kubectlOk(['get', 'lease', 'explained', '-o', 'json']));
    expect(lease.spec.holderIdentity).toBe('second');

    // Applied as written: nothing left to diff.
    const again = await cluster.kubectl(['diff', '-f', file]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
  });
});

describe('the OpenAPI v3 documents', () => {
  it('the root names each group-version with a stable hash, and the hashed URL serves it', async () => {
    const first = (await cluster.api('/openapi/v3')).json();
    const second = (await cluster.api('/openapi/v3')).json();
    expect(second).toEqual(first);
    expect(Object.keys(first.paths).sort()).toEqual(
      servedGroupVersions()
        .map((gv) => (gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`))
        .sort(),
    );
    expect(Object.keys(first.paths)).toContain('apis/apps/v1');
    for (const { serverRelativeURL } of Object.values<{ serverRelativeURL: string }>(first.paths)) {
      expect(serverRelativeURL).toMatch(/\?hash=[0-9A-F]{16}$/);
      const res = await cluster.api(serverRelativeURL);
      expect(res.status).toBe(200);
      expect(res.json().components.schemas).toBeTruthy();
    }
    const core = (await cluster.api('/openapi/v3/api/v1')).json().components.schemas;
    expect(core['io.k8s.api.core.v1.Pod']['x-kubernetes-group-version-kind']).toEqual([{ group: '', version: 'v1', kind: 'Pod' }]);
    expect(core['io.k8s.api.core.v1.Container'].properties.env).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      'x-kubernetes-patch-merge-key': 'name',
      'x-kubernetes-patch-strategy': 'merge',
    });
    expect(core['io.k8s.api.core.v1.PodSpec'].properties.containers.description).toContain('List of containers belonging to the pod.');
    const coordination = (await cluster.api('/openapi/v3/apis/coordination.k8s.io/v1')).json().components.schemas;
    expect(coordination['io.k8s.api.coordination.v1.Lease']['x-kubernetes-group-version-kind']).toEqual([
      { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' },
    ]);
  });

  it("declares a list merge exactly where the server's strategic merge patch merges", async () => {
    // kubectl sends a list marked `merge` as a partial list: the server must merge it too, and
    // a list the server merges must be sent whole by kubectl only if it is marked so. Walk
    // every list kubectl's patch can reach (through objects and merged lists) and compare.
    // Known difference: Kubernetes merges the finalizers of every ObjectMeta as a set; Skiff's
    // merge-keys only those of the object's own metadata, not of embedded templates.
    const known = /(^|\.)(template|jobTemplate|volumeClaimTemplate)\.metadata\.finalizers$/;
    const mismatches: string[] = [];
    let checked = 0;
    for (const r of RESOURCES) {
      const path = r.group ? `/openapi/v3/apis/${r.group}/${r.version}` : `/openapi/v3/api/${r.version}`;
      const schemas: Record<string, any> = (await cluster.api(path)).json().components.schemas;
      const byRef = (ref: string) => schemas[ref.replace('#/components/schemas/', '')];
      const root = Object.values(schemas).find((s) => s['x-kubernetes-group-version-kind']?.some((g: { kind: string }) => g.kind === r.kind));
      expect(root, r.kind).toBeTruthy();
      const walk = (schema: any, at: string[]) => {
        if (at.length > 16) return;
        for (const [name, field] of Object.entries<any>(schema.properties ?? {})) {
          const fieldPath = [...at, name];
          const ref = field.$ref ?? field.allOf?.[0]?.$ref;
          if (field.type === 'array') {
            checked++;
            const strategy = String(field['x-kubernetes-patch-strategy'] ?? '');
            const key = field['x-kubernetes-patch-merge-key'];
            const declared = strategy.includes('merge') ? (key ? `merge:${key}` : 'set') : 'replace';
            const s = listStrategy(fieldPath);
            const server = s.kind === 'merge' ? `merge:${s.key}` : s.kind;
            if (declared !== server && !known.test(fieldPath.join('.')))
              mismatches.push(`${r.kind} ${fieldPath.join('.')}: openapi ${declared}, server ${server}`);
            if (strategy.includes('merge') && field.items?.$ref) walk(byRef(field.items.$ref), fieldPath);
          } else if (ref) {
            walk(byRef(ref), fieldPath);
          }
        }
      };
      walk(root, []);
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });
});

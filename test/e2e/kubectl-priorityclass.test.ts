/**
 * PriorityClass, the kind added as one file (shared/api/kinds/priorityclass.ts): kubectl
 * creates, lists with its columns, explains it, and the API validates it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

const manifest = (name: string, value: number | undefined, extra = '') => `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: ${name}
${value === undefined ? '' : `value: ${value}\n`}description: a priority
${extra}`;

describe('PriorityClass', () => {
  it('is created with kubectl and listed with its columns, cluster-scoped', async () => {
    expect((await cluster.kubectlOk(['apply', '-f', '-'], { input: manifest('high', 1000, 'globalDefault: true\n') })).trim()).toBe(
      'priorityclass.scheduling.k8s.io/high created',
    );
    const table = await cluster.kubectlOk(['get', 'pc', '-o', 'wide']);
    expect(table).toMatch(/^NAME\s+VALUE\s+GLOBAL-DEFAULT\s+AGE\s+PREEMPTIONPOLICY$/m);
    expect(table).toMatch(/^high\s+1000\s+true\s+\S+\s+PreemptLowerPriority$/m);
    const stored = JSON.parse(await cluster.kubectlOk(['get', 'priorityclass', 'high', '-o', 'json']));
    expect(stored).toMatchObject({
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      value: 1000,
      globalDefault: true,
      preemptionPolicy: 'PreemptLowerPriority',
    });
    expect(stored.metadata.namespace).toBeUndefined();
    expect(await cluster.kubectlOk(['explain', 'priorityclass.value'])).toMatch(/^FIELD: value <integer>/m);
  });

  it('is validated: value required and bounded, no system- names, value immutable', async () => {
    const missing = await cluster.kubectl(['apply', '-f', '-'], { input: manifest('novalue', undefined) });
    expect(missing.stderr).toContain('value: Required value');
    const huge = await cluster.kubectl(['apply', '-f', '-'], { input: manifest('huge', 2_000_000_000) });
    expect(huge.stderr).toContain('must be no greater than 1000000000');
    const reserved = await cluster.kubectl(['apply', '-f', '-'], { input: manifest('system-mine', 5) });
    expect(reserved.stderr).toContain("priority class names with 'system-' prefix are reserved");
    await cluster.kubectlOk(['apply', '-f', '-'], { input: manifest('fixed', 10) });
    const changed = await cluster.kubectl(['apply', '-f', '-'], { input: manifest('fixed', 11) });
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('value: Forbidden: may not be changed in an update.');
    expect(JSON.parse(await cluster.kubectlOk(['get', 'pc', 'fixed', '-o', 'json'])).value).toBe(10);
  });

  it('gives a pod the priority of its class, or of the global default; refuses a class that does not exist', async () => {
    const pod = (name: string, extra: string) => `apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  ${extra}
  containers: [{ name: c, image: busybox }]
`;
    await cluster.kubectlOk(['apply', '-f', '-'], { input: pod('urgent', 'priorityClassName: fixed') });
    expect(JSON.parse(await cluster.kubectlOk(['get', 'pod', 'urgent', '-o', 'json'])).spec).toMatchObject({
      priorityClassName: 'fixed',
      priority: 10,
      preemptionPolicy: 'PreemptLowerPriority',
    });
    // No class named: the global default's (`high`, made above).
    await cluster.kubectlOk(['apply', '-f', '-'], { input: pod('plain', '') });
    expect(JSON.parse(await cluster.kubectlOk(['get', 'pod', 'plain', '-o', 'json'])).spec).toMatchObject({ priorityClassName: 'high', priority: 1000 });
    const critical = await cluster.kubectlOk(['apply', '-f', '-'], { input: pod('critical', 'priorityClassName: system-node-critical') });
    expect(critical).toContain('pod/critical created');
    expect(JSON.parse(await cluster.kubectlOk(['get', 'pod', 'critical', '-o', 'json'])).spec.priority).toBe(2000001000);
    expect((await cluster.kubectl(['apply', '-f', '-'], { input: pod('lost', 'priorityClassName: nowhere') })).stderr).toContain(
      'pods "lost" is forbidden: no PriorityClass with name nowhere was found',
    );
    expect((await cluster.kubectl(['apply', '-f', '-'], { input: pod('cheat', 'priorityClassName: fixed\n  priority: 99') })).stderr).toContain(
      'the integer value of priority (99) must not be provided in pod spec; priority admission controller computed 10 from the given PriorityClass name',
    );
    expect(await cluster.kubectlOk(['get', 'pc'])).toMatch(/^system-node-critical\s+2000001000\s+false/m);
  });
});

/**
 * Pod Security Admission by namespace label, with the real kubectl: `restricted` and `baseline`
 * refuse the pods that break them in kube-apiserver's words, whoever creates them (a controller
 * goes through the same registry); unlabelled namespaces allow everything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../shared/api/registry.js';
import { findResource } from '../../shared/api/resources.js';
import { startTestCluster, type TestCluster } from '../support/api-server.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster();
  for (const [ns, level] of [
    ['locked', 'restricted'],
    ['guarded', 'baseline'],
  ]) {
    await cluster.kubectlOk(['create', 'namespace', ns]);
    await cluster.kubectlOk(['label', 'namespace', ns, `pod-security.kubernetes.io/enforce=${level}`]);
  }
});
afterAll(async () => {
  await cluster?.stop();
});

const pod = (name: string, spec: Record<string, unknown>, container: Record<string, unknown> = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { ...spec, containers: [{ name: 'c', image: 'busybox', ...container }] } });

describe('Pod Security Admission', () => {
  it('restricted refuses a plain pod, naming every check it breaks, and admits one that meets them', async () => {
    const plain = await cluster.kubectl(['run', 'web', '--image=busybox', '-n', 'locked']);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain(
      'pods "web" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "web" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "web" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "web" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "web" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    const compliant = pod(
      'good',
      { securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } } },
      { securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
    );
    expect((await cluster.kubectl(['apply', '-n', 'locked', '-f', '-'], { input: compliant })).code).toBe(0);
    const hostPath = pod('mounts', { volumes: [{ name: 'root', hostPath: { path: '/' } }] });
    expect((await cluster.kubectl(['apply', '-n', 'locked', '-f', '-'], { input: hostPath })).stderr).toContain('hostPath volumes (volume "root")');
  });

  it('baseline refuses host namespaces, privileged containers and added capabilities; allows a plain pod', async () => {
    expect((await cluster.kubectl(['run', 'plain', '--image=busybox', '-n', 'guarded'])).code).toBe(0);
    const host = await cluster.kubectl(['apply', '-n', 'guarded', '-f', '-'], { input: pod('host', { hostNetwork: true }) });
    expect(host.stderr).toContain('violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)');
    const privileged = await cluster.kubectl(['apply', '-n', 'guarded', '-f', '-'], {
      input: pod('priv', {}, { securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } } }),
    });
    expect(privileged.stderr).toContain(
      'privileged (container "c" must not set securityContext.privileged=true), non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)',
    );
    expect((await cluster.kubectl(['apply', '-n', 'default', '-f', '-'], { input: pod('host', { hostNetwork: true }) })).code).toBe(0);
  });

  it('warn answers what would be refused, for pods and for the pod templates of workloads, and lets them be', async () => {
    await cluster.kubectlOk(['create', 'namespace', 'watched']);
    await cluster.kubectlOk(['label', 'namespace', 'watched', 'pod-security.kubernetes.io/warn=baseline']);
    const host = await cluster.kubectl(['apply', '-n', 'watched', '-f', '-'], { input: pod('host', { hostNetwork: true }) });
    expect(host.code).toBe(0);
    expect(host.stderr).toContain('Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)');
    const workload = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'privileged-app' },
      spec: {
        selector: { matchLabels: { app: 'p' } },
        template: { metadata: { labels: { app: 'p' } }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } },
      },
    };
    const deployed = await cluster.kubectl(['apply', '-n', 'watched', '-f', '-'], { input: JSON.stringify(workload) });
    expect(deployed.code).toBe(0);
    expect(deployed.stderr).toContain(
      'Warning: would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)',
    );
    expect((await cluster.kubectl(['run', 'quiet', '--image=busybox', '-n', 'watched'])).stderr).not.toContain('Warning');
  });

  it('a controller creating pods meets the same check (it creates through the registry)', async () => {
    const registry = new Registry(cluster.store);
    const created = registry.create(findResource('', 'v1', 'pods')!, 'locked', {
      metadata: { generateName: 'web-abc-' },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    await expect(created).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining('pods "web-abc-" is forbidden: violates PodSecurity "restricted:latest"'),
    });
    expect((await cluster.store.list('pods', { namespace: 'locked' })).items.map((p) => p.metadata.name)).toEqual(['good']);
  });
});

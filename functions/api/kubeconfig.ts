/** Writes a kubeconfig that kubectl and the client libraries read: server, CA, token. */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export function kubeconfigYaml(options: { server: string; caCert: string; token: string; cluster?: string; user?: string }): string {
  const cluster = options.cluster ?? 'skiff';
  const user = options.user ?? 'skiff-admin';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: options.server, 'certificate-authority-data': Buffer.from(options.caCert).toString('base64') } }],
    users: [{ name: user, user: { token: options.token } }],
    contexts: [{ name: cluster, context: { cluster, user, namespace: 'default' } }],
    'current-context': cluster,
    preferences: {},
  });
}

export function writeKubeconfig(path: string, options: Parameters<typeof kubeconfigYaml>[0]): void {
  writeFileSync(path, kubeconfigYaml(options), { mode: 0o600 });
}

/**
 * The ServiceAccount admission of a new pod, as Kubernetes' plugin does it: the pod runs as
 * `default` unless it names an account, and unless the pod or its account turns
 * `automountServiceAccountToken` off, it gets a projected volume `kube-api-access-<suffix>` (a
 * token for its account bound to the pod, the cluster's CA, its namespace) mounted read-only at
 * `/var/run/secrets/kubernetes.io/serviceaccount` in every container. The kubelet fills it
 * and refreshes the token before it expires.
 */
import type { KubeObject } from '../store/object.js';
import { randomSuffix } from '../store/object.js';
import type { Store } from '../store/types.js';
import type { Pod } from './schemas/index.js';

export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Kubernetes' default: an hour and a little, so a kubelet's refresh at 80% is never late. */
export const TOKEN_EXPIRATION_SECONDS = 3607;

export function apiAccessVolume(name: string): Record<string, unknown> {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: TOKEN_EXPIRATION_SECONDS, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

export async function mountServiceAccountToken(object: KubeObject, store: Store): Promise<void> {
  const pod = object as unknown as Pod;
  const spec = pod.spec;
  spec.serviceAccountName ||= spec.serviceAccount || 'default';
  spec.serviceAccount = spec.serviceAccountName;
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  if (containers.some((c) => c.volumeMounts?.some((m) => m.mountPath === TOKEN_MOUNT_PATH))) return;
  let automount = spec.automountServiceAccountToken;
  if (automount === undefined) {
    const account = await store.get('serviceaccounts', object.metadata.namespace ?? '', spec.serviceAccountName).catch(() => undefined);
    automount = (account as { automountServiceAccountToken?: boolean } | undefined)?.automountServiceAccountToken ?? true;
  }
  if (!automount) return;
  const name = `kube-api-access-${randomSuffix()}`;
  spec.volumes = [...(spec.volumes ?? []), apiAccessVolume(name) as { name: string }];
  for (const c of containers) c.volumeMounts = [...(c.volumeMounts ?? []), { name, readOnly: true, mountPath: TOKEN_MOUNT_PATH }];
}

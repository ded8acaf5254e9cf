/**
 * Pod Security Admission: a namespace labelled `pod-security.kubernetes.io/enforce: baseline`
 * (or `restricted`) refuses pods that break that level of the Pod Security Standards, whoever
 * creates them (a user, or the ReplicaSet controller), in kube-apiserver's words:
 * `pods "x" is forbidden: violates PodSecurity "restricted:latest": <check> (<what to set>), ...`.
 * `privileged` (and no label) allows everything. The checks are the standards' own, by name.
 */
import type { KubeObject } from '../store/object.js';
import type { Container, Pod } from './schemas/index.js';

export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
export type Level = 'privileged' | 'baseline' | 'restricted';
/** `enforce` refuses pods; `warn` answers a warning, for pods and for the pod templates of workloads. */
export type Mode = 'enforce' | 'warn' | 'audit';

/** The capabilities baseline allows a container to add (the Pod Security Standards' list). */
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

type SecurityFields = NonNullable<Container['securityContext']> & { seccompProfile?: { type?: string } };
type PodSecurityFields = NonNullable<Pod['spec']['securityContext']> & { seccompProfile?: { type?: string } };

const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(', ');
const containersOf = (pod: Pod) => [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
const sc = (c: Container) => (c.securityContext ?? {}) as SecurityFields;

/** The baseline checks a pod breaks, each as `<check> (<detail>)`. */
function baseline(pod: Pod): string[] {
  const out: string[] = [];
  const containers = containersOf(pod);
  const host = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((f) => pod.spec[f]);
  if (host.length) out.push(`host namespaces (${host.map((f) => `${f}=true`).join(', ')})`);
  const privileged = containers.filter((c) => sc(c).privileged).map((c) => c.name);
  if (privileged.length)
    out.push(`privileged (container${privileged.length > 1 ? 's' : ''} ${quoted(privileged)} must not set securityContext.privileged=true)`);
  const added = containers.flatMap((c) => (sc(c).capabilities?.add ?? []).filter((cap) => !BASELINE_CAPABILITIES.has(cap)).map((cap) => ({ c: c.name, cap })));
  if (added.length)
    out.push(
      `non-default capabilities (container ${quoted([...new Set(added.map((a) => a.c))])} must not include ${quoted([...new Set(added.map((a) => a.cap))])} in securityContext.capabilities.add)`,
    );
  const hostPath = (pod.spec.volumes ?? []).filter((v) => (v as Record<string, unknown>).hostPath).map((v) => v.name);
  if (hostPath.length) out.push(`hostPath volumes (volume${hostPath.length > 1 ? 's' : ''} ${quoted(hostPath)})`);
  const ports = containers.flatMap((c) => (c.ports ?? []).filter((p) => p.hostPort).map((p) => p.hostPort!));
  if (ports.length) out.push(`hostPort (container ports use hostPort ${ports.join(', ')})`);
  const unconfined = [pod.spec.securityContext as PodSecurityFields | undefined, ...containers.map(sc)].some((s) => s?.seccompProfile?.type === 'Unconfined');
  if (unconfined) out.push('seccompProfile (seccompProfile.type must not be "Unconfined")');
  return out;
}

/** The checks restricted adds to baseline. */
function restricted(pod: Pod): string[] {
  const out: string[] = [];
  const containers = containersOf(pod);
  const podSc = (pod.spec.securityContext ?? {}) as PodSecurityFields;
  const volumes = (pod.spec.volumes ?? []).filter((v) => !Object.keys(v).some((k) => k !== 'name' && RESTRICTED_VOLUMES.has(k)));
  if (volumes.length)
    out.push(`restricted volume types (volume${volumes.length > 1 ? 's' : ''} ${quoted(volumes.map((v) => v.name))} must use an allowed volume type)`);
  const escalating = containers.filter((c) => sc(c).allowPrivilegeEscalation !== false).map((c) => c.name);
  if (escalating.length)
    out.push(`allowPrivilegeEscalation != false (container ${quoted(escalating)} must set securityContext.allowPrivilegeEscalation=false)`);
  const undropped = containers.filter((c) => !(sc(c).capabilities?.drop ?? []).includes('ALL')).map((c) => c.name);
  const addedMore = containers.filter((c) => (sc(c).capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE')).map((c) => c.name);
  if (undropped.length || addedMore.length) {
    const parts = [];
    if (undropped.length) parts.push(`container ${quoted(undropped)} must set securityContext.capabilities.drop=["ALL"]`);
    if (addedMore.length)
      parts.push(`container ${quoted(addedMore)} must not include capabilities other than "NET_BIND_SERVICE" in securityContext.capabilities.add`);
    out.push(`unrestricted capabilities (${parts.join('; ')})`);
  }
  const rootish = containers.filter((c) => (sc(c).runAsNonRoot ?? podSc.runAsNonRoot) !== true).map((c) => c.name);
  if (rootish.length) out.push(`runAsNonRoot != true (pod or container ${quoted(rootish)} must set securityContext.runAsNonRoot=true)`);
  const root = [podSc.runAsUser === 0 ? 'pod' : '', ...containers.filter((c) => sc(c).runAsUser === 0).map((c) => `container "${c.name}"`)].filter(Boolean);
  if (root.length) out.push(`runAsUser=0 (${root.join(', ')} must not set runAsUser=0)`);
  const allowed = (t?: string) => t === 'RuntimeDefault' || t === 'Localhost';
  const noSeccomp = allowed(podSc.seccompProfile?.type) ? [] : containers.filter((c) => !allowed(sc(c).seccompProfile?.type)).map((c) => c.name);
  if (noSeccomp.length)
    out.push(`seccompProfile (pod or container ${quoted(noSeccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
  return out;
}

/** What `pod` breaks at `level` (none at privileged). */
export function violations(pod: KubeObject, level: Level): string[] {
  const p = pod as Pod;
  if (level === 'privileged' || !p.spec) return [];
  const found = baseline(p);
  return level === 'restricted' ? [...found, ...restricted(p)] : found;
}

/** The level a namespace holds pods to in `mode`, from its label ('privileged' when it has none). */
export function levelOf(namespace: KubeObject | undefined, mode: Mode): Level {
  const label = namespace?.metadata.labels?.[`pod-security.kubernetes.io/${mode}`];
  return label === 'baseline' || label === 'restricted' ? label : 'privileged';
}

/**
 * Pod Security for a pod (`template` undefined) or for a workload's pod template: a pod that
 * breaks the enforced level is refused (`refuse` throws); what breaks the warn level is answered
 * as warnings, in kube-apiserver's words.
 */
/**
 * Pod Security's three modes for one pod: `enforce` refuses it (through `refuse`), `warn`
 * answers warnings for the client, `audit` notes the violations in `audit` (the request's
 * audit annotations, `pod-security.kubernetes.io/audit-violations`).
 */
export function podSecurity(
  namespace: KubeObject | undefined,
  pod: KubeObject,
  refuse: ((message: string) => never) | undefined,
  audit?: Record<string, string>,
): string[] {
  if (refuse) {
    const level = levelOf(namespace, 'enforce');
    const broken = violations(pod, level);
    if (broken.length) refuse(`violates PodSecurity "${level}:latest": ${broken.join(', ')}`);
  }
  const auditLevel = levelOf(namespace, 'audit');
  const audited = audit ? violations(pod, auditLevel) : [];
  if (audit && audited.length) audit['pod-security.kubernetes.io/audit-violations'] = `would violate PodSecurity "${auditLevel}:latest": ${audited.join(', ')}`;
  const warnLevel = levelOf(namespace, 'warn');
  const warned = violations(pod, warnLevel);
  return warned.length ? [`would violate PodSecurity "${warnLevel}:latest": ${warned.join(', ')}`] : [];
}

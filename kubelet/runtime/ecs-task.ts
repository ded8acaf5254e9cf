/**
 * How the `ecs` runtime turns a container into an ECS task: the task definition (shared by the
 * pods of one template) and the overrides (what is the pod's own). Kept apart from the calls,
 * so each rule reads on its own:
 *
 * - size: the container's requests and limits, rounded up to the smallest Fargate size;
 * - securityContext: runAsUser and runAsGroup become `user`, readOnlyRootFilesystem
 *   `readonlyRootFilesystem`, dropped capabilities `linuxParameters`. What Fargate cannot give
 *   is refused (`SecurityRefusal`), never ignored: privileged, added capabilities but
 *   SYS_PTRACE, and runAsNonRoot without runAsUser (the runtime cannot read an image's user).
 *   allowPrivilegeEscalation has no ECS field; Fargate neither runs privileged containers nor
 *   adds capabilities, which is what it guards against;
 * - an exec readiness probe: the task's health check (ECS runs it in the container; the
 *   kubelet's probe reads its status, as it cannot exec into a task);
 * - volumes: a Fargate task cannot see the kubelet's folders, so each pod volume is an
 *   ephemeral task volume that a first container (`skiff-files`, a busybox image) fills from
 *   the overrides before the pod's container starts (`dependsOn` SUCCESS). The files are the
 *   ones the kubelet wrote when the task started: a service-account token is not refreshed in
 *   a running task, so it lasts its own lifetime (an hour by default).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { fargateSize } from '../../shared/cloud/fargate.js';
import { type ContainerSpec, type Mount, SecurityRefusal } from './types.js';

export const FILES_CONTAINER = 'skiff-files';
const FILES_ROOT = '/skiff/files';

export interface TaskShape {
  cluster: string;
  node: string;
  logGroup: string;
  region: string;
  /** The image of the container that fills pod volumes (it needs sh, base64 and mkdir). */
  filesImage: string;
  /** The role ECS pulls images and writes logs with (Fargate needs one for awslogs). */
  executionRoleArn: string;
}

/** A pod's owner as its name shows it: `web-7d9f8-x2k4q` is of `web-7d9f8`. */
function ownerOf(podName: string): string {
  const m = /^(.+)-[a-z0-9]{5}$/.exec(podName);
  return m ? m[1] : podName;
}

/** `skiff-<namespace>-<owner>-<container>`, in a family's characters and length. */
export function familyOf(spec: Pick<ContainerSpec, 'podNamespace' | 'podName' | 'name'>): string {
  return `skiff-${spec.podNamespace}-${ownerOf(spec.podName)}-${spec.name}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 255);
}

/** The container definition's security fields, or a refusal of what Fargate cannot give. */
export function securityFields(spec: ContainerSpec): Partial<ContainerDefinition> {
  const s = spec.security ?? {};
  const refuse = (why: string) => {
    throw new SecurityRefusal(`${why} (container: ${spec.name})`);
  };
  if (s.runAsGroup !== undefined && s.runAsUser === undefined) refuse('container sets runAsGroup without runAsUser');
  if (s.runAsNonRoot && (s.runAsUser === undefined || s.runAsUser === 0))
    refuse("container has runAsNonRoot and image will run as root: the ecs runtime cannot read an image's user, so it needs runAsUser");
  if (s.privileged) refuse('Fargate does not run privileged containers');
  if (s.capabilities?.add?.some((c) => c !== 'SYS_PTRACE')) refuse('Fargate adds no capability but SYS_PTRACE');
  return {
    ...(s.runAsUser !== undefined ? { user: s.runAsGroup !== undefined ? `${s.runAsUser}:${s.runAsGroup}` : String(s.runAsUser) } : {}),
    ...(s.readOnlyRootFilesystem ? { readonlyRootFilesystem: true } : {}),
    ...(s.capabilities?.add?.length || s.capabilities?.drop?.length
      ? { linuxParameters: { capabilities: { add: s.capabilities.add, drop: s.capabilities.drop } } }
      : {}),
  };
}

const volumeOf = (n: number) => `pod-volume-${n}`;
const within = (v: number, min: number, max: number) => Math.min(max, Math.max(min, Math.round(v)));

/** An exec readiness probe as the task's health check, within ECS's ranges (the kubelet reads its status back). */
function healthCheckOf(spec: ContainerSpec): Partial<ContainerDefinition> {
  const h = spec.healthCheck;
  if (!h) return {};
  return {
    healthCheck: {
      command: ['CMD', ...h.command],
      interval: within(h.periodSeconds, 5, 300),
      timeout: within(h.timeoutSeconds, 2, 60),
      retries: within(h.failureThreshold, 1, 10),
      startPeriod: within(h.initialDelaySeconds, 0, 300),
    },
  };
}

/** The task definition of the container, and a hash of what it holds (pods with one hash share a revision). */
export function taskDefinitionOf(spec: ContainerSpec, shape: TaskShape): { input: RegisterTaskDefinitionCommandInput; hash: string } {
  const cpu = Math.max(spec.cpuLimit ?? 0, spec.cpuRequest ?? 0);
  const memory = Math.max(spec.memoryLimit ?? 0, spec.memoryRequest ?? 0);
  const size = fargateSize(cpu, memory);
  if (!size) throw new Error(`no Fargate task size holds ${cpu}m of CPU and ${memory} bytes of memory (at most 16 vCPU and 120 GiB)`);
  const mounts = spec.mounts ?? [];
  const logConfiguration = (prefix: string) => ({
    logDriver: 'awslogs' as const,
    options: { 'awslogs-group': shape.logGroup, 'awslogs-region': shape.region, 'awslogs-stream-prefix': prefix },
  });
  const main: ContainerDefinition = {
    name: spec.name,
    image: spec.image,
    essential: true,
    ...(spec.command.length ? { entryPoint: spec.command } : {}),
    ...(spec.args.length ? { command: spec.args } : {}),
    ...(spec.workingDir ? { workingDirectory: spec.workingDir } : {}),
    portMappings: (spec.ports ?? []).map((p) => ({ containerPort: p.containerPort, protocol: p.protocol === 'UDP' ? 'udp' : 'tcp' })),
    stopTimeout: Math.min(120, Math.max(2, spec.gracePeriodSeconds ?? 30)),
    ...healthCheckOf(spec),
    ...securityFields(spec),
    mountPoints: mounts.map((m, n) => ({ sourceVolume: volumeOf(n), containerPath: m.containerPath, readOnly: m.readOnly })),
    ...(mounts.length ? { dependsOn: [{ containerName: FILES_CONTAINER, condition: 'SUCCESS' as const }] } : {}),
    logConfiguration: logConfiguration('skiff'),
  };
  const files: ContainerDefinition = {
    name: FILES_CONTAINER,
    image: shape.filesImage,
    essential: false,
    entryPoint: ['sh', '-c', 'eval "$SKIFF_FILES"'],
    mountPoints: mounts.map((_, n) => ({ sourceVolume: volumeOf(n), containerPath: `${FILES_ROOT}/${n}` })),
    logConfiguration: logConfiguration('skiff-files'),
  };
  const input: RegisterTaskDefinitionCommandInput = {
    family: familyOf(spec),
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: String(size.cpu),
    memory: String(size.memory),
    executionRoleArn: shape.executionRoleArn,
    containerDefinitions: mounts.length ? [files, main] : [main],
    ...(mounts.length ? { volumes: mounts.map((_, n) => ({ name: volumeOf(n) })) } : {}),
  };
  const hash = createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 16);
  input.tags = [
    { key: 'skiff:node', value: shape.node },
    { key: 'skiff:template', value: hash },
  ];
  return { input, hash };
}

/** Every file under `dir`, as its path below it (an atomic volume's `..data` folders not twice: their files are seen through the links). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name.startsWith('..')) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path).map((f) => join(name, f)) : [name];
  });
}

/** A shell script (for `skiff-files`) that writes the mounts' files into the task's volumes. */
export function filesScript(mounts: Mount[]): string {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const lines = ['set -e'];
  mounts.forEach((m, n) => {
    for (const file of filesUnder(m.hostPath)) {
      const target = join(FILES_ROOT, String(n), relative('.', file));
      lines.push(`mkdir -p ${quote(join(target, '..'))}`);
      lines.push(`echo ${readFileSync(join(m.hostPath, file)).toString('base64')} | base64 -d > ${quote(target)}`);
    }
  });
  return lines.join('\n');
}

/** What the task carries of the pod's own: the container's environment, and the volumes' files. */
export function overridesOf(spec: ContainerSpec) {
  const containerOverrides = [{ name: spec.name, environment: Object.entries(spec.env).map(([name, value]) => ({ name, value })) }];
  if (spec.mounts?.length) containerOverrides.push({ name: FILES_CONTAINER, environment: [{ name: 'SKIFF_FILES', value: filesScript(spec.mounts) }] });
  return { containerOverrides };
}

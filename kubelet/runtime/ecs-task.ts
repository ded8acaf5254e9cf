/**
 * How the `ecs` runtime turns a pod into an ECS task: the task definition (shared by the pods of
 * one template) and the overrides (what is the pod's own). Kept apart from the calls, so each
 * rule reads on its own:
 *
 * - one task a pod: its containers share the task's network (one address, `localhost` between
 *   them) and its volumes. Init containers are non-essential containers that run in order, each
 *   `dependsOn` the one before having succeeded; the pod's containers are essential and depend
 *   on the last init container's success. ECS holds at most 10 containers in a task;
 * - size: the pod's effective requests (the sum of its containers', or an init container's if
 *   larger, limits where they are larger), rounded up to the smallest Fargate size;
 * - securityContext: runAsUser and runAsGroup become `user`, readOnlyRootFilesystem
 *   `readonlyRootFilesystem`, dropped capabilities `linuxParameters`. What Fargate cannot give
 *   is refused (`SecurityRefusal`), never ignored: privileged, added capabilities but
 *   SYS_PTRACE, and runAsNonRoot without runAsUser (the runtime cannot read an image's user).
 *   allowPrivilegeEscalation has no ECS field; Fargate neither runs privileged containers nor
 *   adds capabilities, which is what it guards against;
 * - an exec readiness probe: the container's health check (ECS runs it in the container; the
 *   kubelet's probe reads its status, as it cannot exec into a task);
 * - volumes: a Fargate task cannot see the kubelet's folders, so each pod volume is an
 *   ephemeral task volume that a first container (`skiff-files`, a busybox image) fills from
 *   the overrides before any other starts (`dependsOn` SUCCESS); an emptyDir is one the pod's
 *   containers share. The files are the ones the kubelet wrote when the task started: a
 *   service-account token is not refreshed in a running task, so it lasts its own lifetime (an
 *   hour by default).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { fargateSize } from '../../shared/cloud/fargate.js';
import { type ContainerSpec, type Mount, type PodRun, SecurityRefusal } from './types.js';

export const FILES_CONTAINER = 'skiff-files';
const FILES_ROOT = '/skiff/files';
/** ECS's limit on the containers of a task definition. */
export const MAX_CONTAINERS = 10;

export interface TaskShape {
  cluster: string;
  node: string;
  logGroup: string;
  region: string;
  /** The image of the container that fills pod volumes (it needs sh, base64 and mkdir). */
  filesImage: string;
  /** The role ECS pulls images and writes logs with (Fargate needs one for awslogs). */
  executionRoleArn: string;
  /** The role the task runs with (ECS Exec needs one). */
  taskRoleArn?: string;
}

/** A pod's owner as its name shows it: `web-7d9f8-x2k4q` is of `web-7d9f8`. */
function ownerOf(podName: string): string {
  const m = /^(.+)-[a-z0-9]{5}$/.exec(podName);
  return m ? m[1] : podName;
}

/** `skiff-<namespace>-<owner>`, in a family's characters and length. */
export function familyOf(spec: Pick<ContainerSpec, 'podNamespace' | 'podName'>): string {
  return `skiff-${spec.podNamespace}-${ownerOf(spec.podName)}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 255);
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

/** The pod's containers in the task's order: init containers, then the others. */
export const containersOf = (run: PodRun) => [...run.init, ...run.containers];

/** The pod's effective requests (millicores, bytes), as the scheduler counts them, limits where larger. */
function podSize(run: PodRun): { cpu: number; memory: number } {
  const cpu = (c: ContainerSpec) => Math.max(c.cpuLimit ?? 0, c.cpuRequest ?? 0);
  const memory = (c: ContainerSpec) => Math.max(c.memoryLimit ?? 0, c.memoryRequest ?? 0);
  const sum = (f: (c: ContainerSpec) => number) => run.containers.reduce((n, c) => n + f(c), 0);
  const most = (f: (c: ContainerSpec) => number) => Math.max(0, ...run.init.map(f));
  return { cpu: Math.max(sum(cpu), most(cpu)), memory: Math.max(sum(memory), most(memory)) };
}

/** The pod's volumes, each once (containers that mount one share it), by host folder. */
function volumesOf(run: PodRun): Map<string, Mount> {
  const volumes = new Map<string, Mount>();
  for (const c of containersOf(run)) for (const m of c.mounts ?? []) if (!volumes.has(m.hostPath)) volumes.set(m.hostPath, m);
  return volumes;
}

/** The task definition of the pod, and a hash of what it holds (pods with one hash share a revision). */
export function taskDefinitionOf(run: PodRun, shape: TaskShape): { input: RegisterTaskDefinitionCommandInput; hash: string } {
  const all = containersOf(run);
  const first = all[0];
  const { cpu, memory } = podSize(run);
  const size = fargateSize(cpu, memory);
  if (!size) throw new Error(`no Fargate task size holds ${cpu}m of CPU and ${memory} bytes of memory (at most 16 vCPU and 120 GiB)`);
  const volumes = [...volumesOf(run).keys()];
  if (all.length + (volumes.length ? 1 : 0) > MAX_CONTAINERS)
    throw new Error(
      `pod ${first.podName} has ${all.length} containers${volumes.length ? ' and volumes to fill' : ''}: an ECS task holds at most ${MAX_CONTAINERS}`,
    );
  const logConfiguration = (prefix: string) => ({
    logDriver: 'awslogs' as const,
    options: { 'awslogs-group': shape.logGroup, 'awslogs-region': shape.region, 'awslogs-stream-prefix': prefix },
  });
  const after = (name: string | undefined) => (name ? { dependsOn: [{ containerName: name, condition: 'SUCCESS' as const }] } : {});
  const filled = volumes.length ? FILES_CONTAINER : undefined;
  const lastInit = run.init.at(-1)?.name ?? filled;
  const definitionOf = (spec: ContainerSpec, n: number, init: boolean): ContainerDefinition => ({
    name: spec.name,
    image: spec.image,
    essential: !init,
    ...(spec.command.length ? { entryPoint: spec.command } : {}),
    ...(spec.args.length ? { command: spec.args } : {}),
    ...(spec.workingDir ? { workingDirectory: spec.workingDir } : {}),
    portMappings: (spec.ports ?? []).map((p) => ({ containerPort: p.containerPort, protocol: p.protocol === 'UDP' ? 'udp' : 'tcp' })),
    stopTimeout: Math.min(120, Math.max(2, spec.gracePeriodSeconds ?? 30)),
    ...healthCheckOf(spec),
    ...securityFields(spec),
    mountPoints: (spec.mounts ?? []).map((m) => ({
      sourceVolume: volumeOf(volumes.indexOf(m.hostPath)),
      containerPath: m.containerPath,
      readOnly: m.readOnly,
    })),
    ...after(init ? (run.init[n - 1]?.name ?? filled) : lastInit),
    logConfiguration: logConfiguration('skiff'),
  });
  const files: ContainerDefinition = {
    name: FILES_CONTAINER,
    image: shape.filesImage,
    essential: false,
    entryPoint: ['sh', '-c', 'eval "$SKIFF_FILES"'],
    mountPoints: volumes.map((_, n) => ({ sourceVolume: volumeOf(n), containerPath: `${FILES_ROOT}/${n}` })),
    logConfiguration: logConfiguration('skiff-files'),
  };
  const input: RegisterTaskDefinitionCommandInput = {
    family: familyOf(first),
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: String(size.cpu),
    memory: String(size.memory),
    executionRoleArn: shape.executionRoleArn,
    ...(shape.taskRoleArn ? { taskRoleArn: shape.taskRoleArn } : {}),
    containerDefinitions: [
      ...(volumes.length ? [files] : []),
      ...run.init.map((c, n) => definitionOf(c, n, true)),
      ...run.containers.map((c, n) => definitionOf(c, n, false)),
    ],
    ...(volumes.length ? { volumes: volumes.map((_, n) => ({ name: volumeOf(n) })) } : {}),
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

/** A shell script (for `skiff-files`) that writes the volumes' files into the task's volumes. */
export function filesScript(volumes: Mount[]): string {
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const lines = ['set -e'];
  volumes.forEach((m, n) => {
    for (const file of filesUnder(m.hostPath)) {
      const target = join(FILES_ROOT, String(n), relative('.', file));
      lines.push(`mkdir -p ${quote(join(target, '..'))}`);
      lines.push(`echo ${readFileSync(join(m.hostPath, file)).toString('base64')} | base64 -d > ${quote(target)}`);
    }
  });
  return lines.join('\n');
}

/** What the task carries of the pod's own: each container's environment, and the volumes' files. */
export function overridesOf(run: PodRun) {
  const containerOverrides = containersOf(run).map((c) => ({ name: c.name, environment: Object.entries(c.env).map(([name, value]) => ({ name, value })) }));
  const volumes = [...volumesOf(run).values()];
  if (volumes.length) containerOverrides.push({ name: FILES_CONTAINER, environment: [{ name: 'SKIFF_FILES', value: filesScript(volumes) }] });
  return { containerOverrides };
}

/**
 * Fargate's task sizes: the CPU values it offers (1,024 units a vCPU) and, for each, the memory
 * it allows (MiB), as the ECS developer guide lists them, with us-east-1's Linux/x86 prices.
 * A pod's requests round up to the smallest size that holds them.
 */

interface CpuLevel {
  cpu: number;
  /** MiB: the least, the most and the step between allowed values. */
  memory: { min: number; max: number; step: number; extra?: number[] };
}

const LEVELS: CpuLevel[] = [
  { cpu: 256, memory: { min: 1024, max: 2048, step: 1024, extra: [512] } },
  { cpu: 512, memory: { min: 1024, max: 4096, step: 1024 } },
  { cpu: 1024, memory: { min: 2048, max: 8192, step: 1024 } },
  { cpu: 2048, memory: { min: 4096, max: 16384, step: 1024 } },
  { cpu: 4096, memory: { min: 8192, max: 30720, step: 1024 } },
  { cpu: 8192, memory: { min: 16384, max: 61440, step: 4096 } },
  { cpu: 16384, memory: { min: 32768, max: 122880, step: 8192 } },
];

/** Dollars per vCPU-hour and per GB-hour of a Fargate task. */
export const FARGATE_PRICE = { vcpuHour: 0.04048, gbHour: 0.004445 };

export interface FargateSize {
  /** CPU units (1,024 a vCPU), as a task definition's `cpu`. */
  cpu: number;
  /** MiB, as a task definition's `memory`. */
  memory: number;
}

/** Whether Fargate runs a task of this cpu and memory. */
export function isFargateSize(cpu: number, memory: number): boolean {
  const level = LEVELS.find((l) => l.cpu === cpu);
  if (!level) return false;
  const m = level.memory;
  if (m.extra?.includes(memory)) return true;
  return memory >= m.min && memory <= m.max && (memory - m.min) % m.step === 0;
}

/**
 * The smallest Fargate size holding `millicores` of CPU and `bytes` of memory, or undefined
 * when none is that large (16 vCPU, 120 GiB).
 */
export function fargateSize(millicores: number, bytes: number): FargateSize | undefined {
  const units = Math.ceil((Math.max(millicores, 1) * 1024) / 1000);
  const mib = Math.ceil(Math.max(bytes, 1) / 2 ** 20);
  for (const level of LEVELS) {
    if (level.cpu < units) continue;
    const m = level.memory;
    const options = [...(m.extra ?? []), m.min];
    const small = options.filter((o) => o >= mib).sort((a, b) => a - b)[0];
    if (small !== undefined) return { cpu: level.cpu, memory: small };
    if (mib > m.max) continue;
    return { cpu: level.cpu, memory: m.min + Math.ceil((mib - m.min) / m.step) * m.step };
  }
  return undefined;
}

/** Dollars an hour for a task of this size. */
export function fargatePrice(size: FargateSize): number {
  return (size.cpu / 1024) * FARGATE_PRICE.vcpuHour + (size.memory / 1024) * FARGATE_PRICE.gbHour;
}

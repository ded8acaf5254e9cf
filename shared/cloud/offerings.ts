/**
 * Offerings (instance type x zone) that just ran out of capacity, as Karpenter caches them: each
 * is skipped for a while after a launch failed there, so the next try goes elsewhere at once
 * instead of asking the cloud again. The EC2 and ECS providers both keep one.
 */
import type { InstanceType } from './types.js';

export class UnavailableOfferings {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly forMs: number,
    private readonly now: () => number,
  ) {}

  /** Remembers that this offering had no capacity just now. */
  mark(instanceType: string, zone: string): void {
    this.until.set(`${instanceType}/${zone}`, this.now() + this.forMs);
  }

  has(instanceType: string, zone: string): boolean {
    const until = this.until.get(`${instanceType}/${zone}`);
    return until !== undefined && until > this.now();
  }

  /** The catalogue without the offerings remembered as unavailable. */
  filter(catalogue: InstanceType[]): InstanceType[] {
    return catalogue.map((t) => ({ ...t, zones: t.zones.filter((z) => !this.has(t.name, z)) }));
  }
}

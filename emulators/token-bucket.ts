/**
 * A token bucket, as AWS meters launches: `capacity` tokens at most, refilled at
 * `refillPerSecond`. EC2's RunInstances bucket and Fargate's task launch rate are both of this kind.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt = Date.now();

  constructor(private readonly rate: { capacity: number; refillPerSecond: number }) {
    this.tokens = rate.capacity;
  }

  /** Takes `count` tokens, or returns false (taking none) when fewer are left. */
  take(count: number): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.rate.capacity, this.tokens + ((now - this.refilledAt) / 1000) * this.rate.refillPerSecond);
    this.refilledAt = now;
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }
}

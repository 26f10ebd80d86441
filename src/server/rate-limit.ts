import { WritepathError } from '../core/errors.ts';

/**
 * Requests per user per minute, counted in a sliding pair of one-minute windows, in this
 * process's memory (each instance behind a load balancer counts on its own).
 */
export class RateLimiter {
  private windowStart = 0;
  private current = new Map<string, number>();
  private previous = new Map<string, number>();

  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  /** Counts one request of the user, or throws 429 with the seconds to wait. */
  take(userId: string): void {
    const now = this.now();
    const windowMs = 60_000;
    if (now - this.windowStart >= windowMs) {
      // Two windows have passed: nothing of the old counts is worth keeping.
      this.previous = now - this.windowStart >= 2 * windowMs ? new Map() : this.current;
      this.current = new Map();
      this.windowStart = now - ((now - this.windowStart) % windowMs);
    }
    const elapsed = (now - this.windowStart) / windowMs;
    const count = (this.current.get(userId) ?? 0) + (this.previous.get(userId) ?? 0) * (1 - elapsed);
    if (count >= this.perMinute) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - elapsed) * 60));
      throw new WritepathError({
        code: 'rate_limited',
        status: 429,
        message: `over the limit of ${this.perMinute} requests per minute for this user`,
        retryable: true,
        retryAfterSeconds,
      });
    }
    this.current.set(userId, (this.current.get(userId) ?? 0) + 1);
  }
}

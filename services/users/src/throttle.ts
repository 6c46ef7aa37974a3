// Login throttling: failed logins are counted per email and per client address in a
// fixed window; past the limit, login answers 429 with Retry-After until the window
// ends — also for the right password, so guessing cannot continue. Counting is one
// atomic update per failure; a success clears the email's count.
import { tooManyRequests } from '@gorten/kit';
import type { Collection } from 'mongodb';
import type { LoginFailuresDoc } from './store.js';

export interface ThrottleLimits {
  perEmail: number;
  perAddress: number;
  windowSeconds: number;
}

const keys = (email: string, address: string) => ({
  email: `email:${email}`,
  address: `addr:${address}`,
});

export class LoginThrottle {
  constructor(
    private readonly failures: Collection<LoginFailuresDoc>,
    private readonly limits: ThrottleLimits,
  ) {}

  async assertAllowed(email: string, address: string, now: Date): Promise<void> {
    const k = keys(email, address);
    const blocked = await this.failures
      .find({
        windowEndsAt: { $gt: now },
        $or: [
          { _id: k.email, failures: { $gte: this.limits.perEmail } },
          { _id: k.address, failures: { $gte: this.limits.perAddress } },
        ],
      })
      .toArray();
    if (blocked.length === 0) return;
    const until = Math.max(...blocked.map((b) => b.windowEndsAt.getTime()));
    throw tooManyRequests(
      'Too many failed logins; try again later.',
      Math.max(1, Math.ceil((until - now.getTime()) / 1000)),
    );
  }

  async recordFailure(email: string, address: string, now: Date): Promise<void> {
    const windowEndsAt = new Date(now.getTime() + this.limits.windowSeconds * 1000);
    for (const id of Object.values(keys(email, address))) {
      const counted = await this.failures.updateOne(
        { _id: id, windowEndsAt: { $gt: now } },
        { $inc: { failures: 1 } },
      );
      if (counted.matchedCount === 0) {
        // No open window: start one (replacing an expired one).
        await this.failures.replaceOne(
          { _id: id },
          { failures: 1, windowEndsAt },
          { upsert: true },
        );
      }
    }
  }

  async clear(email: string): Promise<void> {
    await this.failures.deleteOne({ _id: `email:${email}` });
  }
}

// Password-guess throttling, per email and per client address, in fixed windows. An
// attempt is counted before the password is checked (one atomic `$inc`), and refused
// with 429 and Retry-After once it is past a limit: a burst of parallel guesses cannot
// all slip through before the first failure is counted, and no count is lost. A right
// password starts the email's count over and gives the address its attempt back, so only
// failures use up an address's budget. Login and password changes share the email's.
import { isDuplicateKey, tooManyRequests } from '@gorten/kit';
import type { Collection } from 'mongodb';
import type { LoginFailuresDoc } from './store.js';

export interface ThrottleLimits {
  perEmail: number;
  perAddress: number;
  windowSeconds: number;
}

const emailKey = (email: string) => `email:${email}`;
const addressKey = (address: string) => `addr:${address}`;
/** Each lost race means another attempt wrote the key meanwhile; this many cannot happen. */
const COUNTING_TRIES = 5;

/** The answer for attempts past a limit, until the latest of those windows ends. */
function refusal(windowsEndingAt: Date[], now: Date) {
  const until = Math.max(...windowsEndingAt.map((end) => end.getTime()));
  return tooManyRequests(
    'Too many failed attempts; try again later.',
    Math.max(1, Math.ceil((until - now.getTime()) / 1000)),
  );
}

export class LoginThrottle {
  constructor(
    private readonly failures: Collection<LoginFailuresDoc>,
    private readonly limits: ThrottleLimits,
  ) {}

  /**
   * Counts one attempt for the email (and the address, when there is one) and refuses
   * it if that takes either past its limit. Call before checking the password.
   */
  async admitAttempt(email: string, address: string | undefined, now: Date): Promise<void> {
    const keys = [{ id: emailKey(email), limit: this.limits.perEmail }];
    if (address !== undefined)
      keys.push({ id: addressKey(address), limit: this.limits.perAddress });
    const counted = await Promise.all(
      keys.map(async (key) => ({ ...(await this.count(key.id, now)), limit: key.limit })),
    );
    const over = counted.filter((c) => c.attempts > c.limit);
    if (over.length > 0)
      throw refusal(
        over.map((c) => c.windowEndsAt),
        now,
      );
  }

  /** The password was right: the email starts over, the address gets its attempt back. */
  async recordSuccess(email: string, address: string | undefined, now: Date): Promise<void> {
    await this.failures.deleteOne({ _id: emailKey(email) });
    if (address === undefined) return;
    await this.failures.updateOne(
      { _id: addressKey(address), windowEndsAt: { $gt: now }, failures: { $gt: 0 } },
      { $inc: { failures: -1 } },
    );
  }

  /** Adds one to the key's open window, or opens one; the count after it. */
  private async count(id: string, now: Date): Promise<{ attempts: number; windowEndsAt: Date }> {
    const windowEndsAt = new Date(now.getTime() + this.limits.windowSeconds * 1000);
    // Each step is one atomic write; losing a race to another attempt means trying again.
    for (let tries = 0; tries < COUNTING_TRIES; tries++) {
      const open = await this.failures.findOneAndUpdate(
        { _id: id, windowEndsAt: { $gt: now } },
        { $inc: { failures: 1 } },
        { returnDocument: 'after' },
      );
      if (open) return { attempts: open.failures, windowEndsAt: open.windowEndsAt };
      const reopened = await this.failures.findOneAndUpdate(
        { _id: id, windowEndsAt: { $lte: now } },
        { $set: { failures: 1, windowEndsAt } },
      );
      if (reopened) return { attempts: 1, windowEndsAt };
      try {
        await this.failures.insertOne({ _id: id, failures: 1, windowEndsAt });
        return { attempts: 1, windowEndsAt };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new Error('could not count a password attempt: its record keeps changing');
  }
}

// Exponential backoff, the one formula behind every wait in the kit that grows with each
// failure: a consumer reconnecting to the broker, a failed message going back to its
// queue, a retried dependency call. Jitter spreads the waits of many processes that
// failed together, so that they do not all come back at the same moment.
import { DelegateBackoff, type IBackoffFactory } from 'cockatiel';

export interface Backoff {
  /** The first wait. */
  baseMs: number;
  /** No wait is longer, however many failures. */
  maxMs: number;
  /** Spread as a fraction of the wait: 0.1 is ±10 %; 0 (the default) none. */
  jitter?: number;
}

/** The wait after `failures` earlier failures (0: the first wait): base · 2ⁿ, capped, jittered. */
export function backoffDelay(
  failures: number,
  { baseMs, maxMs, jitter = 0 }: Backoff,
  random = Math.random,
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, failures), 30));
  return exponential * (1 - jitter + 2 * jitter * random());
}

/** The same waits for cockatiel's retry policy, whose first retry is its attempt 1. */
export function retryBackoff(backoff: Backoff): IBackoffFactory<{ attempt: number }> {
  return new DelegateBackoff(({ attempt }: { attempt: number }) =>
    backoffDelay(attempt - 1, backoff),
  );
}

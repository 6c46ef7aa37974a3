// The one backoff formula: doubling from a base, capped, optionally jittered.
import { backoffDelay, retryBackoff } from '../src/backoff.js';

const mid = () => 0.5;

test('the wait doubles per failure from the base and stops at the cap', () => {
  const backoff = { baseMs: 500, maxMs: 10_000 };
  expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, backoff))).toEqual([
    500, 1_000, 2_000, 4_000, 8_000,
  ]);
  expect(backoffDelay(5, backoff)).toBe(10_000);
  expect(backoffDelay(10_000, backoff)).toBe(10_000);
  expect(backoffDelay(-1, backoff)).toBe(500);
});

test('jitter spreads the wait evenly around it, and none leaves it exact', () => {
  const backoff = { baseMs: 500, maxMs: 30_000, jitter: 0.1 };
  expect(backoffDelay(1, backoff, () => 0)).toBe(900);
  expect(backoffDelay(1, backoff, mid)).toBe(1_000);
  expect(backoffDelay(1, backoff, () => 1)).toBe(1_100);
  expect(backoffDelay(1, { baseMs: 500, maxMs: 30_000 }, () => 0)).toBe(1_000);
});

test('cockatiel retries wait the same: its attempt 1 is the first wait', () => {
  const factory = retryBackoff({ baseMs: 50, maxMs: 2_000 });
  const first = factory.next({ attempt: 1 });
  expect(first.duration).toBe(50);
  expect(first.next({ attempt: 2 }).duration).toBe(100);
});

// Leader election's timing without servers: when a leader goes on, keeps trying, or
// stops; how long it may wait; and which timings are refused.
import { afterAttempt, checkLeaseTiming, withinDeadline } from '../src/runtime/lease.js';

const DEADLINE = 10_000;

test('a candidate that gets the Lease starts; one that does not stays standby', () => {
  const at = { lastRenewMs: 0, nowMs: 50_000 };
  expect(afterAttempt({ ...at, leading: false, held: true }, DEADLINE)).toBe('started');
  expect(afterAttempt({ ...at, leading: false, held: false }, DEADLINE)).toBe('standby');
});

test('a leader that renewed goes on, however late its last renewal was', () => {
  expect(afterAttempt({ leading: true, held: true, lastRenewMs: 0, nowMs: 60_000 }, DEADLINE)).toBe(
    'renewed',
  );
});

test('a leader that could not renew keeps trying until the deadline since its last renewal, then stops', () => {
  const failed = (nowMs: number) =>
    afterAttempt({ leading: true, held: false, lastRenewMs: 1_000, nowMs }, DEADLINE);
  expect(failed(2_000)).toBe('retrying');
  expect(failed(10_999)).toBe('retrying');
  expect(failed(11_000)).toBe('stopped');
  expect(failed(30_000)).toBe('stopped');
});

test('a leader never waits past its deadline, for an answer or between attempts', () => {
  const leader = { leading: true, lastRenewMs: 1_000 };
  expect(withinDeadline(5_000, { ...leader, nowMs: 1_000 }, DEADLINE)).toBe(5_000);
  expect(withinDeadline(5_000, { ...leader, nowMs: 8_000 }, DEADLINE)).toBe(3_000);
  expect(withinDeadline(5_000, { ...leader, nowMs: 12_000 }, DEADLINE)).toBe(0);
  // A candidate has no deadline to keep.
  expect(withinDeadline(5_000, { leading: false, lastRenewMs: 0, nowMs: 99_000 }, DEADLINE)).toBe(
    5_000,
  );
});

test('a renew deadline must be below the lease duration, and a request and a retry below it', () => {
  const timing = {
    namespace: 'default',
    name: 'lease',
    identity: 'me',
    leaseDurationSeconds: 15,
    renewDeadlineMs: 10_000,
    requestTimeoutMs: 5_000,
    retryPeriodMs: 2_000,
  };
  expect(() => checkLeaseTiming(timing)).not.toThrow();
  expect(() => checkLeaseTiming({ ...timing, renewDeadlineMs: 15_000 })).toThrow(
    /shorter than the lease duration/,
  );
  expect(() => checkLeaseTiming({ ...timing, requestTimeoutMs: 10_000 })).toThrow(
    /shorter than the renew deadline/,
  );
  expect(() => checkLeaseTiming({ ...timing, retryPeriodMs: 12_000 })).toThrow(
    /shorter than the renew deadline/,
  );
});

// The work queue's guarantees, without I/O: one run per key at a time, adds while a key
// runs queue it once more, backoff per failing key that resyncs and triggers do not cut
// short, and, under a burst of 1,000 keys, every key's last change is reconciled.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, WorkQueue } from '../src/runtime/workqueue.js';

const fast = { baseDelayMs: 5, maxDelayMs: 40 };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('backoff doubles per failure, is capped, and jitters within ±10 %', () => {
  const mid = () => 0.5;
  expect([1, 2, 3, 4].map((n) => backoffDelay(n, 100, 1000, mid))).toEqual([100, 200, 400, 800]);
  expect(backoffDelay(5, 100, 1000, mid)).toBe(1000);
  expect(backoffDelay(500, 100, 1000, mid)).toBe(1000);
  expect(backoffDelay(1, 100, 1000, () => 0)).toBe(90);
  expect(backoffDelay(1, 100, 1000, () => 1)).toBe(110);
});

test('a key added many times while waiting runs once', async () => {
  const runs: string[] = [];
  const gate = deferred();
  const queue = new WorkQueue(
    async (key) => {
      runs.push(key);
      if (key === 'block') await gate.promise;
      return undefined;
    },
    { concurrency: 1, ...fast },
  );
  queue.add('block');
  for (let i = 0; i < 5; i++) queue.add('a');
  expect(queue.depth).toBe(1);
  gate.resolve();
  await sleep(20);
  expect(runs).toEqual(['block', 'a']);
  await queue.shutdown();
});

test('a key changed while it runs is run again afterwards, never twice at once', async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const queue = new WorkQueue(
    async () => {
      runs++;
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(15);
      active--;
      return undefined;
    },
    { concurrency: 4, ...fast },
  );
  queue.add('k');
  await sleep(2);
  queue.add('k');
  queue.add('k');
  await sleep(60);
  expect(runs).toBe(2);
  expect(maxActive).toBe(1);
  await queue.shutdown();
});

test('concurrency bounds how many keys run at once', async () => {
  let active = 0;
  let maxActive = 0;
  const queue = new WorkQueue(
    async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(10);
      active--;
      return undefined;
    },
    { concurrency: 3, ...fast },
  );
  for (let i = 0; i < 10; i++) queue.add(`k${i}`);
  await sleep(80);
  expect(maxActive).toBe(3);
  await queue.shutdown();
});

test('a failing key is retried with growing delays until it succeeds; others are not held up', async () => {
  const attempts: number[] = [];
  const outcomes: string[] = [];
  const started = Date.now();
  const queue = new WorkQueue(
    (key) => {
      if (key === 'ok') return Promise.resolve(undefined);
      attempts.push(Date.now() - started);
      if (attempts.length < 4) return Promise.reject(new Error('broker down'));
      return Promise.resolve(undefined);
    },
    {
      concurrency: 1,
      baseDelayMs: 10,
      maxDelayMs: 1000,
      onResult: (key, outcome) => outcomes.push(`${key}:${outcome}`),
    },
  );
  queue.add('bad');
  queue.add('ok');
  // Polled, not slept: on a loaded machine timers fire late, never early.
  for (let waited = 0; attempts.length < 4 && waited < 10_000; waited += 20) await sleep(20);
  expect(attempts).toHaveLength(4);
  const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] ?? 0));
  // Each wait is at least its backoff (10 ms doubling, -10 % jitter), whatever the load.
  expect(gaps[0]!).toBeGreaterThanOrEqual(9 - 1);
  expect(gaps[1]!).toBeGreaterThanOrEqual(18 - 1);
  expect(gaps[2]!).toBeGreaterThanOrEqual(36 - 1);
  expect(outcomes.slice(0, 2)).toEqual(['bad:error', 'ok:success']);
  expect(outcomes.at(-1)).toBe('bad:success');
  await queue.shutdown();
});

test('requeueAfterMs runs the key again; shutdown waits for runs in progress and drops delayed keys', async () => {
  let runs = 0;
  const queue = new WorkQueue(
    async () => {
      runs++;
      await sleep(20);
      return { requeueAfterMs: 5 };
    },
    { concurrency: 1, ...fast },
  );
  queue.add('k');
  await sleep(45);
  expect(runs).toBeGreaterThanOrEqual(2);
  await queue.shutdown();
  const after = runs;
  await sleep(40);
  expect(runs).toBe(after);
  queue.add('k');
  expect(queue.depth).toBe(0);
});

test('a resync does not cut a failing key’s backoff short; a real change does', async () => {
  let runs = 0;
  const queue = new WorkQueue(
    () => {
      runs++;
      return Promise.reject(new Error('down'));
    },
    { concurrency: 1, baseDelayMs: 200, maxDelayMs: 1000 },
  );
  queue.add('k');
  await sleep(20);
  expect(runs).toBe(1);
  for (let i = 0; i < 5; i++) queue.resync('k');
  await sleep(20);
  expect(runs).toBe(1);
  queue.add('k');
  await sleep(20);
  expect(runs).toBe(2);
  await queue.shutdown();
});

test('a trigger’s delayed add does not cut a failing key’s backoff short, and coalesces', async () => {
  let runs = 0;
  let failing = true;
  const queue = new WorkQueue(
    () => {
      runs++;
      return failing ? Promise.reject(new Error('down')) : Promise.resolve(undefined);
    },
    { concurrency: 1, baseDelayMs: 10_000, maxDelayMs: 10_000 },
  );
  queue.add('k');
  await sleep(20);
  expect(runs).toBe(1);
  for (let i = 0; i < 5; i++) queue.addSoon('k', 1);
  await sleep(30);
  expect(runs).toBe(1);
  // Healthy again (a real change runs it): then triggers within the delay make one run.
  failing = false;
  queue.add('k');
  await sleep(20);
  expect(runs).toBe(2);
  for (let i = 0; i < 5; i++) queue.addSoon('k', 10);
  await sleep(60);
  expect(runs).toBe(3);
  await queue.shutdown();
});

/** A small deterministic generator (mulberry32), so a failing burst can be replayed. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('a burst of 1,000 keys, changed again while they run or fail: every last change is run, no key twice at once', async () => {
  const random = seeded(16);
  const keys = Array.from({ length: 1000 }, (_, i) => `mp-${i}`);
  /** How many changes each key has had, and which of them its latest run started from. */
  const changes = new Map(keys.map((k) => [k, 0]));
  const reconciled = new Map<string, number>();
  const active = new Set<string>();
  const failedOnce = new Set<string>();
  let overlaps = 0;
  let maxActive = 0;
  let budget = 3000;
  const change = (key: string) => changes.set(key, (changes.get(key) ?? 0) + 1);
  const queue = new WorkQueue(
    async (key) => {
      if (active.has(key)) overlaps++;
      active.add(key);
      maxActive = Math.max(maxActive, active.size);
      const seen = changes.get(key) ?? 0;
      await sleep(random() * 3);
      // Meanwhile, other changes (while the burst lasts): to this key (a change made while
      // it is reconciled) and to others, added at once or after a trigger's delay.
      if (budget > 0) {
        budget -= 2;
        if (random() < 0.3) {
          change(key);
          queue.add(key);
        }
        const other = keys[Math.floor(random() * keys.length)] as string;
        change(other);
        if (random() < 0.5) queue.add(other);
        else queue.addSoon(other, random() * 5);
      }
      active.delete(key);
      // A tenth of the keys fail once (a dependency away), and are retried with backoff.
      if (random() < 0.1 && !failedOnce.has(key)) {
        failedOnce.add(key);
        throw new Error('broker away');
      }
      reconciled.set(key, seen);
      return undefined;
    },
    { concurrency: 8, baseDelayMs: 5, maxDelayMs: 20 },
  );
  for (const key of keys) {
    change(key);
    queue.add(key);
  }
  // A resync in the middle of the burst, as the periodic one would.
  await sleep(50);
  for (const key of keys) queue.resync(key);
  const drained = () => queue.depth === 0 && queue.inFlight === 0;
  // Drained twice in a row, a little apart: delayed adds (addSoon, backoff) have fired.
  while (!drained() || (await sleep(40), !drained())) await sleep(10);

  expect(overlaps).toBe(0);
  expect(maxActive).toBeLessThanOrEqual(8);
  expect(failedOnce.size).toBeGreaterThan(0);
  const behind = keys.filter((k) => reconciled.get(k) !== changes.get(k));
  expect(behind).toEqual([]);
  await queue.shutdown();
});

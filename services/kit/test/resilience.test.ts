import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { CircuitState } from 'cockatiel';
import { DependencyMetrics, dependencyPolicy, DependencyRefusal } from '../src/index.js';

function setup() {
  const registry = new Registry();
  return { registry, metrics: new DependencyMetrics(registry) };
}

async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const m = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return m.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}

test('idempotent calls are retried until they succeed', async () => {
  const { metrics } = setup();
  const policy = dependencyPolicy('catalog', metrics, { idempotent: true, maxAttempts: 3 });
  let calls = 0;
  const result = await policy.execute(() =>
    ++calls < 3 ? Promise.reject(new Error('flaky')) : Promise.resolve('ok'),
  );
  expect(result).toBe('ok');
  expect(calls).toBe(3);
});

test('non-idempotent calls are tried once', async () => {
  const { metrics } = setup();
  const policy = dependencyPolicy('payments', metrics, { idempotent: false });
  let calls = 0;
  await expect(
    policy.execute(() => Promise.reject(new Error(`failed ${++calls}`))),
  ).rejects.toThrow('failed 1');
  expect(calls).toBe(1);
});

test('consecutive failures open the circuit; calls then fail fast and the state is a metric', async () => {
  const { metrics, registry } = setup();
  const policy = dependencyPolicy('broker', metrics, {
    idempotent: false,
    breakAfter: 3,
    halfOpenAfterMs: 60_000,
  });
  let calls = 0;
  for (let i = 0; i < 3; i++)
    await expect(
      policy.execute(() => Promise.reject(new Error(`down ${++calls}`))),
    ).rejects.toThrow();
  expect(policy.state).toBe(CircuitState.Open);
  await expect(policy.execute(() => Promise.resolve(++calls))).rejects.toThrow(/circuit/i);
  expect(calls).toBe(3);
  expect(await metric(registry, 'dependency_circuit_state', { dependency: 'broker' })).toBe(
    CircuitState.Open,
  );
  expect(
    await metric(registry, 'dependency_calls_total', {
      dependency: 'broker',
      outcome: 'circuit_open',
    }),
  ).toBe(1);
});

test('a slow attempt times out and its signal aborts', async () => {
  const { metrics, registry } = setup();
  const policy = dependencyPolicy('smtp', metrics, { idempotent: false, timeoutMs: 50 });
  let aborted = false;
  await expect(
    policy.execute(async (signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      await sleep(1_000, undefined, { ref: false });
    }),
  ).rejects.toThrow();
  expect(aborted).toBe(true);
  expect(
    await metric(registry, 'dependency_calls_total', { dependency: 'smtp', outcome: 'timeout' }),
  ).toBe(1);
});

test('the bulkhead rejects calls beyond its capacity and queue', async () => {
  const { metrics } = setup();
  const policy = dependencyPolicy('db', metrics, {
    idempotent: false,
    concurrency: 1,
    queue: 1,
    timeoutMs: 1_000,
  });
  const slow = () => policy.execute(() => sleep(100, 'done'));
  const results = await Promise.allSettled([slow(), slow(), slow()]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
});

test('a deadline bounds the whole call: one queued behind a call that hangs is answered by then', async () => {
  const { metrics } = setup();
  const policy = dependencyPolicy('provider', metrics, {
    idempotent: true,
    concurrency: 1,
    queue: 1,
    timeoutMs: 60_000,
    deadlineMs: 50,
  });
  let release = () => {};
  const hanging = new Promise<void>((resolve) => (release = resolve));
  // Both settle while the first still hangs: without the deadline the second would wait
  // for the slot as long as the first hangs, which no per-attempt timeout covers.
  const [first, second] = await Promise.allSettled([
    policy.execute(() => hanging),
    policy.execute(() => Promise.resolve('done')),
  ]);
  release();
  expect(first.status).toBe('rejected');
  expect(second.status).toBeDefined();
});

test('a refusal is an answer, not a failure: never retried, never counted by the breaker', async () => {
  const { metrics, registry } = setup();
  const policy = dependencyPolicy('provider', metrics, {
    idempotent: true,
    maxAttempts: 3,
    breakAfter: 2,
  });
  let calls = 0;
  for (let i = 0; i < 5; i++)
    await expect(
      policy.execute(() => {
        calls++;
        return Promise.reject(new DependencyRefusal('already captured'));
      }),
    ).rejects.toBeInstanceOf(DependencyRefusal);
  expect(calls).toBe(5);
  expect(policy.state).toBe(CircuitState.Closed);
  expect(
    await metric(registry, 'dependency_calls_total', {
      dependency: 'provider',
      outcome: 'refused',
    }),
  ).toBe(5);
});

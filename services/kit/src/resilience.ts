// One resilience policy per dependency (cockatiel): a bulkhead caps concurrent calls,
// retries with jittered exponential backoff — for idempotent calls only —, a circuit
// breaker stops hammering a dependency that keeps failing, and every attempt has a
// timeout. An optional deadline bounds the whole call — the wait for a bulkhead slot,
// every attempt, the pauses between —, so a caller that must be done by a time (a lease)
// can be. The breaker's state and call outcomes are metrics.
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  handleWhen,
  retry,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import { Counter, Gauge, type Registry } from 'prom-client';
import { retryBackoff } from './backoff.js';
import { DependencyRefusal } from './dependency.js';

/** What the retries and the breaker treat as the dependency failing: anything but a refusal. */
const failures = handleWhen((err) => !(err instanceof DependencyRefusal));

export interface DependencyPolicyOptions {
  /** Retry failures; only for calls that are safe to repeat. */
  idempotent: boolean;
  timeoutMs?: number;
  /**
   * The whole call ends by then, whatever it waits for: a call still queued for a slot is
   * dropped unmade (the per-attempt timeout does not cover the queue).
   */
  deadlineMs?: number;
  maxAttempts?: number;
  /** Consecutive failures that open the circuit. */
  breakAfter?: number;
  halfOpenAfterMs?: number;
  concurrency?: number;
  queue?: number;
  /**
   * Abort the attempt's signal once it returned, so that work it left behind stops (the
   * default). A call that never reads its signal (a cache's) saves an AbortError per call.
   */
  abortOnReturn?: boolean;
}

export interface DependencyPolicy {
  /** Runs `call` under the policy; `signal` aborts when the attempt times out. */
  execute<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T>;
  readonly state: CircuitState;
}

export class DependencyMetrics {
  readonly circuitState: Gauge<'dependency'>;
  readonly calls: Counter<'dependency' | 'outcome'>;

  constructor(registry: Registry) {
    this.circuitState = new Gauge({
      name: 'dependency_circuit_state',
      help: 'Circuit breaker state per dependency: 0 closed, 1 open, 2 half-open, 3 isolated',
      labelNames: ['dependency'],
      registers: [registry],
    });
    this.calls = new Counter({
      name: 'dependency_calls_total',
      help: 'Calls to a dependency by outcome (success, refused, failure, timeout, circuit_open, rejected)',
      labelNames: ['dependency', 'outcome'],
      registers: [registry],
    });
  }
}

function outcomeOf(err: unknown): string {
  if (err instanceof DependencyRefusal) return 'refused';
  if (err instanceof BrokenCircuitError) return 'circuit_open';
  if (err instanceof BulkheadRejectedError) return 'rejected';
  if (err instanceof TaskCancelledError) return 'timeout';
  return 'failure';
}

export function dependencyPolicy(
  name: string,
  metrics: DependencyMetrics,
  opts: DependencyPolicyOptions,
): DependencyPolicy {
  const breaker = circuitBreaker(failures, {
    halfOpenAfter: opts.halfOpenAfterMs ?? 10_000,
    breaker: new ConsecutiveBreaker(opts.breakAfter ?? 5),
  });
  breaker.onStateChange((state) => metrics.circuitState.set({ dependency: name }, state));
  metrics.circuitState.set({ dependency: name }, CircuitState.Closed);
  const perAttempt = timeout(opts.timeoutMs ?? 2_000, {
    strategy: TimeoutStrategy.Aggressive,
    abortOnReturn: opts.abortOnReturn ?? true,
  });
  const attempts = opts.idempotent
    ? retry(failures, {
        maxAttempts: (opts.maxAttempts ?? 3) - 1,
        backoff: retryBackoff({ baseMs: 50, maxMs: 2_000, jitter: 0.1 }),
      })
    : undefined;
  const limit = bulkhead(opts.concurrency ?? 32, opts.queue ?? 64);
  // Outermost first: deadline → bulkhead → retry → breaker → timeout. Retrying outside the
  // breaker means an open circuit ends the retries at once; the deadline's signal reaches
  // the bulkhead, which drops a queued call whose signal aborted.
  const inner = attempts ? [limit, attempts, breaker, perAttempt] : [limit, breaker, perAttempt];
  const deadline =
    opts.deadlineMs === undefined ? [] : [timeout(opts.deadlineMs, TimeoutStrategy.Aggressive)];
  const policy = wrap(...deadline, ...inner);
  return {
    async execute<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
      try {
        const result = await policy.execute(({ signal }) => call(signal));
        metrics.calls.inc({ dependency: name, outcome: 'success' });
        return result;
      } catch (err) {
        metrics.calls.inc({ dependency: name, outcome: outcomeOf(err) });
        throw err;
      }
    },
    get state() {
      return breaker.state;
    },
  };
}

// A per-key work queue in the manner of client-go's: a key is queued at most once,
// never processed by two workers at once (a change during processing queues it again
// afterwards), failures retry with capped exponential backoff per key.

export interface ReconcileResult {
  /** Run this key again after so many milliseconds even if nothing changes. */
  requeueAfterMs?: number;
}

export type Handler = (key: string) => Promise<ReconcileResult | undefined>;

export interface WorkQueueOptions {
  concurrency: number;
  /** First retry delay after a failure; doubles with each further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Called after each run with the outcome, for metrics and logs. */
  onResult?: (key: string, outcome: 'success' | 'error', seconds: number, error?: unknown) => void;
}

/** Delay before retry number `failures` (1-based): base·2^(n-1), capped, with ±10 % jitter. */
export function backoffDelay(
  failures: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(exponential * (0.9 + 0.2 * random()));
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys waiting in `queue` or waiting to be re-queued once their run finishes. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly handler: Handler,
    private readonly opts: WorkQueueOptions,
  ) {}

  /** Keys waiting to run (not counting those in progress or delayed). */
  get depth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  add(key: string): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.processing.has(key)) this.queue.push(key);
    this.pump();
  }

  /**
   * A periodic resync's add: a key waiting out its failure backoff keeps waiting, so a
   * short resync period cannot turn backoff into a tight retry loop.
   */
  resync(key: string): void {
    if ((this.failures.get(key) ?? 0) > 0 && this.timers.has(key)) return;
    this.add(key);
  }

  /**
   * A trigger's add after a delay (events about what a key owns, e.g. its Deployments'
   * rollouts): like a resync, it leaves a key waiting out its failure backoff waiting, so
   * the key's own writes echoing back cannot turn backoff into a tight retry loop.
   */
  addSoon(key: string, delayMs: number): void {
    if ((this.failures.get(key) ?? 0) > 0 && this.timers.has(key)) return;
    this.addAfter(key, delayMs);
  }

  /** Adds the key after a delay; of several pending delays for one key, the earliest wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Stops taking work, drops delayed keys and waits for runs in progress. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    await Promise.allSettled([...this.running]);
  }

  private pump(): void {
    while (!this.stopped && this.processing.size < this.opts.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.dirty.delete(key);
      this.processing.add(key);
      const run = this.run(key).finally(() => this.running.delete(run));
      this.running.add(run);
    }
  }

  private async run(key: string): Promise<void> {
    const started = performance.now();
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      this.opts.onResult?.(key, 'success', (performance.now() - started) / 1000);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (error) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      this.opts.onResult?.(key, 'error', (performance.now() - started) / 1000, error);
      this.addAfter(key, backoffDelay(failures, this.opts.baseDelayMs, this.opts.maxDelayMs));
    } finally {
      this.processing.delete(key);
      if (this.dirty.has(key)) this.queue.push(key);
      this.pump();
    }
  }
}

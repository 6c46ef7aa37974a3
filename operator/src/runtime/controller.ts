// One controller: an informer feeding a work queue, a periodic resync that queues every
// known object (how drift in external systems gets corrected), the cross-kind triggers
// it declares (`watches`), metrics, and a span `reconcile <Kind>` around each reconcile,
// which its outcome is logged in.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Kube, KubeObject } from '../clients/kube.js';
import { deepEqual } from './equality.js';
import type { ObjectRef } from '../clients/resources.js';
import { Informer } from './informer.js';
import type { OperatorMetrics } from './metrics.js';
import { markFailed, objectAttributes, tracer } from './tracing.js';
import { WorkQueue, type ReconcileResult } from './workqueue.js';

export interface ControllerOptions<T extends KubeObject> {
  name: string;
  ref: ObjectRef;
  /** `cache` is the informer's: the objects of this kind as last seen. */
  reconcile: (key: string, cache: ReadonlyMap<string, T>) => Promise<ReconcileResult | undefined>;
  concurrency: number;
  resyncMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  labelSelector?: string;
}

/**
 * Whether a change needs a reconcile. Status-only updates — mostly our own writes —
 * do not: reacting to them would echo every status write back as a reconcile and let
 * a failing tenant bypass its backoff. Spec (generation), deletion, finalizers,
 * labels and annotations do.
 */
export function worthReconciling(
  previous: KubeObject | undefined,
  current: KubeObject | undefined,
): boolean {
  if (!previous || !current) return true;
  const [a, b] = [previous.metadata, current.metadata];
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    !deepEqual(a.finalizers ?? [], b.finalizers ?? []) ||
    !deepEqual(a.labels ?? {}, b.labels ?? {}) ||
    !deepEqual(a.annotations ?? {}, b.annotations ?? {})
  );
}

export class Controller<T extends KubeObject> {
  readonly informer: Informer<T>;
  readonly queue: WorkQueue;
  private resyncTimer?: NodeJS.Timeout;
  /** Called with each key this controller reconciled without error. */
  private readonly reconciled: ((key: string) => void)[] = [];

  constructor(
    kube: Kube,
    kc: KubeConfig,
    private readonly opts: ControllerOptions<T>,
    private readonly metrics: OperatorMetrics,
    private readonly log: Logger,
  ) {
    const controller = opts.name;
    const attempt = async (key: string): Promise<ReconcileResult | undefined> => {
      const result = await opts.reconcile(key, this.informer.cache);
      for (const listener of this.reconciled) listener(key);
      return result;
    };
    const reconcile = (key: string): Promise<ReconcileResult | undefined> =>
      tracer.startActiveSpan(
        `reconcile ${opts.ref.kind}`,
        { attributes: objectAttributes(opts.ref.kind, key) },
        // The outcome is logged in the span, so its line names the reconcile's trace.
        async (span) => {
          const started = performance.now();
          try {
            const result = await attempt(key);
            span.setAttribute('gorten.reconcile.result', 'success');
            if (result?.requeueAfterMs !== undefined)
              span.setAttribute('gorten.reconcile.requeue_after_ms', result.requeueAfterMs);
            log.debug(
              { controller, key, seconds: (performance.now() - started) / 1000 },
              'reconciled',
            );
            return result;
          } catch (err) {
            span.setAttribute('gorten.reconcile.result', 'error');
            markFailed(span, err instanceof Error ? err.message : String(err), err);
            log.warn({ controller, key, err }, 'reconcile failed; retrying with backoff');
            throw err;
          } finally {
            span.end();
          }
        },
      );
    this.queue = new WorkQueue(reconcile, {
      concurrency: opts.concurrency,
      baseDelayMs: opts.baseDelayMs,
      maxDelayMs: opts.maxDelayMs,
      onResult: (_key, result, seconds) => {
        metrics.reconcileTotal.inc({ controller, result });
        metrics.reconcileDuration.observe({ controller }, seconds);
        metrics.queueDepth.set({ controller }, this.queue.depth);
      },
    });
    this.informer = new Informer<T>(
      kube,
      kc,
      opts.ref,
      (key, previous, current) => {
        if (worthReconciling(previous, current)) this.enqueue(key);
      },
      {
        labelSelector: opts.labelSelector,
        onError: (err) => log.warn({ controller, err }, 'watch failed; reopening'),
      },
    );
  }

  enqueue(key: string): void {
    this.queue.add(key);
    this.metrics.queueDepth.set({ controller: this.opts.name }, this.queue.depth);
  }

  /**
   * Queues `key` after `delayMs`; more calls meanwhile change nothing, so a burst of events
   * about one key (a rollout's status updates) makes one reconcile. A key in failure
   * backoff keeps waiting (WorkQueue.addSoon).
   */
  enqueueSoon(key: string, delayMs: number): void {
    this.queue.addSoon(key, delayMs);
  }

  /**
   * A cross-kind trigger: each time `other` has reconciled a key, queue the keys of this
   * kind that `map` names (controller-runtime's EnqueueRequestsFromMapFunc).
   */
  watches<O extends KubeObject>(
    other: Controller<O>,
    map: (key: string) => Iterable<string>,
  ): void {
    other.reconciled.push((key) => {
      for (const mine of map(key)) this.enqueue(mine);
    });
  }

  /** The keys of the known objects in `namespace`. */
  keysIn(namespace: string): string[] {
    return [...this.informer.cache.entries()]
      .filter(([, object]) => object.metadata.namespace === namespace)
      .map(([key]) => key);
  }

  async start(): Promise<void> {
    await this.informer.start();
    this.resyncTimer = setInterval(() => {
      for (const key of this.informer.cache.keys()) this.queue.resync(key);
      this.metrics.queueDepth.set({ controller: this.opts.name }, this.queue.depth);
    }, this.opts.resyncMs);
    this.resyncTimer.unref();
    this.log.info(
      { controller: this.opts.name, objects: this.informer.cache.size },
      'controller started',
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.informer.stop();
    await this.queue.shutdown();
  }
}

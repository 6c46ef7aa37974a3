// How checkouts end, for operators: gorten_checkouts_total{outcome,reason} and
// gorten_checkout_duration_seconds{outcome}, counted once per request that ran (a
// replay of a key's stored answer is not a checkout). The outcome says whose side it is
// on: `paid`; `declined` (the card); `refused` (the request could not be served as it
// stands — an empty cart, stock gone, a changed total — and nothing was charged);
// `failed` (the platform could not finish it: a dependency away, the provider silent, a
// run left to recovery, a bug). Reasons come from the closed set below, never from
// free text, so the label set stays bounded.
import { isDependencyFailure, Problem } from '@gorten/kit';
import { Counter, Histogram, type Registry } from 'prom-client';
import { RetryableCheckoutFailure } from './saga.js';

/** Every reason an outcome can have (each pair is a series from the start, at 0). */
export const CHECKOUT_REASONS = {
  paid: ['none'],
  declined: ['card_declined'],
  refused: [
    'cart_empty',
    'out_of_stock',
    'total_changed',
    'unavailable',
    'cart_locked',
    'order_cancelled',
    'payment_method',
    'other',
  ],
  failed: ['provider_timeout', 'unsettled', 'dependency_unavailable', 'internal'],
} as const;

export type CheckoutOutcome = keyof typeof CHECKOUT_REASONS;
type ReasonOf<O extends CheckoutOutcome> = (typeof CHECKOUT_REASONS)[O][number];
export type Classified = {
  [O in CheckoutOutcome]: { outcome: O; reason: ReasonOf<O> };
}[CheckoutOutcome];

/** The `reason` of a Problem the buyer could act on → its label. */
const REFUSALS = new Map<unknown, ReasonOf<'refused'>>([
  ['cart_empty', 'cart_empty'],
  ['out_of_stock', 'out_of_stock'],
  ['total_changed', 'total_changed'],
  ['unavailable', 'unavailable'],
  ['cart_locked', 'cart_locked'],
  ['order_cancelled', 'order_cancelled'],
  ['unknown_payment_method', 'payment_method'],
]);

/** How a checkout that threw `err` ended (pure). */
export function classifyFailure(err: unknown): Classified {
  if (err instanceof RetryableCheckoutFailure) return { outcome: 'failed', reason: err.why };
  if (err instanceof Problem) {
    const { reason } = err.extensions;
    if (reason === 'payment_declined') return { outcome: 'declined', reason: 'card_declined' };
    if (err.status < 500) return { outcome: 'refused', reason: REFUSALS.get(reason) ?? 'other' };
    return {
      outcome: 'failed',
      reason: err.status === 503 ? 'dependency_unavailable' : 'internal',
    };
  }
  return {
    outcome: 'failed',
    reason: isDependencyFailure(err) ? 'dependency_unavailable' : 'internal',
  };
}

export class CheckoutMetrics {
  private readonly checkouts: Counter<'outcome' | 'reason'>;
  private readonly duration: Histogram<'outcome'>;

  constructor(registry: Registry) {
    this.checkouts = new Counter({
      name: 'gorten_checkouts_total',
      help: 'Checkouts that ran, by outcome (paid, declined, refused, failed) and reason',
      labelNames: ['outcome', 'reason'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'gorten_checkout_duration_seconds',
      help: 'Duration of checkouts that ran, from the claimed key to the answer, by outcome',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    for (const [outcome, reasons] of Object.entries(CHECKOUT_REASONS)) {
      for (const reason of reasons) this.checkouts.inc({ outcome, reason }, 0);
      this.duration.zero({ outcome });
    }
  }

  /** Runs a checkout and counts how it ended: paid when it answers, else by what it threw. */
  async measure<T>(run: () => Promise<T>): Promise<T> {
    const stop = this.duration.startTimer();
    let ended: Classified = { outcome: 'paid', reason: 'none' };
    try {
      return await run();
    } catch (err) {
      ended = classifyFailure(err);
      throw err;
    } finally {
      this.checkouts.inc(ended);
      stop({ outcome: ended.outcome });
    }
  }
}

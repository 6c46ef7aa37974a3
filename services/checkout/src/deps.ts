// What the checkout service's use cases work with: the saga's modules, plus the
// Idempotency-Key records of POST /checkout and its metrics. Built once at start (app.ts).
import type { IdempotencyKeys } from '@gorten/kit';
import type { CheckoutMetrics } from './metrics.js';
import type { SagaDeps } from './saga.js';
import type { StoredAnswer } from './store.js';

export interface CheckoutDeps extends SagaDeps {
  requests: IdempotencyKeys<StoredAnswer>;
  /** How checkouts end (gorten_checkouts_total, gorten_checkout_duration_seconds). */
  metrics: CheckoutMetrics;
}

// What the checkout service's use cases work with: the saga's modules, plus the
// Idempotency-Key records of POST /checkout. Built once at start (app.ts).
import type { IdempotencyKeys } from '@gorten/kit';
import type { SagaDeps } from './saga.js';
import type { StoredAnswer } from './store.js';

export interface CheckoutDeps extends SagaDeps {
  requests: IdempotencyKeys<StoredAnswer>;
}

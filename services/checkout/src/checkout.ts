// POST /checkout: the Idempotency-Key contract around the saga. Same key and body → the
// same answer (success or final failure); same key, other body → 422; same key while a
// run is in flight → 409. A failure worth retrying (nothing charged, e.g. the provider
// did not answer) frees the key, so the same request may simply be sent again. A run
// that died after the payment was authorized keeps the key until recovery finishes it.
import { newId, Problem, problemFor, requestHash, type IdempotencyKeys } from '@gorten/kit';
import type { Card } from '@gorten/payments/provider';
import { RetryableCheckoutFailure, runCheckout, type SagaDeps } from './saga.js';
import type { CheckoutDoc, StoredAnswer } from './store.js';

export interface CheckoutDeps extends SagaDeps {
  requests: IdempotencyKeys<StoredAnswer>;
}

/** Failures that say nothing final about this request: the key is freed for a retry. */
const TRANSIENT_REASONS = new Set(['cart_locked', 'try_again']);

function replay(answer: StoredAnswer): StoredAnswer {
  if (answer.status < 400) return answer;
  const {
    title,
    detail,
    status: _status,
    type: _type,
    instance: _instance,
    ...extensions
  } = answer.body;
  throw new Problem(answer.status, String(title), String(detail), extensions);
}

export async function checkout(
  deps: CheckoutDeps,
  buyerId: string,
  key: string,
  body: { card: Card },
): Promise<StoredAnswer> {
  const requestId = `${buyerId}:${key}`;
  const claim = await deps.requests.claim(requestId, requestHash(body), deps.now());
  if (!claim.started) return replay(claim.result);
  const now = deps.now();
  const id = newId('chk');
  const run: CheckoutDoc = {
    _id: id,
    requestId,
    buyerId,
    step: 'started',
    currency: deps.env.CURRENCY,
    paymentKey: `${id}:authorization`,
    leaseUntil: new Date(now.getTime() + deps.env.CHECKOUT_LEASE_MS),
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.checkouts.insertOne(run);
  try {
    const answer = await runCheckout(deps, run, body.card);
    await deps.requests.finish(requestId, answer, deps.now());
    return answer;
  } catch (err) {
    const reason = err instanceof Problem ? err.extensions.reason : undefined;
    if (err instanceof RetryableCheckoutFailure || TRANSIENT_REASONS.has(String(reason))) {
      await deps.requests.release(requestId);
    } else if (err instanceof Problem) {
      const { document } = problemFor(err);
      await deps.requests.finish(requestId, { status: err.status, body: document }, deps.now());
    } else if (run.step === 'compensated') {
      await deps.requests.release(requestId); // undone: nothing happened, try again
    }
    // Otherwise the payment is authorized: recovery completes the run and stores its answer.
    throw err;
  }
}

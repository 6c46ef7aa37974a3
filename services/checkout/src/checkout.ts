// POST /checkout: the Idempotency-Key contract around the saga. Same key and body → the
// same answer (success or final failure); same key, other body → 422; same key while a
// run is in flight → 409. A failure worth retrying (nothing charged, e.g. the provider
// did not answer) frees the key, so the same request may simply be sent again. A run
// that is not settled (authorized but not finished, or not fully undone) keeps the key
// until the recovery worker settles it.
import { randomUUID } from 'node:crypto';
import { newId, Problem, problemFor, requestHash } from '@gorten/kit';
import { paymentMethodOf } from '@gorten/payments/payments';
import type { CheckoutDeps } from './deps.js';
import { precheck, RetryableCheckoutFailure, runCheckout } from './saga.js';
import type { CheckoutRequest } from './schemas.js';
import type { CheckoutDoc, CheckoutStep, StoredAnswer } from './store.js';

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

/**
 * Not settled yet (the payment is authorized, or undoing failed): recovery owns the run
 * and answers the key when it is done; until then the key is in flight.
 */
function leftToRecovery(
  deps: CheckoutDeps,
  checkoutId: string,
  step: CheckoutStep,
  err: unknown,
): RetryableCheckoutFailure {
  deps.log.error({ err, checkoutId, step }, 'checkout left to recovery');
  return new RetryableCheckoutFailure(
    'The checkout could not be finished now and is being settled; send the same request again in a moment.',
  );
}

export async function checkout(
  deps: CheckoutDeps,
  buyerId: string,
  key: string,
  body: CheckoutRequest,
): Promise<StoredAnswer> {
  const requestId = `${buyerId}:${key}`;
  const fingerprint = requestHash(deps.env.IDEMPOTENCY_HMAC_KEY, body);
  const claim = await deps.requests.claim(requestId, fingerprint, deps.now());
  if (!claim.started) return replay(claim.result);
  try {
    await precheck(deps, buyerId);
    await paymentMethodOf(deps.payments, body.paymentMethod, buyerId); // the buyer's own
  } catch (err) {
    const { document } = problemFor(err);
    if (err instanceof Problem)
      await deps.requests.finish(requestId, { status: err.status, body: document }, deps.now());
    else await deps.requests.release(requestId);
    throw err;
  }
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
    leaseHolder: randomUUID(),
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.checkouts.insertOne(run);
  const outcome = await runCheckout(deps, run, body);
  if ('answer' in outcome) {
    try {
      await deps.requests.finish(requestId, outcome.answer, deps.now());
    } catch (err) {
      // The run is done but its key is not answered: a 503, as for a run not settled.
      throw leftToRecovery(deps, run._id, 'completed', err);
    }
    return outcome.answer;
  }
  const { error } = outcome;
  if (outcome.settled === 'pending') throw leftToRecovery(deps, run._id, outcome.step, error);
  const reason = error instanceof Problem ? error.extensions.reason : undefined;
  if (error instanceof Problem && !TRANSIENT_REASONS.has(String(reason))) {
    const { document } = problemFor(error);
    await deps.requests.finish(requestId, { status: error.status, body: document }, deps.now());
  } else {
    await deps.requests.release(requestId); // undone: nothing happened, try again
  }
  throw error;
}

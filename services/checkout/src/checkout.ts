// POST /checkout: the Idempotency-Key contract around the saga. Same key and body → the
// same answer (success or final failure); same key, other body → 422; same key while a
// run is in flight → 409. A failure worth retrying (nothing charged, e.g. the provider
// did not answer) frees the key, so the same request may simply be sent again. A run
// that is not settled (authorized but not finished, or not fully undone) keeps the key
// until the recovery worker settles it.
import { randomUUID } from 'node:crypto';
import { newId, Problem, problemFor, requestHash, type IdempotencyKeys } from '@gorten/kit';
import type { Card } from '@gorten/payments/provider';
import { precheck, RetryableCheckoutFailure, runCheckout, type SagaDeps } from './saga.js';
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
  try {
    await precheck(deps, buyerId);
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
  try {
    const answer = await runCheckout(deps, run, body.card);
    await deps.requests.finish(requestId, answer, deps.now());
    return answer;
  } catch (err) {
    if (run.step !== 'compensated') {
      // Not settled yet (the payment is authorized, or undoing failed): recovery owns the
      // run and answers the key when it is done; until then the key is in flight.
      deps.log.error({ err, checkoutId: run._id, step: run.step }, 'checkout left to recovery');
      throw new RetryableCheckoutFailure(
        'The checkout could not be finished now and is being settled; send the same request again in a moment.',
      );
    }
    const reason = err instanceof Problem ? err.extensions.reason : undefined;
    if (err instanceof Problem && !TRANSIENT_REASONS.has(String(reason))) {
      const { document } = problemFor(err);
      await deps.requests.finish(requestId, { status: err.status, body: document }, deps.now());
    } else {
      await deps.requests.release(requestId); // undone: nothing happened, try again
    }
    throw err;
  }
}

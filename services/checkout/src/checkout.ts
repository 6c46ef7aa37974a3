// POST /checkout: the Idempotency-Key contract around the saga. Same key and body → the
// same answer (success or final failure); same key, other body → 422; same key while a
// run is in flight → 409. A failure worth retrying (nothing charged) frees the key. The
// claim is the run's start (its first record comes at `authorizing`); a run not settled
// keeps the key until recovery settles it (requests.ts settles a key from its run).
import { randomUUID } from 'node:crypto';
import { newId, Problem, requestHash } from '@gorten/kit';
import { unlockCart } from '@gorten/carts/carts';
import type { CartLine } from '@gorten/carts/store';
import { paymentMethodOf } from '@gorten/payments/payments';
import type { CheckoutDeps } from './deps.js';
import { settlementOf } from './requests.js';
import {
  finalAnswer,
  lockForRun,
  precheck,
  RetryableCheckoutFailure,
  runCheckout,
  type RunMemo,
} from './saga.js';
import type { CheckoutRequest } from './schemas.js';
import type { CheckoutDoc, CheckoutStep, StoredAnswer } from './store.js';

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
    'unsettled',
  );
}

/**
 * The cart of a run refused before it began, given back; false when that failed: the run
 * is then recorded `started` (its key stays in flight), and recovery unlocks it.
 */
async function unlocked(deps: CheckoutDeps, run: CheckoutDoc): Promise<boolean> {
  try {
    await unlockCart(deps.carts, run.buyerId, run._id);
    return true;
  } catch (err) {
    deps.log.warn({ err, checkoutId: run._id }, 'unlocking a refused checkout failed');
    // Failing too, the claim stands for the run: once stale, recovery undoes it from there.
    await deps.store.checkouts.insertOne(run).catch(() => undefined);
    return false;
  }
}

export async function checkout(
  deps: CheckoutDeps,
  buyerId: string,
  key: string,
  body: CheckoutRequest,
): Promise<StoredAnswer> {
  const requestId = `${buyerId}:${key}`;
  // The run's id is the claim's: only this run answers or frees the key.
  const id = newId('chk');
  const fingerprint = requestHash(deps.env.IDEMPOTENCY_HMAC_KEY, body);
  const claim = await deps.requests.claim(requestId, fingerprint, id, deps.now());
  if (!claim.started) return replay(claim.result);
  return deps.metrics.measure(() => runClaimed(deps, { buyerId, requestId, id }, body));
}

/** The checkout of a key this request claimed: its run, and the key's answer. */
async function runClaimed(
  deps: CheckoutDeps,
  { buyerId, requestId, id }: { buyerId: string; requestId: string; id: string },
  body: CheckoutRequest,
): Promise<StoredAnswer> {
  const now = deps.now();
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
  // What the run would read again: the cart it locked and its products, the buyer's
  // payment method.
  const memo: RunMemo = {};
  let locked: CartLine[] | undefined;
  try {
    locked = await lockForRun(deps, buyerId, id);
    memo.cart = await precheck(deps, locked);
    memo.method = await paymentMethodOf(deps.payments, body.paymentMethod, buyerId); // the buyer's own
  } catch (err) {
    // A lock whose answer was lost (the connection, not a refusal) may have landed: the
    // unlock finds the cart by the run's id, and does nothing where it is not locked.
    const mayHoldLock = locked !== undefined || !(err instanceof Problem);
    if (mayHoldLock && !(await unlocked(deps, run))) throw leftToRecovery(deps, id, run.step, err);
    const answer = finalAnswer(err);
    if (answer) await deps.requests.finish(requestId, id, answer, deps.now());
    else await deps.requests.release(requestId, id);
    throw err;
  }
  // Not recorded yet: the claim stands for it until its first record (saga.ts).
  const outcome = await runCheckout(deps, run, body, memo);
  if ('settled' in outcome && outcome.settled === 'pending')
    throw leftToRecovery(deps, run._id, outcome.step, outcome.error);
  try {
    // Its answer (a success or a final failure), or the key freed: nothing happened.
    await deps.requests.end(requestId, id, settlementOf(outcome.run), deps.now());
  } catch (err) {
    // The run ended but its key is not settled: a 503, as for a run not settled. The key
    // is settled from the run when it is sent again, or by the recovery worker.
    throw leftToRecovery(deps, run._id, outcome.run.step, err);
  }
  if ('answer' in outcome) return outcome.answer;
  throw outcome.error;
}

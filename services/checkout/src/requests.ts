// The Idempotency-Key of POST /checkout and the run that holds it (the claim's runId is
// the checkout's id). A run records what its key answers with the step it ends at, so
// whoever finds the run ended — the request itself, a later request with the key, the
// recovery worker — settles the key the same way. A claim whose run never began (the
// request died before recording it) is ended for it once stale.
import {
  IdempotencyKeys,
  isDuplicateKey,
  type IdempotencyRecord,
  type Settlement,
} from '@gorten/kit';
import type { CheckoutEnv } from './config.js';
import {
  FINISHED_STEPS,
  type CheckoutDoc,
  type CheckoutStore,
  type StoredAnswer,
} from './store.js';

/** What a run's key answers: its recorded answer once it ended, or a free key. */
export function settlementOf(run: CheckoutDoc): Settlement<StoredAnswer> {
  if (!FINISHED_STEPS.includes(run.step)) return { state: 'running' };
  return run.answer ? { state: 'done', result: run.answer } : { state: 'free' };
}

/**
 * A run that never began, recorded as ended: the request that claimed its key may only
 * be paused, and when it resumes its insert of the run fails, so it cannot start a
 * second run beside the one that took the key over.
 */
function neverBegun(claim: IdempotencyRecord<StoredAnswer>, now: Date, currency: string) {
  const run: CheckoutDoc = {
    _id: claim.runId,
    requestId: claim._id,
    buyerId: claim._id.slice(0, claim._id.indexOf(':')), // `<buyer>:<key>`
    step: 'compensated',
    currency,
    paymentKey: `${claim.runId}:authorization`,
    failure: { reason: 'abandoned', detail: 'The request stopped before its run began.' },
    leaseUntil: now,
    leaseHolder: 'none',
    createdAt: now,
    updatedAt: now,
  };
  return run;
}

/** The Idempotency-Keys of POST /checkout, settled from their runs. */
export function checkoutRequests(
  store: CheckoutStore,
  env: CheckoutEnv,
): IdempotencyKeys<StoredAnswer> {
  const settlementOfClaim = async (
    claim: IdempotencyRecord<StoredAnswer>,
    { now, stale }: { now: Date; stale: boolean },
  ): Promise<Settlement<StoredAnswer>> => {
    const run = await store.checkouts.findOne({ _id: claim.runId });
    if (run) return settlementOf(run);
    // No run yet: the request is still before it (prechecking) — or died there.
    if (!stale) return { state: 'running' };
    try {
      await store.checkouts.insertOne(neverBegun(claim, now, env.CURRENCY));
      return { state: 'free' };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    // The run was recorded meanwhile, after all: as it says.
    const late = await store.checkouts.findOne({ _id: claim.runId });
    return late ? settlementOf(late) : { state: 'running' };
  };
  // A request records its run within a few reads of its claim; a lease is far longer.
  return new IdempotencyKeys(store.requests, {
    staleAfterMs: env.CHECKOUT_LEASE_MS,
    settlementOf: settlementOfClaim,
  });
}

// The Idempotency-Key of POST /checkout and the run that holds it (the claim's runId is
// the checkout's id). A run records what its key answers with the step it ends at, so
// whoever finds the run ended — the request itself, a later request with the key, the
// recovery worker — settles the key the same way. A run is first recorded right before
// the provider is asked (`authorizing`): a stale claim whose run is not on record is
// undone first.
import { randomUUID } from 'node:crypto';
import { IdempotencyKeys, type IdempotencyRecord, type Settlement } from '@gorten/kit';
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
 * The run of a claim whose request stopped before recording it, as recovery records it:
 * at `started`, which may have done anything up to the authorization (saga.ts), under the
 * claim's run id, leased to whoever records it.
 */
export function unrecordedRun(
  claim: IdempotencyRecord<StoredAnswer>,
  now: Date,
  env: CheckoutEnv,
): CheckoutDoc {
  return {
    _id: claim.runId,
    requestId: claim._id,
    buyerId: claim._id.slice(0, claim._id.indexOf(':')), // `<buyer>:<key>`
    step: 'started',
    currency: env.CURRENCY,
    paymentKey: `${claim.runId}:authorization`,
    leaseUntil: new Date(now.getTime() + env.CHECKOUT_LEASE_MS),
    leaseHolder: randomUUID(),
    createdAt: now,
    updatedAt: now,
  };
}

/** Settles a stale claim whose run is not on record (recovery.ts, settleUnrecorded). */
export type SettleUnrecorded = (
  claim: IdempotencyRecord<StoredAnswer>,
  now: Date,
) => Promise<Settlement<StoredAnswer>>;

/** The Idempotency-Keys of POST /checkout, settled from their runs. */
export function checkoutRequests(
  store: CheckoutStore,
  env: CheckoutEnv,
  settleUnrecorded: SettleUnrecorded,
): IdempotencyKeys<StoredAnswer> {
  const settlementOfClaim = async (
    claim: IdempotencyRecord<StoredAnswer>,
    { now, stale }: { now: Date; stale: boolean },
  ): Promise<Settlement<StoredAnswer>> => {
    const run = await store.checkouts.findOne({ _id: claim.runId });
    if (run) return settlementOf(run);
    // Not on record yet: the request is still before its first record — or died there.
    return stale ? settleUnrecorded(claim, now) : { state: 'running' };
  };
  // A request records its run within a few steps of its claim; a lease is far longer.
  return new IdempotencyKeys(store.requests, {
    staleAfterMs: env.CHECKOUT_LEASE_MS,
    settlementOf: settlementOfClaim,
  });
}

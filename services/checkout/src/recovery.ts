// The recovery worker: checkouts whose run stopped (a crash, a lost pod) and whose lease
// ran out are taken over — one worker at a time, by a compare-and-set on the lease — and
// finished: forward when the payment was authorized, otherwise compensated. Then the
// request's key gets its answer (or is freed, when nothing happened) — only once the run
// is settled: a run still pending keeps its key. Keys left in flight by runs that ended
// (a crash between the last step and the answer) or that are not on record (undone
// first) are settled too. A run whose recovery fails waits longer before each next try,
// and the oldest lease goes first, so runs that keep failing neither hammer the provider
// nor hold up the others.
// And a sweeper gives back reserved stock that no checkout owns any more, and finished
// runs and answered keys are forgotten once past their retention. A run taken over is a
// trace of its own, `checkout recover`, with the saga's steps under it.
import { randomUUID } from 'node:crypto';
import { commitReservation, expiredReservations, releaseReservation } from '@gorten/catalog/stock';
import {
  backoffDelay,
  inSpan,
  isDuplicateKey,
  type IdempotencyRecord,
  type Settlement,
} from '@gorten/kit';
import { trace } from '@opentelemetry/api';
import type { CheckoutDeps } from './deps.js';
import { settlementOf, unrecordedRun } from './requests.js';
import { compensate, completeCheckout } from './saga.js';
import { FINISHED_STEPS, type CheckoutDoc, type StoredAnswer } from './store.js';

const tracer = trace.getTracer('@gorten/checkout');

/** The longest a run whose recoveries keep failing waits for the next (unless a lease is longer). */
const MAX_RECOVERY_WAIT_MS = 600_000;

/** After a failed recovery, the run waits: a lease, doubling with each failure in a row. */
async function retryLater(deps: CheckoutDeps, run: CheckoutDoc): Promise<void> {
  const lease = deps.env.CHECKOUT_LEASE_MS;
  const failures = run.recoveryFailures ?? 0;
  const waitMs = backoffDelay(failures, {
    baseMs: lease,
    maxMs: Math.max(lease, MAX_RECOVERY_WAIT_MS),
    jitter: 0.1,
  });
  await deps.store.checkouts.updateOne(
    { _id: run._id, leaseHolder: run.leaseHolder },
    {
      $set: {
        leaseUntil: new Date(deps.now().getTime() + waitMs),
        recoveryFailures: failures + 1,
      },
    },
  );
}

export async function recoverCheckouts(deps: CheckoutDeps): Promise<number> {
  await deps.requests.settleStale(deps.now(), {
    onError: (err, key) =>
      deps.log.warn({ err, key }, 'settling a stale checkout key failed; the next round retries'),
  });
  const now = deps.now();
  const stalled = await deps.store.checkouts
    .find({ step: { $nin: [...FINISHED_STEPS] }, leaseUntil: { $lt: now } })
    .sort({ leaseUntil: 1 })
    .limit(50)
    .toArray();
  let recovered = 0;
  for (const found of stalled) {
    // Now, not when the round began: the runs before this one may have taken long, and a
    // lease counted from the round's start could already be over.
    const takenAt = deps.now();
    const run = await deps.store.checkouts.findOneAndUpdate(
      { _id: found._id, leaseHolder: found.leaseHolder, leaseUntil: { $lt: takenAt } },
      {
        $set: {
          leaseHolder: randomUUID(),
          leaseUntil: new Date(takenAt.getTime() + deps.env.CHECKOUT_LEASE_MS),
        },
      },
      { returnDocument: 'after' },
    );
    if (!run) continue; // another worker took it
    try {
      const forward = run.step === 'authorized' || run.step === 'paid';
      const outcome = await inSpan(tracer, 'checkout recover', () =>
        forward
          ? completeCheckout(deps, run)
          : compensate(deps, run, new Error('the checkout was interrupted')),
      );
      // Not settled (an undo or the capture failed): the key stays the run's until it is.
      if ('settled' in outcome && outcome.settled === 'pending') throw outcome.error;
      const ended = outcome.run;
      await deps.requests.end(ended.requestId, ended._id, settlementOf(ended), deps.now());
      recovered++;
      deps.log.info({ checkoutId: run._id, step: ended.step }, 'checkout recovered');
    } catch (err) {
      deps.log.warn({ err, checkoutId: run._id }, 'checkout recovery failed; will retry');
      await retryLater(deps, run).catch((cause: unknown) =>
        deps.log.warn({ err: cause, checkoutId: run._id }, 'could not put off the next try'),
      );
    }
  }
  return recovered;
}

/**
 * A stale claim whose run was never recorded: its request stopped (or is held up) after
 * the claim and before the run's first record, and may have locked the cart, reserved
 * stock and made the order under the claim's run id (never asked the provider: that comes
 * after the first record). The run is recorded here first — the fence: its request's own
 * first record, an insert, then fails — and compensated (every undo finds its work by the
 * run's id).
 * Free when undone; in flight while an undo fails (recovery tries again: the run is on
 * record now).
 */
export async function settleUnrecorded(
  deps: CheckoutDeps,
  claim: IdempotencyRecord<StoredAnswer>,
  now: Date,
): Promise<Settlement<StoredAnswer>> {
  const run = unrecordedRun(claim, now, deps.env);
  try {
    await deps.store.checkouts.insertOne(run);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    // Recorded meanwhile, after all: as it says.
    const late = await deps.store.checkouts.findOne({ _id: claim.runId });
    return late ? settlementOf(late) : { state: 'running' };
  }
  const outcome = await inSpan(tracer, 'checkout recover', () =>
    compensate(deps, run, new Error('The request stopped before its run was recorded.')),
  );
  return outcome.settled === 'pending' ? { state: 'running' } : settlementOf(outcome.run);
}

/**
 * Reservations past their expiry: a live or recoverable checkout still owns its own
 * (recovery ends them); those of a finished run or of no run at all are settled here.
 * Run after recoverCheckouts: a run not on record is one before its first record, and
 * its claim goes stale (RESERVATION_TTL_MS ≥ 2 leases + a round) before its reservation
 * expires — so recovery records and undoes that run before this sweep sees its stock.
 */
export async function sweepReservations(deps: CheckoutDeps): Promise<void> {
  for (const { productId, reservationId } of await expiredReservations(deps.stock)) {
    const owner = await deps.store.checkouts.findOne({ _id: reservationId });
    if (owner && !FINISHED_STEPS.includes(owner.step)) continue;
    if (owner?.step === 'completed') await commitReservation(deps.stock, productId, reservationId);
    else await releaseReservation(deps.stock, productId, reservationId);
  }
}

/**
 * Forgets the runs finished longer than CHECKOUT_RETENTION_MS ago and the keys answered
 * longer than IDEMPOTENCY_RETENTION_MS ago (FerretDB has no TTL indexes). Unfinished runs
 * and keys in flight stay, whatever their age: recovery still owns them.
 */
export async function forgetFinished(deps: CheckoutDeps): Promise<void> {
  const now = deps.now().getTime();
  await deps.store.checkouts.deleteMany({
    step: { $in: [...FINISHED_STEPS] },
    updatedAt: { $lt: new Date(now - deps.env.CHECKOUT_RETENTION_MS) },
  });
  await deps.requests.prune(new Date(now - deps.env.IDEMPOTENCY_RETENTION_MS));
}

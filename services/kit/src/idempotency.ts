// Idempotency keys for requests that must take effect once (checkout, payment
// operations). A key is claimed by one insert — a unique _id, so of concurrent requests
// exactly one starts the work. Later requests with the key get the stored result (same
// body), 422 (another body), or 409 (still in flight). A failure worth retrying releases
// the key so the same request may run again; a final failure is stored like a success.
// A claim names the run that holds it, and only that run finishes or releases the key: a
// run that lost its claim (to a takeover) changes nothing of the run that holds it now.
// A claim left in flight by a run that ended or died is settled when the key is sent
// again or by `settleStale`: as the owner says its run ended (`settlementOf`).
// A record keeps only a keyed fingerprint of its request (requestHash), never the request.
import { createHmac, randomUUID } from 'node:crypto';
import type { Collection, Filter } from 'mongodb';
import { isDuplicateKey } from './mongo.js';
import { z } from 'zod';
import { conflict, unprocessable } from './problem.js';
import { canonicalJson } from './canonical-json.js';

export interface IdempotencyRecord<R> {
  /** `<scope>:<key>`: a key is the client's own, so it is scoped to the client. */
  _id: string;
  requestHash: string;
  state: 'in_flight' | 'done';
  /** The run that holds the claim (checkout: its checkout id): only it ends the claim. */
  runId: string;
  result?: R;
  createdAt: Date;
  updatedAt: Date;
}

/** A key as the Idempotency-Key header carries it (IETF draft: an opaque string). */
export const idempotencyKeyHeader = z
  .string()
  .min(8)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, '8–128 letters, digits or . _ : -')
  .describe('A unique key per intended operation; retries send the same key and body.');

/**
 * The tenant's secret for request fingerprints: the operator generates it into the
 * Secret `idempotency-key`; the services that keep Idempotency-Key records read it.
 */
export const idempotencyEnv = {
  IDEMPOTENCY_HMAC_KEY: z.string().min(32, 'must be at least 32 characters'),
};

/**
 * HMAC-SHA256 under the tenant's secret of the JSON with object keys sorted (so key
 * order does not matter): without the secret, a stored fingerprint cannot be tested
 * against guesses of the request.
 */
export function requestHash(secret: string, value: unknown): string {
  return createHmac('sha256', secret).update(canonicalJson(value)).digest('hex');
}

export type Claim<R> = { started: true } | { started: false; result: R };

/** What became of the run that holds a claim. */
export type Settlement<R> =
  /** Still at work, or owned by whatever finishes it (a recovery worker): the key stays taken. */
  | { state: 'running' }
  /** Ended with this answer: the key answers it from now on. */
  | { state: 'done'; result: R }
  /** Ended with nothing to answer, or never began: the key may be used anew. */
  | { state: 'free' };

export interface IdempotencyOptions<R> {
  /**
   * A claim in flight this long (since it was made) is stale: its run may have died (a
   * crash, a lost pod), and `settlementOf` is asked whether it did.
   */
  staleAfterMs: number;
  /**
   * What became of the run holding `claim`, asked whenever the key is claimed again while
   * in flight, and by `settleStale`. By default a stale claim's run is taken for dead
   * (free), which is right for work that may simply be done again (refunds by key).
   */
  settlementOf?: (
    claim: IdempotencyRecord<R>,
    at: { now: Date; stale: boolean },
  ) => Promise<Settlement<R>>;
}

export class IdempotencyKeys<R> {
  private readonly settlementOf: NonNullable<IdempotencyOptions<R>['settlementOf']>;

  constructor(
    private readonly records: Collection<IdempotencyRecord<R>>,
    private readonly options: IdempotencyOptions<R>,
  ) {
    this.settlementOf =
      options.settlementOf ??
      ((_claim, { stale }) => Promise.resolve(stale ? { state: 'free' } : { state: 'running' }));
  }

  /**
   * Starts the work for `id` as run `runId`, or answers as the key's earlier use says:
   * its result, or a 409 while it is in flight, or a 422 when the body differs. A claim
   * in flight whose run has ended is settled first: its run's answer, or taken over.
   */
  async claim(id: string, hash: string, runId: string, now: Date): Promise<Claim<R>> {
    try {
      await this.records.insertOne({
        _id: id,
        requestHash: hash,
        state: 'in_flight',
        runId,
        createdAt: now,
        updatedAt: now,
      });
      return { started: true };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    const existing = await this.records.findOne({ _id: id });
    if (!existing) return this.claim(id, hash, runId, now); // released meanwhile: try again
    if (existing.requestHash !== hash)
      throw unprocessable('This Idempotency-Key was used with another request body.');
    if (existing.state === 'done' && existing.result !== undefined)
      return { started: false, result: existing.result };
    const settlement = await this.settlementOf(existing, {
      now,
      stale: this.isStale(existing, now),
    });
    if (settlement.state === 'done') {
      await this.finish(id, existing.runId, settlement.result, now);
      return { started: false, result: settlement.result };
    }
    if (settlement.state === 'free') {
      // Compare-and-set on the run that held it: of several takers, one wins; the others
      // see the winner's claim when they look again.
      const taken = await this.records.updateOne(
        { _id: id, runId: existing.runId, state: 'in_flight' },
        { $set: { runId, createdAt: now, updatedAt: now } },
      );
      return taken.matchedCount === 1 ? { started: true } : this.claim(id, hash, runId, now);
    }
    throw conflict('A request with this Idempotency-Key is still in progress; retry later.');
  }

  /** Stores the answer of run `runId`, if that run still holds the claim. */
  async finish(id: string, runId: string, result: R, now: Date): Promise<void> {
    await this.records.updateOne(
      { _id: id, runId, state: 'in_flight' },
      { $set: { state: 'done', result, updatedAt: now } as Partial<IdempotencyRecord<R>> },
    );
  }

  /** Forgets the key run `runId` holds unfinished: the same request may be sent again. */
  async release(id: string, runId: string): Promise<void> {
    await this.records.deleteOne({ _id: id, runId, state: 'in_flight' });
  }

  /** Ends the claim of run `runId` as `settlement` says (a running run keeps it). */
  async end(id: string, runId: string, settlement: Settlement<R>, now: Date): Promise<void> {
    if (settlement.state === 'done') await this.finish(id, runId, settlement.result, now);
    else if (settlement.state === 'free') await this.release(id, runId);
  }

  /**
   * Ends the stale claims whose run has ended without ending them (it died between its
   * last step and its answer, or before its run was on record), oldest first, looking at
   * up to `limit` per call in pages of `page`; returns how many it ended. Claims whose run
   * still runs are passed over (the pages follow updatedAt, then _id), so a backlog of
   * them hides no later stale claim; a claim that fails to settle goes to `onError` and
   * the others are still settled. Without it such a key would wait for a client to send
   * it again.
   */
  async settleStale(
    now: Date,
    {
      limit = 1_000,
      page = 100,
      onError = () => undefined,
    }: { limit?: number; page?: number; onError?: (err: unknown, id: string) => void } = {},
  ): Promise<number> {
    const staleSince = this.staleSince(now);
    let after: { updatedAt: Date; _id: string } | undefined;
    let seen = 0;
    let ended = 0;
    while (seen < limit) {
      const next: Filter<IdempotencyRecord<R>> = after
        ? {
            $or: [
              { updatedAt: { $gt: after.updatedAt } },
              { updatedAt: after.updatedAt, _id: { $gt: after._id } },
            ],
          }
        : {};
      const batch = await this.records
        .find({ state: 'in_flight', updatedAt: { $lt: staleSince }, ...next })
        .sort({ updatedAt: 1, _id: 1 })
        .limit(Math.min(page, limit - seen))
        .toArray();
      for (const claim of batch) {
        try {
          const settlement = await this.settlementOf(claim, { now, stale: true });
          if (settlement.state === 'running') continue;
          await this.end(claim._id, claim.runId, settlement, now);
          ended++;
        } catch (err) {
          onError(err, claim._id);
        }
      }
      seen += batch.length;
      const last = batch.at(-1);
      if (!last || batch.length < page) break;
      after = { updatedAt: last.updatedAt, _id: last._id };
    }
    return ended;
  }

  /**
   * Forgets the keys answered before `before` (FerretDB has no TTL indexes, so a periodic
   * task calls this): such a key may then be used anew. Keys in flight stay. Returns how
   * many were forgotten.
   */
  async prune(before: Date): Promise<number> {
    const forgotten = await this.records.deleteMany({ state: 'done', updatedAt: { $lt: before } });
    return forgotten.deletedCount;
  }

  /**
   * Runs `work` once per key: the first request does it and stores its result; the rest
   * get that result. If `work` throws, the key is released and the same request may be
   * sent again; if its process dies instead, the key is taken over once stale.
   */
  async once(id: string, hash: string, now: () => Date, work: () => Promise<R>): Promise<R> {
    const runId = randomUUID();
    const claim = await this.claim(id, hash, runId, now());
    if (!claim.started) return claim.result;
    let result: R;
    try {
      result = await work();
    } catch (err) {
      await this.release(id, runId);
      throw err;
    }
    await this.finish(id, runId, result, now());
    return result;
  }

  private staleSince(now: Date): Date {
    return new Date(now.getTime() - this.options.staleAfterMs);
  }

  private isStale(claim: IdempotencyRecord<R>, now: Date): boolean {
    return claim.updatedAt < this.staleSince(now);
  }
}

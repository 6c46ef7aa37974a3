// Idempotency keys for requests that must take effect once (checkout, payment
// operations). A key is claimed by one insert — a unique _id, so of concurrent requests
// exactly one starts the work. Later requests with the key get the stored result (same
// body), 422 (another body), or 409 (still in flight). A failure worth retrying releases
// the key so the same request may run again; a final failure is stored like a success.
// A record keeps only a keyed fingerprint of its request (requestHash), never the request.
import { createHmac } from 'node:crypto';
import { MongoServerError, type Collection } from 'mongodb';
import { z } from 'zod';
import { conflict, unprocessable } from './problem.js';

export interface IdempotencyRecord<R> {
  /** `<scope>:<key>`: a key is the client's own, so it is scoped to the client. */
  _id: string;
  requestHash: string;
  state: 'in_flight' | 'done';
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
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHmac('sha256', secret)
    .update(JSON.stringify(canonical(value)))
    .digest('hex');
}

export type Claim<R> = { started: true } | { started: false; result: R };

export class IdempotencyKeys<R> {
  constructor(private readonly records: Collection<IdempotencyRecord<R>>) {}

  /**
   * Starts the work for `id` or answers as the key's earlier use says: its result, or a
   * 409 while it is in flight, or a 422 when the body differs.
   */
  async claim(id: string, hash: string, now: Date): Promise<Claim<R>> {
    try {
      await this.records.insertOne({
        _id: id,
        requestHash: hash,
        state: 'in_flight',
        createdAt: now,
        updatedAt: now,
      });
      return { started: true };
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
    }
    const existing = await this.records.findOne({ _id: id });
    if (!existing) return this.claim(id, hash, now); // released meanwhile: try again
    if (existing.requestHash !== hash)
      throw unprocessable('This Idempotency-Key was used with another request body.');
    if (existing.state === 'done' && existing.result !== undefined)
      return { started: false, result: existing.result };
    throw conflict('A request with this Idempotency-Key is still in progress; retry later.');
  }

  async finish(id: string, result: R, now: Date): Promise<void> {
    await this.records.updateOne(
      { _id: id },
      { $set: { state: 'done', result, updatedAt: now } as Partial<IdempotencyRecord<R>> },
    );
  }

  /**
   * Runs `work` once per key: the first request does it and stores its result; the rest
   * get that result. If `work` throws, the key is released and the same request may be
   * sent again.
   */
  async once(id: string, hash: string, now: () => Date, work: () => Promise<R>): Promise<R> {
    const claim = await this.claim(id, hash, now());
    if (!claim.started) return claim.result;
    let result: R;
    try {
      result = await work();
    } catch (err) {
      await this.release(id);
      throw err;
    }
    await this.finish(id, result, now());
    return result;
  }

  /** Forgets an unfinished key: the same request may be sent again. */
  async release(id: string): Promise<void> {
    await this.records.deleteOne({ _id: id, state: 'in_flight' });
  }
}

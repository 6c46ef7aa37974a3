// The fingerprint an Idempotency-Key record keeps of its request: keyed with the
// tenant's secret (an HMAC), so a stolen record says nothing that could be checked
// against guesses of the request, and blind to the order of object keys.
import { createHash, createHmac } from 'node:crypto';
import { idempotencyEnv, requestHash } from '../src/idempotency.js';

const SECRET = 'a-tenant-secret-of-at-least-32-characters';

describe('requestHash', () => {
  test('is an HMAC-SHA256 of the canonical JSON under the tenant secret, not a bare SHA-256', () => {
    const request = { paymentMethod: 'pm_0123456789abcdef01234567', expectedTotal: 1_000 };
    const canonical = '{"expectedTotal":1000,"paymentMethod":"pm_0123456789abcdef01234567"}';
    const hash = requestHash(SECRET, request);
    expect(hash).toBe(createHmac('sha256', SECRET).update(canonical).digest('hex'));
    expect(hash).not.toBe(createHash('sha256').update(canonical).digest('hex'));
    expect(requestHash(`${SECRET}!`, request)).not.toBe(hash);
  });

  test('the same request in another key order, nested too, has the same fingerprint', () => {
    expect(requestHash(SECRET, { a: 1, b: { c: [1, { d: 2, e: 3 }] } })).toBe(
      requestHash(SECRET, { b: { c: [1, { e: 3, d: 2 }] }, a: 1 }),
    );
    expect(requestHash(SECRET, { a: 1 })).not.toBe(requestHash(SECRET, { a: 2 }));
  });

  test('the secret is a setting of at least 32 characters', () => {
    const secret = idempotencyEnv.IDEMPOTENCY_HMAC_KEY;
    expect(secret.safeParse(SECRET).success).toBe(true);
    expect(secret.safeParse('short').success).toBe(false);
    expect(secret.safeParse(undefined).success).toBe(false);
  });
});

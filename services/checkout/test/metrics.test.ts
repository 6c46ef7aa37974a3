// How a checkout's ending becomes its outcome and reason labels (pure): the buyer's
// refusals by their Problem reason, a decline, the platform's failures, and that every
// label pair comes from the closed set.
import { conflict, DependencyUnavailable, Problem, unprocessable } from '@gorten/kit';
import { Registry } from 'prom-client';
import { CHECKOUT_REASONS, CheckoutMetrics, classifyFailure } from '../src/metrics.js';
import { RetryableCheckoutFailure } from '../src/saga.js';

test('a refusal the buyer can act on is refused with its reason; one not listed is `other`', () => {
  expect(classifyFailure(unprocessable('The cart is empty.', { reason: 'cart_empty' }))).toEqual({
    outcome: 'refused',
    reason: 'cart_empty',
  });
  expect(classifyFailure(conflict('Not enough', { reason: 'out_of_stock' }))).toEqual({
    outcome: 'refused',
    reason: 'out_of_stock',
  });
  expect(
    classifyFailure(unprocessable('No such method', { reason: 'unknown_payment_method' })),
  ).toEqual({ outcome: 'refused', reason: 'payment_method' });
  for (const reason of ['a_new_reason', 'constructor', undefined])
    expect(classifyFailure(conflict('Something new', { reason }))).toEqual({
      outcome: 'refused',
      reason: 'other',
    });
});

test('a declined card is declined; the platform’s failures are failed, by what failed', () => {
  const declined = new Problem(402, 'Payment Required', 'The card was declined.', {
    reason: 'payment_declined',
  });
  expect(classifyFailure(declined)).toEqual({ outcome: 'declined', reason: 'card_declined' });
  expect(classifyFailure(new RetryableCheckoutFailure('late', 'provider_timeout'))).toEqual({
    outcome: 'failed',
    reason: 'provider_timeout',
  });
  expect(classifyFailure(new RetryableCheckoutFailure('later', 'unsettled'))).toEqual({
    outcome: 'failed',
    reason: 'unsettled',
  });
  expect(classifyFailure(new DependencyUnavailable('mongodb', 'gone'))).toEqual({
    outcome: 'failed',
    reason: 'dependency_unavailable',
  });
  expect(classifyFailure(new TypeError('a bug'))).toEqual({
    outcome: 'failed',
    reason: 'internal',
  });
});

test('every outcome and reason pair is a series at 0 from the start, and a run counts once', async () => {
  const registry = new Registry();
  const metrics = new CheckoutMetrics(registry);
  const pairs = Object.entries(CHECKOUT_REASONS).flatMap(([o, rs]) => rs.map((r) => [o, r]));
  const zero = await registry.getSingleMetricAsString('gorten_checkouts_total');
  for (const [outcome, reason] of pairs)
    expect(zero).toContain(`gorten_checkouts_total{outcome="${outcome}",reason="${reason}"} 0`);
  await metrics.measure(() => Promise.resolve('answer'));
  await expect(
    metrics.measure(() => Promise.reject(conflict('Not enough', { reason: 'out_of_stock' }))),
  ).rejects.toThrow('Not enough');
  const after = await registry.metrics();
  expect(after).toContain('gorten_checkouts_total{outcome="paid",reason="none"} 1');
  expect(after).toContain('gorten_checkouts_total{outcome="refused",reason="out_of_stock"} 1');
  expect(after).toContain('gorten_checkout_duration_seconds_count{outcome="paid"} 1');
  expect(after).toContain('gorten_checkout_duration_seconds_count{outcome="refused"} 1');
});

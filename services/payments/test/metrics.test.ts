// What a payment's move did with money, for gorten_payment_amount_minor_units_total (pure):
// each operation by its amount, a void only of an authorization that was counted, and
// nothing for a move that moved no money.
import { Registry } from 'prom-client';
import { moneyMoved, PaymentMetrics } from '../src/metrics.js';
import type { PaymentDoc, PaymentStatus } from '../src/store.js';

const at = new Date('2026-01-01T00:00:00Z');
function payment(status: PaymentStatus, fields: Partial<PaymentDoc> = {}): PaymentDoc {
  return {
    _id: 'pay_1',
    authorizationKey: 'k',
    orderId: 'ord_1',
    buyerId: 'usr_1',
    amount: 5_000,
    currency: 'EUR',
    status,
    provider: 'simulated',
    card: { brand: 'visa', last4: '4242' },
    captured: 0,
    refunded: 0,
    refunds: [],
    version: 1,
    createdAt: at,
    updatedAt: at,
    ...fields,
  };
}

test('authorizing, capturing, refunding in part and voiding each move their amount', () => {
  expect(moneyMoved(payment('authorizing'), payment('authorized'))).toEqual({
    operation: 'authorized',
    amount: 5_000,
  });
  expect(moneyMoved(payment('authorized'), payment('captured', { captured: 5_000 }))).toEqual({
    operation: 'captured',
    amount: 5_000,
  });
  const captured = payment('captured', { captured: 5_000, refunded: 1_000 });
  expect(
    moneyMoved(captured, payment('partially_refunded', { captured: 5_000, refunded: 3_000 })),
  ).toEqual({ operation: 'refunded', amount: 2_000 });
  expect(moneyMoved(payment('authorized'), payment('voided'))).toEqual({
    operation: 'voided',
    amount: 5_000,
  });
});

test('a decline, or the void of an authorization never learned, moves nothing', () => {
  expect(moneyMoved(payment('authorizing'), payment('declined'))).toBeUndefined();
  expect(moneyMoved(payment('authorizing'), payment('voided'))).toBeUndefined();
});

test('the counter adds the amounts by currency and operation', async () => {
  const registry = new Registry();
  const metrics = new PaymentMetrics(registry);
  metrics.moved(payment('authorizing'), payment('authorized'));
  metrics.moved(
    payment('authorizing', { currency: 'SEK' }),
    payment('authorized', { currency: 'SEK' }),
  );
  metrics.moved(payment('authorizing'), payment('authorized'));
  const text = await registry.metrics();
  expect(text).toContain(
    'gorten_payment_amount_minor_units_total{currency="EUR",operation="authorized"} 10000',
  );
  expect(text).toContain(
    'gorten_payment_amount_minor_units_total{currency="SEK",operation="authorized"} 5000',
  );
});

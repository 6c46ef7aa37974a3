// The history checker on small hand-made histories: a sound one passes, and each way money
// or stock can go wrong is named.
import { violations, type History } from './history.js';

/** Two buyers: one paid order (2 of p1, 1 receipt, 1 hand-off), one cancelled and voided. */
function soundHistory(): History {
  return {
    stockIn: { p1: 5 },
    products: [{ _id: 'p1', stock: 3, reservations: [] }],
    orders: [
      {
        _id: 'o1',
        checkoutId: 'c1',
        status: 'paid',
        total: 2_000,
        companyIds: ['co1'],
        items: [{ productId: 'p1', quantity: 2 }],
        paymentId: 'pay1',
        history: [{ to: 'awaiting_payment' }, { to: 'paid' }],
      },
      {
        _id: 'o2',
        checkoutId: 'c2',
        status: 'cancelled',
        total: 1_000,
        companyIds: ['co1'],
        items: [{ productId: 'p1', quantity: 1 }],
        history: [{ to: 'awaiting_payment' }, { to: 'cancelled' }],
      },
    ],
    payments: [
      {
        _id: 'pay1',
        authorizationKey: 'k1',
        orderId: 'o1',
        status: 'captured',
        amount: 2_000,
        captured: 2_000,
        refunded: 0,
      },
      {
        _id: 'pay2',
        authorizationKey: 'k2',
        orderId: 'o2',
        status: 'voided',
        amount: 1_000,
        captured: 0,
        refunded: 0,
      },
    ],
    ledger: [
      { _id: 'k1', status: 'captured', captured: 2_000, refunds: [] },
      { _id: 'k2', status: 'voided', captured: 0, refunds: [] },
    ],
    checkouts: [
      { _id: 'c1', step: 'completed' },
      { _id: 'c2', step: 'compensated' },
    ],
    carts: [
      { _id: 'b1', lock: null },
      { _id: 'b2', lock: null },
    ],
    requests: [{ collection: 'checkout_requests', _id: 'b1:k', state: 'done' }],
    shipments: [{ orderId: 'o1', companyId: 'co1' }],
    mailSubjects: ['Your order o1', 'Receipt for order o1', 'Ship order o1'],
    deadLetters: { 'order_paid.dlq': 0 },
  };
}

test('a sound history has no violations', () => {
  expect(violations(soundHistory())).toEqual([]);
});

test('a capture returned in full on an order cancelled meanwhile is sound', () => {
  const history = soundHistory();
  Object.assign(history.payments[1]!, { status: 'refunded', captured: 1_000, refunded: 1_000 });
  Object.assign(history.ledger[1]!, {
    status: 'captured',
    captured: 1_000,
    refunds: [{ amount: 1_000 }],
  });
  expect(violations(history)).toEqual([]);
});

test.each<[string, (h: History) => void, RegExp]>([
  ['stock lost', (h) => void (h.products[0]!.stock = 2), /stock of p1 is not conserved/],
  [
    'a reservation left',
    (h) => void (h.products[0]!.reservations = [{ id: 'c9', quantity: 1 }]),
    /still holds 1 reserved/,
  ],
  [
    'a capture on a cancelled order',
    (h) => Object.assign(h.payments[1]!, { status: 'captured', captured: 1_000 }),
    /payment pay2 captured 1000 for order o2, which is cancelled/,
  ],
  [
    'two captures for one order',
    (h) => void h.payments.push({ ...h.payments[0]!, _id: 'pay3', authorizationKey: 'k3' }),
    /order o1 has 2 captured payments/,
  ],
  [
    'a paid order without its payment',
    (h) => void (h.payments[0]!.status = 'authorized'),
    /order o1 is paid without a payment/,
  ],
  [
    'an open authorization',
    (h) => void (h.ledger[1]!.status = 'authorized'),
    /authorization stays open at the provider \(k2\)/,
  ],
  [
    'a capture we did not record',
    (h) => void (h.payments[0]!.captured = 0),
    /the provider captured 2000 for k1/,
  ],
  [
    'an unsettled checkout',
    (h) => void (h.checkouts[0]!.step = 'authorized'),
    /checkout c1 never settled/,
  ],
  [
    'an order left open',
    (h) => void (h.orders[1]!.status = 'awaiting_payment'),
    /order o2 stays awaiting_payment/,
  ],
  [
    'a locked cart',
    (h) => void (h.carts[0]!.lock = { checkoutId: 'c1' }),
    /cart of b1 stays locked/,
  ],
  [
    'a key in flight',
    (h) => void (h.requests[0]!.state = 'in_flight'),
    /key b1:k \(checkout_requests\) stays in flight/,
  ],
  [
    'a dead letter',
    (h) => void (h.deadLetters['order_paid.dlq'] = 2),
    /2 messages dead-lettered in order_paid.dlq/,
  ],
  ['no hand-off', (h) => void (h.shipments = []), /paid order o1 gave 0 hand-offs to co1/],
  [
    'two receipts',
    (h) => void h.mailSubjects.push('Receipt for order o1'),
    /paid order o1 gave 2 receipt emails/,
  ],
  [
    'a confirmation for an unpaid order',
    (h) => void h.mailSubjects.push('Your order o2'),
    /confirmation went out for o2/,
  ],
])('names %s', (_what, breakIt, expected) => {
  const history = soundHistory();
  breakIt(history);
  const found = violations(history);
  expect(found).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
});

// Which event becomes which email, for whom (pure).
import { compose, money, recipientOf } from '../src/messages.js';

const event = (type: string, data: unknown) => ({ id: 'e1', type, occurredAt: '', data });

test('recipients: an address, a buyer by id, a company; none for an event that does not say', () => {
  expect(recipientOf(event('user.registered', { email: 'a@x.io', name: 'A' }))).toEqual({
    kind: 'address',
    email: 'a@x.io',
    name: 'A',
  });
  expect(recipientOf(event('payment.receipt', { buyerId: 'usr_1' }))).toEqual({
    kind: 'user',
    userId: 'usr_1',
  });
  expect(recipientOf(event('inventory.low_stock', { companyId: 'co_1' }))).toEqual({
    kind: 'company',
    companyId: 'co_1',
  });
  expect(recipientOf(event('order.confirmation', { buyerId: 42 }))).toBeUndefined();
  expect(recipientOf(event('order.confirmation', undefined))).toBeUndefined();
});

test('amounts in minor units read as money', () => {
  expect(money(7_400, 'EUR')).toBe('74.00 EUR');
  expect(money(5, 'EUR')).toBe('0.05 EUR');
});

test('an order confirmation lists every line and the total', () => {
  const mail = compose(
    event('order.confirmation', {
      orderId: 'ord_1',
      total: 5_800,
      currency: 'EUR',
      items: [
        { name: 'Kettle', quantity: 2, lineTotal: 5_000 },
        { name: 'Mug', quantity: 1, lineTotal: 800 },
      ],
    }),
    'b@x.io',
    'Shop',
  );
  expect(mail).toEqual({
    to: 'b@x.io',
    subject: 'Your order ord_1',
    text: 'Thank you for your order ord_1:\n\n  2 x Kettle: 50.00 EUR\n  1 x Mug: 8.00 EUR\n\nTotal: 58.00 EUR\n',
  });
});

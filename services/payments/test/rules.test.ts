// The pure rules of payments: which status may follow which, the Luhn check, the card's
// brand and its expiry.
import { Problem } from '@gorten/kit';
import { assertMove, canMove } from '../src/lifecycle.js';
import { cardBrand, cardExpired, luhnValid } from '../src/provider.js';
import { TEST_CARDS } from '../src/simulated-provider.js';
import { PAYMENT_STATUSES, type PaymentStatus } from '../src/store.js';

describe('the payment lifecycle', () => {
  const LEGAL: Record<PaymentStatus, PaymentStatus[]> = {
    authorizing: ['authorized', 'declined', 'voided'],
    authorized: ['captured', 'voided'],
    declined: [],
    captured: ['partially_refunded', 'refunded'],
    voided: [],
    partially_refunded: ['partially_refunded', 'refunded'],
    refunded: [],
  };
  const pairs = PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.map((to) => [from, to]));

  test.each(pairs)('%s → %s', (from, to) => {
    const legal = LEGAL[from].includes(to);
    expect(canMove(from, to)).toBe(legal);
    if (legal) {
      expect(() => assertMove(from, to)).not.toThrow();
      return;
    }
    let thrown: unknown;
    try {
      assertMove(from, to);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Problem);
    expect((thrown as Problem).status).toBe(409);
    expect((thrown as Problem).extensions).toEqual({ from, to });
  });

  test('money moves only forward: nothing captured is voided, nothing refunded is captured', () => {
    expect(canMove('captured', 'voided')).toBe(false);
    expect(canMove('refunded', 'captured')).toBe(false);
    expect(canMove('declined', 'authorized')).toBe(false);
    expect(canMove('authorizing', 'captured')).toBe(false);
  });
});

describe('luhnValid', () => {
  test.each([
    ...Object.values(TEST_CARDS),
    '5555555555554444',
    '378282246310005',
    '6011111111111117',
    '2223003122003222',
  ])('%s is a valid number', (number) => {
    expect(luhnValid(number)).toBe(true);
  });

  test.each([
    ['one digit off', '4242424242424241'],
    ['two digits swapped', '4242424242424224'],
    ['shorter than 12 digits, though its checksum holds', '79927398713'],
    ['empty', ''],
    ['with separators', '4242-4242-4242-4242'],
    ['with letters', '42424242424242a2'],
  ])('refuses a number %s', (_why, number) => {
    expect(luhnValid(number)).toBe(false);
  });
});

describe('cardBrand', () => {
  test.each([
    ['4242424242424242', 'visa'],
    ['4000000000000002', 'visa'],
    ['5105105105105100', 'mastercard'],
    ['5555555555554444', 'mastercard'],
    ['2221000000000009', 'mastercard'],
    ['2223003122003222', 'mastercard'],
    ['2720990000000007', 'mastercard'],
    ['378282246310005', 'amex'],
    ['341111111111111', 'amex'],
    ['6011111111111117', 'card'],
    ['5000000000000009', 'card'],
    ['5600000000000003', 'card'],
    // 2200–2204 is Mir, and 2721 on is no Mastercard: only 2221–2720 are.
    ['2200000000000004', 'card'],
    ['2220990000000000', 'card'],
    ['2721000000000004', 'card'],
    ['3530111333300000', 'card'],
  ])('%s is %s', (number, brand) => {
    expect(cardBrand(number)).toBe(brand);
  });
});

describe('cardExpired', () => {
  const now = new Date('2027-03-31T23:59:59Z');
  test.each([
    [3, 2027, false, 'the expiry month itself is good to its last day'],
    [4, 2027, false, 'next month'],
    [1, 2028, false, 'next year, an earlier month'],
    [2, 2027, true, 'last month'],
    [12, 2026, true, 'last year'],
  ])('%i/%i: expired %s (%s)', (month, year, expired) => {
    expect(cardExpired(month, year, now)).toBe(expired);
  });

  test('counts in UTC: the first of the month is a new month everywhere', () => {
    expect(cardExpired(3, 2027, new Date('2027-04-01T00:00:00Z'))).toBe(true);
  });
});

// The order state machine: every move it allows, and the 409 for every other.
import { Problem } from '@gorten/kit';
import { allowedNext, assertTransition, hasBeenPaid } from '../src/lifecycle.js';
import { ORDER_STATUSES, type OrderStatus } from '../src/store.js';

const LEGAL: [OrderStatus, OrderStatus[]][] = [
  ['pending', ['awaiting_payment', 'cancelled']],
  ['awaiting_payment', ['paid', 'cancelled']],
  ['paid', ['fulfilled', 'refunded']],
  ['fulfilled', ['delivered', 'refunded']],
  ['delivered', ['refunded']],
  ['cancelled', []],
  ['refunded', []],
];

test.each(LEGAL)('%s may become %j', (from, to) => {
  expect([...allowedNext(from)].sort()).toEqual([...to].sort());
  for (const next of to) expect(() => assertTransition(from, next)).not.toThrow();
});

const illegal = LEGAL.flatMap(([from, to]) =>
  ORDER_STATUSES.filter((s) => !to.includes(s)).map((s) => [from, s] as const),
);

test.each(illegal)('%s → %s is a 409 naming from, to and what is allowed', (from, to) => {
  let thrown: unknown;
  try {
    assertTransition(from, to);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(Problem);
  const problem = thrown as Problem;
  expect(problem.status).toBe(409);
  expect(problem.extensions).toEqual({ from, to, allowed: allowedNext(from) });
  expect(problem.detail).toContain(`${from} cannot become ${to}`);
});

test('a final status says so; others say what they can become', () => {
  expect(() => assertTransition('refunded', 'paid')).toThrow(/it is final/);
  expect(() => assertTransition('paid', 'cancelled')).toThrow(/can become fulfilled or refunded/);
});

test('no status may stay where it is through a move, and the order is paid before fulfilled', () => {
  for (const status of ORDER_STATUSES) expect(allowedNext(status)).not.toContain(status);
  expect(allowedNext('awaiting_payment')).not.toContain('fulfilled');
  expect(allowedNext('pending')).not.toContain('paid');
});

test('an order has been paid once it is paid, and whatever follows that', () => {
  expect(ORDER_STATUSES.filter(hasBeenPaid).sort()).toEqual(
    ['delivered', 'fulfilled', 'paid', 'refunded'].sort(),
  );
});

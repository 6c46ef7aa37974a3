// The saga's step table and its compensation, without I/O: which steps a run at each
// step undoes and in which order, and compensate() walking them against collections that
// only record what is asked of them.
import { createLogger, noCache, type Outbox } from '@gorten/kit';
import type { CartModule } from '@gorten/carts/carts';
import type { StockModule } from '@gorten/catalog/stock';
import type { OrderModule } from '@gorten/orders/orders';
import type { PaymentModule } from '@gorten/payments/payments';
import type { Collection, Document } from 'mongodb';
import type { CheckoutEnv } from '../src/config.js';
import { compensate, reachedFrom, SAGA_STEPS, stepsToUndo, type SagaDeps } from '../src/saga.js';
import { CHECKOUT_STEPS, type CheckoutDoc, type CheckoutStep } from '../src/store.js';

const undone = (step: CheckoutStep) => stepsToUndo(step).map((s) => s.done);

test('the table passes its steps in the order of CHECKOUT_STEPS, up to the authorization', () => {
  const passed = SAGA_STEPS.flatMap((s) => (s.intent ? [s.intent, s.done] : [s.done]));
  expect(passed).toEqual(CHECKOUT_STEPS.slice(1, CHECKOUT_STEPS.indexOf('authorized') + 1));
});

test('the table records the authorization (its intent, the fence, and its end), carrying lock, reservation and order to it', () => {
  const recorded = SAGA_STEPS.flatMap((s) => [
    ...(s.intent ? [s.intent] : []),
    ...(s.recorded ? [s.done] : []),
  ]);
  expect(recorded).toEqual(['authorizing', 'authorized']);
});

test.each<[CheckoutStep, CheckoutStep]>([
  // Lock, reservation and order are recorded with the authorizing step: any may be done.
  ['started', 'order_created'],
  ['authorizing', 'authorizing'],
  ['authorized', 'authorized'],
  // Recorded by an earlier version, which recorded each step: no further.
  ['cart_locked', 'cart_locked'],
  ['reserved', 'reserved'],
  ['paid', 'paid'],
])('a run recorded at %s may have got to %s', (step, reached) => {
  expect(reachedFrom(step)).toBe(reached);
});

test.each<[CheckoutStep, CheckoutStep[]]>([
  ['started', ['cart_locked']],
  ['cart_locked', ['reserved', 'cart_locked']],
  ['reserved', ['order_created', 'reserved', 'cart_locked']],
  // The authorization has not begun until its intent is recorded: no payment to return.
  ['order_created', ['order_created', 'reserved', 'cart_locked']],
  ['authorizing', ['authorized', 'order_created', 'reserved', 'cart_locked']],
  ['authorized', ['authorized', 'order_created', 'reserved', 'cart_locked']],
])('a run at %s undoes the steps begun, the last first: %j', (step, steps) => {
  expect(undone(step)).toEqual(steps);
});

interface Answers {
  findOne?: unknown;
  find?: unknown[];
  findOneAndUpdate?: unknown;
  down?: boolean;
}

/** A collection that records each call as `<name>.<method>` and answers as told. */
function recording<T extends Document>(
  name: string,
  calls: string[],
  answers: Answers = {},
): Collection<T> {
  const answer = (method: string, value: unknown) => () => {
    calls.push(`${name}.${method}`);
    return answers.down ? Promise.reject(new Error(`${name} is down`)) : Promise.resolve(value);
  };
  return {
    namespace: `mp.${name}`,
    findOne: answer('findOne', answers.findOne ?? null),
    find: () => ({ toArray: answer('find', answers.find ?? []) }),
    findOneAndUpdate: answer('findOneAndUpdate', answers.findOneAndUpdate ?? null),
    insertOne: answer('insertOne', { acknowledged: true }),
    updateOne: answer('updateOne', { matchedCount: 1 }),
  } as unknown as Collection<T>;
}

const now = () => new Date('2026-01-01T00:00:00Z');
const run: CheckoutDoc = {
  _id: 'chk_1',
  requestId: 'usr_1:key',
  buyerId: 'usr_1',
  step: 'authorizing',
  currency: 'EUR',
  orderId: 'ord_1',
  paymentKey: 'chk_1:authorization',
  leaseUntil: now(),
  leaseHolder: 'holder',
  createdAt: now(),
  updatedAt: now(),
};
const product = {
  _id: 'prd_1',
  companyId: 'co_1',
  sku: 'SKU-1',
  name: 'Kettle',
  status: 'active',
  price: { amount: 1_000, currency: 'EUR' },
  stock: 5,
  lowStockThreshold: 0,
  version: 2,
  reservations: [{ id: 'chk_1', quantity: 1, expiresAt: now() }],
};

function sagaDeps(calls: string[], down: string[] = []): SagaDeps {
  const answers = <T extends Document>(name: string, given: Answers = {}) =>
    recording<T>(name, calls, { ...given, down: down.includes(name) });
  const outbox: Outbox = { announce: (c, id) => calls.push(`announce ${c.namespace} ${id}`) };
  const order = { _id: 'ord_1', status: 'awaiting_payment', history: [], version: 1 };
  const orders = answers('orders', {
    findOne: order,
    findOneAndUpdate: { ...order, status: 'cancelled', version: 2 },
  });
  const products = answers('products', {
    find: [{ _id: 'prd_1' }],
    findOne: product,
    findOneAndUpdate: { ...product, reservations: [] },
  });
  return {
    env: { CHECKOUT_LEASE_MS: 30_000 } as CheckoutEnv,
    store: { checkouts: answers('checkouts'), requests: answers('checkout_requests') },
    carts: { store: { carts: answers('carts'), products }, now } as unknown as CartModule,
    stock: { products, outbox, cache: noCache, now } as unknown as StockModule,
    orders: {
      store: { orders, shipments: answers('shipments') },
      outbox,
      now,
    } as unknown as OrderModule,
    // No payment under the key yet: voiding it records it voided, and asks the provider nothing.
    payments: {
      store: { payments: answers('payments') },
      provider: { name: 'none' },
      now,
    } as unknown as PaymentModule,
    log: createLogger('test', 'silent'),
    now,
  };
}

test('compensate walks the table back: payment, order, stock, cart, then records the run compensated', async () => {
  const calls: string[] = [];
  const outcome = await compensate(sagaDeps(calls), run, new Error('crash'));
  expect(outcome).toMatchObject({ settled: 'compensated', step: 'compensated' });
  expect(calls).toEqual([
    'payments.findOne',
    'payments.insertOne',
    'orders.findOne',
    'orders.findOneAndUpdate',
    'products.find',
    'products.findOne',
    'products.findOneAndUpdate',
    'products.findOne', // a pending product.updated to replace? (catalog's stock.ts)
    'products.updateOne',
    'announce mp.products prd_1',
    'carts.updateOne',
    'checkouts.updateOne',
  ]);
});

test('an undo that fails does not stop the others, and the run stays pending for recovery', async () => {
  const calls: string[] = [];
  const cause = new Error('crash');
  const outcome = await compensate(sagaDeps(calls, ['orders']), run, cause);
  expect(outcome).toEqual({ settled: 'pending', error: cause, step: 'authorizing' });
  expect(calls).toContain('carts.updateOne');
  expect(calls).not.toContain('checkouts.updateOne');
});

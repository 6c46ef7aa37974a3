// The saga run in this process against the real FerretDB, where a failure lands between
// two steps or a run is overtaken by recovery: each test runs checkouts and the recovery
// worker on a clock of its own (moved past a lease instead of waiting it out), with the
// provider or a collection failing or blocking where the test says. The service started
// here only makes the indexes and the stores; its own recovery never runs.
import { randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import { Registry } from 'prom-client';
import { DependencyMetrics, newId, requestHash, type RunningService } from '@gorten/kit';
import { startTestService, TestTenant } from '@gorten/service-testing';
import { createPaymentModule } from '@gorten/payments/module';
import { paymentIdFor } from '@gorten/payments/payments';
import type { PaymentProvider } from '@gorten/payments/provider';
import type { PaymentDoc } from '@gorten/payments/store';
import type { OrderDoc } from '@gorten/orders/store';
import type { CartDoc } from '@gorten/carts/store';
import { lockCart } from '@gorten/carts/carts';
import { reserveStock } from '@gorten/catalog/stock';
import { createOrder } from '@gorten/orders/orders';
import { checkoutService } from '../src/app.js';
import { checkout } from '../src/checkout.js';
import type { CheckoutDeps } from '../src/deps.js';
import { forgetFinished, recoverCheckouts } from '../src/recovery.js';
import type { CheckoutDoc, CheckoutStep } from '../src/store.js';
import { buyerIn, productIn } from './fixtures.js';

const LEASE_MS = 30_000;
const HOUR_MS = 3_600_000;

let tenant: TestTenant;
let service: RunningService<CheckoutDeps>;

beforeAll(async () => {
  tenant = await TestTenant.create('checkout-recovery');
  service = await startTestService(checkoutService, tenant, 'checkout', {
    CHECKOUT_LEASE_MS: String(LEASE_MS),
    // Patient, so that a call a test holds up does not time out meanwhile.
    PAYMENT_PROVIDER_TIMEOUT_MS: '10000',
    RECOVERY_INTERVAL_MS: '600000',
  });
});

afterAll(async () => {
  await service.close();
  await tenant.destroy();
});

interface Faults {
  /** The provider made of the real one (failing, blocking). */
  provider?: (real: PaymentProvider) => PaymentProvider;
  /** The checkouts collection made of the real one. */
  checkouts?: (real: Collection<CheckoutDoc>) => Collection<CheckoutDoc>;
  /** The requests' Idempotency-Keys made of the real ones. */
  requests?: (real: CheckoutDeps['requests']) => CheckoutDeps['requests'];
  /** The payments collection made of the real one. */
  payments?: (real: Collection<PaymentDoc>) => Collection<PaymentDoc>;
  /** The orders collection made of the real one. */
  orders?: (real: Collection<OrderDoc>) => Collection<OrderDoc>;
  /** The carts collection made of the real one. */
  carts?: (real: Collection<CartDoc>) => Collection<CartDoc>;
}

/**
 * The service's checkout in this process, on a clock `aheadMs` ahead of the real one (a
 * function: a clock the test moves),
 * with a payment policy of its own (its failures open no circuit of another's), and the
 * faults given.
 */
function checkoutAt(aheadMs: number | (() => number), faults: Faults = {}): CheckoutDeps {
  const ahead = typeof aheadMs === 'number' ? () => aheadMs : aheadMs;
  const now = () => new Date(Date.now() + ahead());
  const base = service.deps;
  const payments = createPaymentModule(tenant.db, base.env, new DependencyMetrics(new Registry()));
  const provider = faults.provider?.(payments.provider) ?? payments.provider;
  const checkouts = faults.checkouts?.(base.store.checkouts) ?? base.store.checkouts;
  const paymentDocs = faults.payments?.(payments.store.payments) ?? payments.store.payments;
  const orderDocs = faults.orders?.(base.orders.store.orders) ?? base.orders.store.orders;
  return {
    ...base,
    now,
    requests: faults.requests?.(base.requests) ?? base.requests,
    store: { ...base.store, checkouts },
    carts: {
      ...base.carts,
      store: {
        ...base.carts.store,
        carts: faults.carts?.(base.carts.store.carts) ?? base.carts.store.carts,
      },
      now,
    },
    stock: { ...base.stock, now },
    orders: { ...base.orders, store: { ...base.orders.store, orders: orderDocs }, now },
    payments: { ...payments, store: { ...payments.store, payments: paymentDocs }, provider, now },
  };
}

/** A faulty copy of `real`: the methods given replace its own; the rest are its. */
function faulty<T extends object>(real: T, methods: Partial<T>): T {
  return Object.assign(Object.create(real) as T, methods);
}

/** Faults with the provider's `methods` failing every time, as in an outage. */
const failing = (...methods: (keyof PaymentProvider)[]): Faults => ({
  provider: (real) =>
    faulty(
      real,
      Object.fromEntries(methods.map((m) => [m, () => Promise.reject(new Error(`${m}: down`))])),
    ),
});

/** `call`, except that the first call `when` picks fails, as a dropped connection would. */
function failsOnce<A extends unknown[], T>(
  call: (...args: A) => Promise<T>,
  when: (...args: A) => boolean = () => true,
): (...args: A) => Promise<T> {
  let failed = false;
  return (...args) => {
    if (failed || !when(...args)) return call(...args);
    failed = true;
    return Promise.reject(new Error('connection lost'));
  };
}

/** A latch: the first call made through `hold` waits for `release()`; `reached` says it came. */
function latch() {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrive = () => {};
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  let first = true;
  const hold =
    <A extends unknown[], T>(call: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      if (first) {
        first = false;
        arrive();
        await released;
      }
      return call(...args);
    };
  return { hold, reached, release: () => release() };
}

/** Faults with the write that records `step` failing once (a run's first record is its insert). */
const failingToRecord = (step: CheckoutStep): Faults => ({
  checkouts: (real) =>
    faulty(real, {
      insertOne: failsOnce(real.insertOne.bind(real), (doc) => doc.step === step),
      updateOne: failsOnce(
        real.updateOne.bind(real),
        (_filter, update) => (update as { $set?: { step?: string } }).$set?.step === step,
      ),
    }),
});

/** What the request answered: its status (thrown Problems included). */
async function statusOf(answer: Promise<{ status: number }>): Promise<number> {
  try {
    return (await answer).status;
  } catch (err) {
    return (err as { status?: number }).status ?? 500;
  }
}

const checkouts = () =>
  tenant.db.collection<{ _id: string; buyerId: string; step: string }>('checkouts');
const orders = () =>
  tenant.db.collection<{ _id: string; buyerId: string; checkoutId: string; status: string }>(
    'orders',
  );
const payments = () =>
  tenant.db.collection<{ _id: string; buyerId: string; status: string }>('payments');
const ledger = () =>
  tenant.db.collection<{ _id: string; status: string }>('simulated_provider_ledger');

describe('the cart a checkout locked', () => {
  test('stays locked until its run settles, however long that takes: no second checkout buys it', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 2 });
    // Run A is authorized, then its capture keeps failing: the run is not settled.
    const first = checkout(checkoutAt(0, failing('capture')), buyer.id, randomUUID(), {
      paymentMethod: buyer.paymentMethod,
    });
    expect(await statusOf(first)).toBe(503);
    expect((await checkouts().findOne({ buyerId: buyer.id }))?.step).toBe('authorized');

    // Long after, past any lease and lock A was given, the buyer sends another key.
    const later = checkoutAt(3 * LEASE_MS);
    expect(
      await statusOf(
        checkout(later, buyer.id, randomUUID(), { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(409);

    // Recovery then finishes A: one order paid, one payment captured, the cart empty.
    expect(await recoverCheckouts(later)).toBeGreaterThanOrEqual(1);
    expect(await orders().countDocuments({ buyerId: buyer.id, status: 'paid' })).toBe(1);
    expect(await payments().countDocuments({ buyerId: buyer.id, status: 'captured' })).toBe(1);
    expect(
      (await tenant.db.collection('carts').findOne({ _id: buyer.id as never }))?.items,
    ).toEqual([]);
  });
});

const requests = () => service.deps.store.requests;

/** A run of `requestId` that holds its lease for years: recovery leaves it alone. */
async function anotherRunAtWork(requestId: string, buyerId: string): Promise<string> {
  const id = newId('chk');
  const now = new Date();
  await service.deps.store.checkouts.insertOne({
    _id: id,
    requestId,
    buyerId,
    step: 'cart_locked',
    currency: 'EUR',
    paymentKey: `${id}:authorization`,
    leaseUntil: new Date(now.getTime() + 10 * 365 * 24 * HOUR_MS),
    leaseHolder: randomUUID(),
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

describe('the key of a run recovery settles', () => {
  test('stays in flight while undoing the run keeps failing, and is freed once it succeeds', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 1 });
    const key = randomUUID();
    // The provider is down: the authorization's outcome is unknown, and voiding it fails.
    const down = failing('authorize', 'void');
    expect(
      await statusOf(
        checkout(checkoutAt(0, down), buyer.id, key, { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(503);
    const request = { _id: `${buyer.id}:${key}` };
    expect(await requests().findOne(request)).toMatchObject({ state: 'in_flight' });

    await recoverCheckouts(checkoutAt(2 * LEASE_MS, down));
    expect((await checkouts().findOne({ buyerId: buyer.id }))?.step).toBe('authorizing');
    expect(await requests().findOne(request)).toMatchObject({ state: 'in_flight' });

    // The provider is back: the run is undone, and now the same request may run again.
    await recoverCheckouts(checkoutAt(HOUR_MS));
    expect((await checkouts().findOne({ buyerId: buyer.id }))?.step).toBe('compensated');
    expect(await requests().findOne(request)).toBeNull();
  });

  test.each([
    ['completes', failing('capture'), 'completed'],
    ['is undone', failing('authorize', 'void'), 'compensated'],
  ])(
    'a run that %s leaves alone the claim another run made of its key since',
    async (_how, down, end) => {
      const item = await productIn(tenant, 5);
      const buyer = await buyerIn(tenant, { [item]: 1 });
      const key = randomUUID();
      expect(
        await statusOf(
          checkout(checkoutAt(0, down), buyer.id, key, { paymentMethod: buyer.paymentMethod }),
        ),
      ).toBe(503);
      // The key now belongs to another run, still at work (as after a takeover of a claim).
      const request = { _id: `${buyer.id}:${key}` };
      const now = new Date();
      const other = await anotherRunAtWork(request._id, buyer.id);
      const claim = { requestHash: 'other', state: 'in_flight' as const, runId: other };
      await requests().replaceOne(request, { ...claim, createdAt: now, updatedAt: now });

      await recoverCheckouts(checkoutAt(HOUR_MS));
      expect((await checkouts().findOne({ _id: { $ne: other }, buyerId: buyer.id }))?.step).toBe(
        end,
      );
      expect(await requests().findOne(request)).toMatchObject(claim);
    },
  );
});

describe('a checkout refused before its run began', () => {
  const lockOf = async (buyerId: string): Promise<CartDoc['lock'] | undefined> =>
    (await tenant.db.collection<CartDoc>('carts').findOne({ _id: buyerId }))?.lock;

  test('gives back the cart it locked: out of stock, or a payment method not the buyer’s', async () => {
    const scarce = await productIn(tenant, 1);
    const buyer = await buyerIn(tenant, { [scarce]: 2 });
    expect(
      await statusOf(
        checkout(checkoutAt(0), buyer.id, randomUUID(), { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(409);
    expect(await lockOf(buyer.id)).toBeNull();
    const other = await buyerIn(tenant, { [await productIn(tenant, 5)]: 1 });
    expect(
      await statusOf(
        checkout(checkoutAt(0), other.id, randomUUID(), { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(422);
    expect(await lockOf(other.id)).toBeNull();
    expect(await checkouts().countDocuments({ buyerId: { $in: [buyer.id, other.id] } })).toBe(0);
  });

  test('whose lock landed but its answer was lost: the cart is given back, the key freed', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 1 });
    const key = randomUUID();
    const deps = checkoutAt(0, {
      carts: (real) =>
        faulty(real, {
          // The lock is written; its answer never comes back (a connection cut after it).
          findOneAndUpdate: async (...args: Parameters<typeof real.findOneAndUpdate>) => {
            await real.findOneAndUpdate(...args);
            throw new Error('connection lost');
          },
        }),
    });
    expect(
      await statusOf(checkout(deps, buyer.id, key, { paymentMethod: buyer.paymentMethod })),
    ).toBe(500);
    expect(await lockOf(buyer.id)).toBeNull();
    expect(await requests().findOne({ _id: `${buyer.id}:${key}` })).toBeNull();
    // The same request, sent again, goes through.
    expect(
      await statusOf(
        checkout(checkoutAt(0), buyer.id, key, { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(201);
  });

  test('whose unlock fails: the run goes on record, its key stays in flight, and recovery unlocks the cart', async () => {
    const scarce = await productIn(tenant, 1);
    const buyer = await buyerIn(tenant, { [scarce]: 2 });
    const key = randomUUID();
    const deps = checkoutAt(0, {
      carts: (real) =>
        faulty(real, {
          updateOne: () => Promise.reject(new Error('connection lost')),
        }),
    });
    expect(
      await statusOf(checkout(deps, buyer.id, key, { paymentMethod: buyer.paymentMethod })),
    ).toBe(503);
    expect(await checkouts().findOne({ buyerId: buyer.id })).toMatchObject({ step: 'started' });
    expect(await requests().findOne({ _id: `${buyer.id}:${key}` })).toMatchObject({
      state: 'in_flight',
    });
    expect(await lockOf(buyer.id)).not.toBeNull();

    await recoverCheckouts(checkoutAt(2 * LEASE_MS));
    expect(await checkouts().findOne({ buyerId: buyer.id })).toMatchObject({ step: 'compensated' });
    expect(await lockOf(buyer.id)).toBeNull();
    expect(await requests().findOne({ _id: `${buyer.id}:${key}` })).toBeNull();
  });
});

describe('a failure between two steps', () => {
  test('after the order is made and before it is recorded: the order is cancelled with the run', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 1 });
    // The order goes on record with the authorizing step, the fence before the provider.
    const deps = checkoutAt(0, failingToRecord('authorizing'));
    expect(
      await statusOf(
        checkout(deps, buyer.id, randomUUID(), { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(500);
    const run = await checkouts().findOne({ buyerId: buyer.id });
    expect(run?.step).toBe('compensated');
    expect(await orders().findOne({ checkoutId: run?._id })).toMatchObject({ status: 'cancelled' });
    expect(await payments().countDocuments({ buyerId: buyer.id })).toBe(0);
  });
});

describe('a key whose request stopped', () => {
  test('before its run began: once stale, the key is taken over, and that run can never begin', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 1 });
    const key = randomUUID();
    // What a process that died between claiming the key and recording its run left.
    const neverBegun = newId('chk');
    const longAgo = new Date(Date.now() - 2 * LEASE_MS);
    const hash = requestHash(tenant.idempotencyHmacKey, { paymentMethod: buyer.paymentMethod });
    await service.deps.requests.claim(`${buyer.id}:${key}`, hash, neverBegun, longAgo);
    expect(
      await statusOf(
        checkout(checkoutAt(0), buyer.id, key, { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(201);
    expect(await checkouts().findOne({ _id: neverBegun })).toMatchObject({ step: 'compensated' });
  });

  test('after it locked the cart, reserved and made the order, before its run was recorded: once stale, all is undone and the key is freed', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 2 });
    const key = randomUUID();
    const requestId = `${buyer.id}:${key}`;
    // What a process that died between its order and its run's first record left: the
    // claim, the lock, the reservation and the order, all under the claim's run id.
    const died = newId('chk');
    const longAgo = new Date(Date.now() - 2 * LEASE_MS);
    const hash = requestHash(tenant.idempotencyHmacKey, { paymentMethod: buyer.paymentMethod });
    await service.deps.requests.claim(requestId, hash, died, longAgo);
    const deps = service.deps;
    expect(await lockCart(deps.carts, buyer.id, died)).toHaveLength(1);
    const expiresAt = new Date(Date.now() + HOUR_MS);
    expect(await reserveStock(deps.stock, item, 2, died, expiresAt)).toBe('reserved');
    await createOrder(deps.orders, {
      checkoutId: died,
      buyerId: buyer.id,
      items: [],
      currency: 'EUR',
      awaitingPayment: true,
    });

    await recoverCheckouts(checkoutAt(0));
    expect(await checkouts().findOne({ _id: died })).toMatchObject({ step: 'compensated' });
    expect(await orders().findOne({ checkoutId: died })).toMatchObject({ status: 'cancelled' });
    expect(await tenant.db.collection('products').findOne({ _id: item as never })).toMatchObject({
      stock: 5,
      reservations: [],
    });
    expect(await requests().findOne({ _id: requestId })).toBeNull();
    // The cart is the buyer's again: the same request now succeeds.
    expect(
      await statusOf(
        checkout(checkoutAt(0), buyer.id, key, { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(201);
  });

  test('after its run completed, before its answer was stored: recovery stores it', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 1 });
    const key = randomUUID();
    const deps = checkoutAt(0, {
      requests: (real) => faulty(real, { finish: failsOnce(real.finish.bind(real)) }),
    });
    expect(
      await statusOf(checkout(deps, buyer.id, key, { paymentMethod: buyer.paymentMethod })),
    ).toBe(503);
    expect((await checkouts().findOne({ buyerId: buyer.id }))?.step).toBe('completed');

    await recoverCheckouts(checkoutAt(2 * LEASE_MS));
    const order = await orders().findOne({ buyerId: buyer.id });
    expect(await requests().findOne({ _id: `${buyer.id}:${key}` })).toMatchObject({
      state: 'done',
      result: { status: 201, body: { orderId: order?._id } },
    });
    const replay = await checkout(checkoutAt(0), buyer.id, key, {
      paymentMethod: buyer.paymentMethod,
    });
    expect(replay).toMatchObject({ status: 201, body: { orderId: order?._id } });
  });
});

describe('a run that lost its lease to recovery, and goes on', () => {
  /**
   * A checkout held up at `gate` (by a call of its own the faults block), overtaken
   * meanwhile by recovery, which undoes the run, and then let go: what it answered.
   */
  async function overtaken(gate: ReturnType<typeof latch>, faults: Faults) {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 1 });
    const deps = checkoutAt(0, faults);
    const answer = statusOf(
      checkout(deps, buyer.id, randomUUID(), { paymentMethod: buyer.paymentMethod }),
    );
    await gate.reached;
    await recoverCheckouts(checkoutAt(2 * LEASE_MS));
    const run = await checkouts().findOne({ buyerId: buyer.id });
    expect(run?.step).toBe('compensated');
    gate.release();
    expect(await answer).toBe(503);
    const paymentKey = `${run?._id ?? ''}:authorization`;
    return {
      item,
      run,
      payment: await payments().findOne({ _id: paymentIdFor(paymentKey) }),
      atProvider: await ledger().findOne({ _id: paymentKey }),
    };
  }

  test('held up before it asks the provider: it never authorizes what recovery voided', async () => {
    const gate = latch();
    // Held as it records the payment, after its fence: recovery voids the key first.
    const { payment, atProvider } = await overtaken(gate, {
      payments: (real) =>
        faulty(real, {
          insertOne: gate.hold(real.insertOne.bind(real)),
        }),
    });
    expect(payment?.status).toBe('voided');
    expect(atProvider).toBeNull();
  });

  test('held up while the provider authorizes: the authorization that lands late is voided', async () => {
    const gate = latch();
    const { payment, atProvider } = await overtaken(gate, {
      provider: (real) => faulty(real, { authorize: gate.hold(real.authorize.bind(real)) }),
    });
    expect(payment?.status).toBe('voided');
    expect(atProvider?.status).toBe('voided');
  });

  test('held up while it makes the order: the order made late is cancelled', async () => {
    const gate = latch();
    const { run, item } = await overtaken(gate, {
      orders: (real) => faulty(real, { insertOne: gate.hold(real.insertOne.bind(real)) }),
    });
    expect(await orders().findOne({ checkoutId: run?._id })).toMatchObject({ status: 'cancelled' });
    expect(await tenant.db.collection('products').findOne({ _id: item as never })).toMatchObject({
      stock: 5,
      reservations: [],
    });
  });
});

describe('a run whose recovery keeps failing', () => {
  test('is tried again after a wait that grows with each failure', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 1 });
    const down = failing('authorize', 'void');
    expect(
      await statusOf(
        checkout(checkoutAt(0, down), buyer.id, randomUUID(), {
          paymentMethod: buyer.paymentMethod,
        }),
      ),
    ).toBe(503);
    const waits: number[] = [];
    let aheadMs = 2 * LEASE_MS;
    for (let round = 0; round < 3; round++) {
      const deps = checkoutAt(aheadMs, down);
      const now = deps.now().getTime();
      expect(await recoverCheckouts(deps)).toBe(0);
      const run = await service.deps.store.checkouts.findOne({ buyerId: buyer.id });
      waits.push((run?.leaseUntil.getTime() ?? 0) - now);
      aheadMs += waits.at(-1)! + 1_000; // just past it
    }
    expect(waits[1]).toBeGreaterThan(waits[0]!);
    expect(waits[2]).toBeGreaterThan(waits[1]!);
    // Once the provider is back, the run is undone.
    await recoverCheckouts(checkoutAt(aheadMs));
    expect((await checkouts().findOne({ buyerId: buyer.id }))?.step).toBe('compensated');
  });
});

describe('a round of recovery that takes long', () => {
  test('gives each run it takes over a whole lease from then, not from when the round began', async () => {
    const buyers = [];
    for (let i = 0; i < 2; i++) {
      const item = await productIn(tenant, 5);
      const buyer = await buyerIn(tenant, { [item]: 1 });
      const deps = checkoutAt(0, failing('capture'));
      expect(
        await statusOf(
          checkout(deps, buyer.id, randomUUID(), { paymentMethod: buyer.paymentMethod }),
        ),
      ).toBe(503);
      buyers.push(buyer);
    }
    // Each capture of the round waits at a gate of its own.
    const gates = [latch(), latch()];
    let captures = 0;
    let aheadMs = 2 * LEASE_MS;
    const deps = checkoutAt(() => aheadMs, {
      provider: (real) =>
        faulty(real, {
          capture: (...args) => {
            const gate = gates[captures++];
            const capture = real.capture.bind(real);
            return gate ? gate.hold(capture)(...args) : capture(...args);
          },
        }),
    });
    const round = recoverCheckouts(deps);
    await gates[0]!.reached;
    aheadMs += 2 * LEASE_MS; // the first run takes long
    gates[0]!.release();
    await gates[1]!.reached;
    // The second run, taken over just now, holds a lease into the future.
    const second = await service.deps.store.checkouts
      .find({ buyerId: { $in: buyers.map((b) => b.id) }, step: 'authorized' })
      .toArray();
    expect(second).toHaveLength(1);
    expect(second[0]!.leaseUntil.getTime()).toBeGreaterThan(deps.now().getTime());
    gates[1]!.release();
    expect(await round).toBe(2);
  });
});

// Last: it moves the clock past every retention, which forgets the other tests' runs.
describe('records past their retention', () => {
  test('finished checkouts and answered keys are forgotten; unfinished runs and keys in flight stay', async () => {
    const item = await productIn(tenant, 5);
    const buyer = await buyerIn(tenant, { [item]: 1 });
    const key = randomUUID();
    expect(
      await statusOf(
        checkout(checkoutAt(0), buyer.id, key, { paymentMethod: buyer.paymentMethod }),
      ),
    ).toBe(201);
    const other = randomUUID();
    const atWork = await anotherRunAtWork(`${buyer.id}:${other}`, buyer.id);
    await service.deps.requests.claim(`${buyer.id}:${other}`, 'h', atWork, new Date());

    const env = service.deps.env;
    const later = Math.max(env.CHECKOUT_RETENTION_MS, env.IDEMPOTENCY_RETENTION_MS) + HOUR_MS;
    await forgetFinished(checkoutAt(later));
    expect(await checkouts().find({ buyerId: buyer.id }).toArray()).toEqual([
      expect.objectContaining({ _id: atWork }),
    ]);
    expect(await requests().findOne({ _id: `${buyer.id}:${key}` })).toBeNull();
    expect(await requests().findOne({ _id: `${buyer.id}:${other}` })).toMatchObject({
      state: 'in_flight',
    });
  });
});

// Orders over HTTP on port 0, against the real FerretDB and RabbitMQ: who sees which
// order (and how much of it), moving orders along, refunds through the payment provider
// (idempotent per key), and the order_created / order_paid consumers. Orders are made
// the way checkout makes them — createOrder and transitionOrder of src/orders.ts — and
// payments through the payment operations checkout uses.
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { Registry } from 'prom-client';
import {
  DependencyMetrics,
  newId,
  requestHash,
  type EventEnvelope,
  type RunningService,
} from '@gorten/kit';
import { createPaymentModule } from '@gorten/payments/module';
import {
  authorizePayment,
  capturePayment,
  createPaymentMethod,
  type PaymentModule,
} from '@gorten/payments/payments';
import type { PaymentDoc } from '@gorten/payments/store';
import {
  client,
  expectOpenApiUpToDate,
  forgedTokens,
  startTestService,
  TestTenant,
  type Call,
} from '@gorten/service-testing';
import { eventually, tcpCable } from '@gorten/testenv';
import { ordersService } from '../src/app.js';
import type { OrdersDeps } from '../src/deps.js';
import {
  createOrder,
  createOrderModule,
  transitionOrder,
  type OrderEvent,
  type OrderModule,
} from '../src/orders.js';
import type { Order } from '../src/schemas.js';
import type { OrderDoc, OrderItem, OrderStatus } from '../src/store.js';

let tenant: TestTenant;
let service: RunningService<OrdersDeps>;
let call: Call;
let orderModule: OrderModule;
let payments: PaymentModule;

const companyId = () => `co_${randomBytes(12).toString('hex')}`;
const [coA, coB, coC] = [companyId(), companyId(), companyId()];
const CARD = { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' };
const PROVIDER = { PAYMENT_PROVIDER_TIMEOUT_MS: 3_000, SIMULATED_PROVIDER_DELAY_MS: 0 };

beforeAll(async () => {
  tenant = await TestTenant.create('orders');
  service = await startTestService(ordersService, tenant, 'orders', {
    PAYMENT_PROVIDER: 'simulated',
    PAYMENT_PROVIDER_TIMEOUT_MS: String(PROVIDER.PAYMENT_PROVIDER_TIMEOUT_MS),
    SIMULATED_PROVIDER_DELAY_MS: String(PROVIDER.SIMULATED_PROVIDER_DELAY_MS),
  });
  call = client(service.url);
  orderModule = createOrderModule(tenant.db, service.deps.outbox);
  payments = createPaymentModule(
    tenant.db,
    { PAYMENT_PROVIDER: 'simulated', ...PROVIDER },
    new DependencyMetrics(new Registry()),
  );
});

afterAll(async () => {
  await service.close();
  await tenant.destroy();
});

const admin = () => tenant.token({ sub: 'usr_admin', roles: ['admin'] });
const sellerOf = (company: string) =>
  tenant.token({ sub: newId('usr'), roles: ['seller'], company });

function buyer(): { id: string; token: string } {
  const id = newId('usr');
  return { id, token: tenant.token({ sub: id, roles: ['buyer'] }) };
}

/** A line: the company selling it, the unit price, the quantity. */
type Line = [company: string, unitPrice: number, quantity: number];

function items(lines: Line[]): OrderItem[] {
  return lines.map(([company, unitPrice, quantity]) => {
    const productId = newId('prd');
    return {
      productId,
      companyId: company,
      sku: `SKU-${productId.slice(-6)}`,
      name: `Product ${productId.slice(-4)}`,
      unitPrice,
      quantity,
      lineTotal: unitPrice * quantity,
    };
  });
}

const PATH: OrderStatus[] = ['pending', 'awaiting_payment', 'paid', 'fulfilled', 'delivered'];

/** An order as checkout makes it, moved along the happy path up to `status`. */
async function seedOrder(
  buyerId: string,
  lines: Line[],
  status: OrderStatus = 'awaiting_payment',
): Promise<OrderDoc> {
  let order = await createOrder(orderModule, {
    checkoutId: newId('chk'),
    buyerId,
    items: items(lines),
    currency: 'EUR',
  });
  const steps =
    status === 'cancelled' ? ['cancelled' as const] : PATH.slice(1, PATH.indexOf(status) + 1);
  for (const to of steps) order = await transitionOrder(orderModule, order._id, to);
  return order;
}

/** An order paid with a captured payment, as a completed checkout leaves it. */
async function paidOrder(
  buyerId: string,
  lines: Line[],
): Promise<{ order: OrderDoc; payment: PaymentDoc }> {
  const order = await seedOrder(buyerId, lines, 'awaiting_payment');
  const authorized = await authorizePayment(payments, {
    key: randomUUID(),
    merchantReference: order.checkoutId,
    orderId: order._id,
    buyerId,
    amount: order.total,
    currency: 'EUR',
    paymentMethod: (await createPaymentMethod(payments, buyerId, CARD)).id,
  });
  const payment = await capturePayment(payments, authorized._id);
  return {
    order: await transitionOrder(orderModule, order._id, 'paid', { paymentId: payment._id }),
    payment,
  };
}

const getOrder = (token: string, id: string) => call<Order>('GET', `/orders/${id}`, { token });
const listOrders = (token: string, query = '') =>
  call<{ items: Order[]; nextCursor: string | null }>('GET', `/orders${query}`, { token });
const move = (token: string, id: string, body: Record<string, unknown>) =>
  call<Order>('POST', `/orders/${id}/status`, { token, body });
const refund = (token: string, id: string, reason: string, key?: string) =>
  call<Order>('POST', `/orders/${id}/refund`, {
    token,
    body: { reason },
    headers: key ? { 'idempotency-key': key } : {},
  });

describe('who sees which order', () => {
  test('a buyer sees their own orders only; another buyer’s is a 404', async () => {
    const [me, other] = [buyer(), buyer()];
    const mine = await seedOrder(me.id, [[coA, 1_000, 2]]);
    const theirs = await seedOrder(other.id, [[coA, 500, 1]]);
    const answer = await getOrder(me.token, mine._id);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      id: mine._id,
      buyerId: me.id,
      status: 'awaiting_payment',
      currency: 'EUR',
      total: 2_000,
      items: mine.items,
      history: [
        { from: null, to: 'pending' },
        { from: 'pending', to: 'awaiting_payment' },
      ],
    });
    expect(answer.body).not.toHaveProperty('outbox');
    expect((await getOrder(me.token, theirs._id)).status).toBe(404);
    expect((await getOrder(me.token, newId('ord'))).status).toBe(404);
    const listed = await listOrders(me.token);
    expect(listed.body.items.map((o) => o.id)).toEqual([mine._id]);
  });

  test('a seller sees the orders holding their items, and of those only their items and total', async () => {
    const shopper = buyer();
    const mixed = await seedOrder(shopper.id, [
      [coA, 1_000, 1],
      [coB, 700, 2],
      [coA, 250, 4],
    ]);
    const onlyB = await seedOrder(shopper.id, [[coB, 300, 1]]);
    const sellerA = sellerOf(coA);
    const seen = await getOrder(sellerA, mixed._id);
    expect(seen.status).toBe(200);
    expect(seen.body.items.map((i) => i.companyId)).toEqual([coA, coA]);
    expect(seen.body.total).toBe(1_000 + 1_000);
    expect((await getOrder(sellerA, onlyB._id)).status).toBe(404);
    expect((await getOrder(sellerOf(coC), mixed._id)).status).toBe(404);

    const listed = await listOrders(sellerA);
    const found = listed.body.items.find((o) => o.id === mixed._id);
    expect(found?.items.every((i) => i.companyId === coA)).toBe(true);
    expect(found?.total).toBe(2_000);
    expect(listed.body.items.map((o) => o.id)).not.toContain(onlyB._id);
    for (const order of listed.body.items)
      expect(order.items.every((i) => i.companyId === coA)).toBe(true);

    // A seller without a company in the token sees none.
    const stray = tenant.token({ sub: newId('usr'), roles: ['seller'] });
    expect((await getOrder(stray, mixed._id)).status).toBe(404);
    expect((await listOrders(stray)).body).toEqual({ items: [], nextCursor: null });
  });

  test('an admin sees every order whole', async () => {
    const [shopper, other] = [buyer(), buyer()];
    const mixed = await seedOrder(shopper.id, [
      [coA, 1_000, 1],
      [coB, 700, 2],
    ]);
    const single = await seedOrder(other.id, [[coC, 300, 1]], 'paid');
    const answer = await getOrder(admin(), mixed._id);
    expect(answer.body).toMatchObject({ total: 2_400, items: mixed.items, buyerId: shopper.id });
    const all = await listOrders(admin(), '?limit=3');
    expect(all.body.items.slice(0, 2).map((o) => [o.id, o.buyerId, o.total])).toEqual([
      [single._id, other.id, 300],
      [mixed._id, shopper.id, 2_400],
    ]);
    const paid = await listOrders(admin(), '?status=paid&limit=100');
    expect(paid.body.items.map((o) => o.id)).toContain(single._id);
    expect(paid.body.items.every((o) => o.status === 'paid')).toBe(true);
  });

  test('lists page newest first, with a status filter', async () => {
    const me = buyer();
    const made: OrderDoc[] = [];
    for (const status of ['awaiting_payment', 'paid', 'cancelled', 'paid', 'delivered'] as const)
      made.push(await seedOrder(me.id, [[coA, 100, 1]], status));
    const newestFirst = made.map((o) => o._id).reverse();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const answer = await listOrders(me.token, query);
      expect(answer.status).toBe(200);
      expect(answer.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...answer.body.items.map((o) => o.id));
      cursor = answer.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(newestFirst);
    expect(pages).toBe(3);

    const paid = await listOrders(me.token, '?status=paid');
    expect(paid.body.items.map((o) => o.id)).toEqual([made[3]!._id, made[1]!._id]);
    const paidPage = await listOrders(me.token, '?status=paid&limit=1');
    expect(paidPage.body.items.map((o) => o.id)).toEqual([made[3]!._id]);
    const rest = await listOrders(
      me.token,
      `?status=paid&limit=1&cursor=${paidPage.body.nextCursor ?? ''}`,
    );
    expect(rest.body).toMatchObject({ items: [{ id: made[1]!._id }], nextCursor: null });
  });

  test('bad ids, statuses and limits are 400; a foreign cursor 422; forged tokens 401; no token 401', async () => {
    const me = buyer();
    expect((await getOrder(me.token, 'ord_123')).status).toBe(400);
    expect((await getOrder(me.token, newId('pay'))).status).toBe(400);
    expect((await listOrders(me.token, '?status=shipped')).status).toBe(400);
    expect((await listOrders(me.token, '?limit=0')).status).toBe(400);
    expect((await listOrders(me.token, '?limit=101')).status).toBe(400);
    expect((await listOrders(me.token, '?cursor=bm9wZQ')).status).toBe(422);
    expect((await listOrders(me.token, '?sort=total')).status).toBe(400);
    expect((await listOrders(me.token, '?buyerId[$ne]=x')).status).toBe(400);

    const order = await seedOrder(me.id, [[coA, 100, 1]]);
    expect((await call('GET', '/orders')).status).toBe(401);
    expect((await call('GET', `/orders/${order._id}`)).status).toBe(401);
    for (const forged of forgedTokens(tenant, { sub: 'usr_admin', roles: ['admin'] })) {
      const statuses = [
        (await listOrders(forged.token)).status,
        (await getOrder(forged.token, order._id)).status,
        (await move(forged.token, order._id, { to: 'cancelled' })).status,
        (await refund(forged.token, order._id, 'forged', randomUUID())).status,
      ];
      expect({ why: forged.why, statuses }).toEqual({
        why: forged.why,
        statuses: [401, 401, 401, 401],
      });
    }
    expect((await orderModule.store.orders.findOne({ _id: order._id }))?.status).toBe(
      'awaiting_payment',
    );
  });
});

describe('moving an order along', () => {
  test('an admin fulfils and delivers a paid order, each move in its history', async () => {
    const { order } = await paidOrder(buyer().id, [[coA, 900, 1]]);
    const fulfilled = await move(admin(), order._id, { to: 'fulfilled', reason: 'Sent by post' });
    expect(fulfilled).toMatchObject({ status: 200, body: { status: 'fulfilled' } });
    const delivered = await move(admin(), order._id, { to: 'delivered' });
    expect(delivered.body.status).toBe('delivered');
    expect(delivered.body.history.map((h) => [h.from, h.to, h.reason])).toEqual([
      [null, 'pending', undefined],
      ['pending', 'awaiting_payment', undefined],
      ['awaiting_payment', 'paid', undefined],
      ['paid', 'fulfilled', 'Sent by post'],
      ['fulfilled', 'delivered', undefined],
    ]);
    // Asking for where it already is changes nothing.
    const again = await move(admin(), order._id, { to: 'delivered' });
    expect(again.body.history).toHaveLength(5);
  });

  test('an admin cancels an unpaid order', async () => {
    const order = await seedOrder(buyer().id, [[coA, 900, 1]]);
    const cancelled = await move(admin(), order._id, { to: 'cancelled', reason: 'Out of stock' });
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    expect(cancelled.body.history.at(-1)).toMatchObject({
      from: 'awaiting_payment',
      to: 'cancelled',
      reason: 'Out of stock',
    });
  });

  test.each([
    ['cancel a paid order', 'paid', 'cancelled', ['fulfilled', 'refunded']],
    ['deliver a pending order', 'pending', 'delivered', ['awaiting_payment', 'cancelled']],
    ['fulfil an unpaid order', 'awaiting_payment', 'fulfilled', ['paid', 'cancelled']],
    ['deliver a cancelled order', 'cancelled', 'delivered', []],
  ] as const)('to %s is a 409 naming from, to and allowed', async (_why, from, to, allowed) => {
    const order = await seedOrder(buyer().id, [[coA, 100, 1]], from);
    const answer = await move(admin(), order._id, { to });
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ status: 409, from, to, allowed });
    expect((await orderModule.store.orders.findOne({ _id: order._id }))?.status).toBe(from);
  });

  test('a seller fulfils and delivers orders wholly theirs, never cancels, never others', async () => {
    const shopper = buyer();
    const sellerA = sellerOf(coA);
    const { order: own } = await paidOrder(shopper.id, [
      [coA, 400, 1],
      [coA, 600, 1],
    ]);
    const fulfilled = await move(sellerA, own._id, { to: 'fulfilled' });
    expect(fulfilled).toMatchObject({ status: 200, body: { status: 'fulfilled', total: 1_000 } });
    expect((await move(sellerA, own._id, { to: 'delivered' })).body.status).toBe('delivered');

    const unpaid = await seedOrder(shopper.id, [[coA, 400, 1]]);
    expect((await move(sellerA, unpaid._id, { to: 'cancelled' })).status).toBe(403);
    const { order: shared } = await paidOrder(shopper.id, [
      [coA, 400, 1],
      [coB, 600, 1],
    ]);
    expect((await move(sellerA, shared._id, { to: 'fulfilled' })).status).toBe(403);
    const { order: foreign } = await paidOrder(shopper.id, [[coB, 400, 1]]);
    expect((await move(sellerA, foreign._id, { to: 'fulfilled' })).status).toBe(404);
    expect((await move(shopper.token, own._id, { to: 'delivered' })).status).toBe(403);

    const statuses = await orderModule.store.orders
      .find({ _id: { $in: [unpaid._id, shared._id, foreign._id] } })
      .map((o) => o.status)
      .toArray();
    expect(statuses.sort()).toEqual(['awaiting_payment', 'paid', 'paid']);
  });

  test.each([
    ['a status that is not a move', { to: 'paid' }],
    ['refunding through it', { to: 'refunded' }],
    ['an unknown field', { to: 'fulfilled', by: 'me' }],
    ['an empty reason', { to: 'fulfilled', reason: '   ' }],
    ['no target', {}],
  ])('%s is a 400', async (_why, body) => {
    const { order } = await paidOrder(buyer().id, [[coA, 100, 1]]);
    const answer = await move(admin(), order._id, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ errors: [expect.objectContaining({ in: 'body' })] });
  });
});

describe('refunds', () => {
  const paymentDoc = (id: string) =>
    tenant.db.collection<PaymentDoc>('payments').findOne({ _id: id });

  test('refund a paid order: payment and order refunded, once per key', async () => {
    const shopper = buyer();
    const { order, payment } = await paidOrder(shopper.id, [
      [coA, 1_500, 2],
      [coB, 500, 1],
    ]);
    expect(payment).toMatchObject({ status: 'captured', captured: 3_500 });

    const missing = await refund(admin(), order._id, 'Damaged');
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errors: [{ in: 'headers', path: 'idempotency-key' }] });

    const key = randomUUID();
    const first = await refund(admin(), order._id, 'Damaged', key);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id: order._id, status: 'refunded', total: 3_500 });
    expect(first.body.history.at(-1)).toMatchObject({
      from: 'paid',
      to: 'refunded',
      reason: 'Damaged',
    });
    expect(await paymentDoc(payment._id)).toMatchObject({
      status: 'refunded',
      captured: 3_500,
      refunded: 3_500,
      refunds: [expect.objectContaining({ amount: 3_500, reason: 'Damaged' })],
    });

    const replay = await refund(admin(), order._id, 'Damaged', key);
    expect(replay).toMatchObject({ status: 200, body: first.body });
    const otherBody = await refund(admin(), order._id, 'Changed my mind', key);
    expect(otherBody.status).toBe(422);
    // Another key for a refunded order: the order as it is, nothing refunded again.
    const anotherKey = await refund(admin(), order._id, 'Damaged', randomUUID());
    expect(anotherKey).toMatchObject({ status: 200, body: { status: 'refunded' } });
    expect((await paymentDoc(payment._id))?.refunds).toHaveLength(1);
    const ledger = await tenant.db
      .collection<{ refunds: unknown[] }>('simulated_provider_ledger')
      .findOne({ _id: payment.authorizationKey as never });
    expect(ledger?.refunds).toHaveLength(1);
  });

  test('two refunds of one order at once, under different keys: one refund', async () => {
    const { order, payment } = await paidOrder(buyer().id, [[coA, 1_200, 1]]);
    const answers = await Promise.all(
      ['Damaged', 'Late'].map((reason) => refund(admin(), order._id, reason, randomUUID())),
    );
    expect(answers.map((a) => [a.status, a.body.status])).toEqual([
      [200, 'refunded'],
      [200, 'refunded'],
    ]);
    expect(await paymentDoc(payment._id)).toMatchObject({
      status: 'refunded',
      refunded: 1_200,
      refunds: [expect.objectContaining({ amount: 1_200 })],
    });
    const stored = await orderModule.store.orders.findOne({ _id: order._id });
    expect(stored?.history.filter((h) => h.to === 'refunded')).toHaveLength(1);
  });

  test('a refund whose request died in flight: once its claim is stale, the same key refunds', async () => {
    const { order, payment } = await paidOrder(buyer().id, [[coA, 900, 1]]);
    const key = randomUUID();
    // What a process that died inside the refund left behind: the key claimed, long ago.
    const longAgo = new Date(Date.now() - 3_600_000);
    await service.deps.requests.claim(
      `usr_admin:${key}`,
      requestHash(service.deps.env.IDEMPOTENCY_HMAC_KEY, {
        op: 'refund',
        orderId: order._id,
        reason: 'Damaged',
      }),
      'a-run-that-died',
      longAgo,
    );
    const answer = await refund(admin(), order._id, 'Damaged', key);
    expect(answer).toMatchObject({ status: 200, body: { status: 'refunded' } });
    expect(await paymentDoc(payment._id)).toMatchObject({ status: 'refunded', refunded: 900 });
    expect(await refund(admin(), order._id, 'Damaged', key)).toMatchObject({ status: 200 });
  });

  test('a fulfilled or delivered order is refunded too', async () => {
    const { order, payment } = await paidOrder(buyer().id, [[coA, 800, 1]]);
    await transitionOrder(orderModule, order._id, 'fulfilled');
    await transitionOrder(orderModule, order._id, 'delivered');
    const answer = await refund(admin(), order._id, 'Returned', randomUUID());
    expect(answer.body.status).toBe('refunded');
    expect(await paymentDoc(payment._id)).toMatchObject({ status: 'refunded', refunded: 800 });
  });

  test('an order with nothing captured cannot be refunded (422), and stays as it was', async () => {
    const unpaid = await seedOrder(buyer().id, [[coA, 800, 1]]);
    expect((await refund(admin(), unpaid._id, 'Why', randomUUID())).status).toBe(422);
    const cancelled = await seedOrder(buyer().id, [[coA, 800, 1]], 'cancelled');
    expect((await refund(admin(), cancelled._id, 'Why', randomUUID())).status).toBe(422);
    // An authorization that was never captured has nothing to give back.
    const held = await seedOrder(buyer().id, [[coA, 800, 1]]);
    const authorized = await authorizePayment(payments, {
      key: randomUUID(),
      merchantReference: held.checkoutId,
      orderId: held._id,
      buyerId: held.buyerId,
      amount: held.total,
      currency: 'EUR',
      paymentMethod: (await createPaymentMethod(payments, held.buyerId, CARD)).id,
    });
    await orderModule.store.orders.updateOne(
      { _id: held._id },
      { $set: { paymentId: authorized._id } },
    );
    expect((await refund(admin(), held._id, 'Why', randomUUID())).status).toBe(422);
    const statuses = await orderModule.store.orders
      .find({ _id: { $in: [unpaid._id, cancelled._id, held._id] } })
      .map((o) => o.status)
      .toArray();
    expect(statuses.sort()).toEqual(['awaiting_payment', 'awaiting_payment', 'cancelled']);
    expect(await paymentDoc(authorized._id)).toMatchObject({ status: 'authorized', refunded: 0 });
  });

  test('only admins refund', async () => {
    const shopper = buyer();
    const { order } = await paidOrder(shopper.id, [[coA, 800, 1]]);
    expect((await refund(shopper.token, order._id, 'Mine', randomUUID())).status).toBe(403);
    expect((await refund(sellerOf(coA), order._id, 'Mine', randomUUID())).status).toBe(403);
    expect((await refund(admin(), newId('ord'), 'Who', randomUUID())).status).toBe(404);
    expect((await orderModule.store.orders.findOne({ _id: order._id }))?.status).toBe('paid');
  });
});

describe('the order_created and order_paid consumers', () => {
  /**
   * An order stored as checkout leaves it — paid, or cancelled (a declined card) or still
   * awaiting payment —, without events of its own.
   */
  async function storedOrder(
    status: 'paid' | 'cancelled' | 'awaiting_payment' = 'paid',
    orders: OrderModule = orderModule,
  ): Promise<OrderEvent> {
    const now = new Date();
    const lines = items([
      [coA, 1_000, 1],
      [coB, 450, 2],
      [coA, 300, 3],
    ]);
    const order: OrderDoc = {
      _id: newId('ord'),
      checkoutId: newId('chk'),
      buyerId: newId('usr'),
      items: lines,
      companyIds: [coA, coB].sort(),
      currency: 'EUR',
      total: lines.reduce((sum, l) => sum + l.lineTotal, 0),
      status,
      ...(status === 'paid' ? { paymentId: newId('pay') } : {}),
      history: [{ from: null, to: 'pending', at: now }],
      version: 4,
      createdAt: now,
      updatedAt: now,
    };
    await orders.store.orders.insertOne(order);
    return {
      orderId: order._id,
      buyerId: order.buyerId,
      companyIds: order.companyIds,
      items: order.items,
      total: order.total,
      currency: order.currency,
      paymentId: order.paymentId,
    };
  }

  const envelope = (type: string, data: unknown, id: string = randomUUID()): EventEnvelope => ({
    id,
    type,
    occurredAt: new Date().toISOString(),
    data,
  });

  async function publish(event: EventEnvelope): Promise<void> {
    await tenant.publish(
      'order_exchange',
      event.type,
      Buffer.from(JSON.stringify(event)),
      event.id,
    );
  }

  /**
   * Notices about `orderId` (or any of several) taken off email_notifications, until
   * `done` says enough.
   */
  async function noticesFor(
    orderId: string | string[],
    done: (types: string[]) => boolean,
    { of = tenant, timeoutMs = 30_000 } = {},
  ): Promise<EventEnvelope[]> {
    const orderIds = [orderId].flat();
    const seen: EventEnvelope[] = [];
    const mine = () =>
      seen.filter((e) =>
        orderIds.includes((e.data as { orderId?: string } | undefined)?.orderId ?? ''),
      );
    await eventually({ what: `notices of ${orderIds.join(', ')}`, timeoutMs }, async () => {
      for (const m of await of.drain('email_notifications')) seen.push(m.body as EventEnvelope);
      return done(mine().map((e) => e.type)) ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1_000)); // room for a duplicate to show
    for (const m of await of.drain('email_notifications')) seen.push(m.body as EventEnvelope);
    return mine();
  }

  const count = (types: string[], type: string) => types.filter((t) => t === type).length;

  test('each event twice: one confirmation, then one receipt, one shipment per company', async () => {
    const event = await storedOrder();
    const created = envelope('order.created', event);
    await publish(created);
    await publish(created); // the same message again
    await publish(envelope('order.created', event)); // the same event under another id
    const confirmation = await noticesFor(event.orderId, (t) => t.includes('order.confirmation'));
    expect(confirmation.map((e) => e.type)).toEqual(['order.confirmation']);
    expect(confirmation[0]?.data).toMatchObject({
      orderId: event.orderId,
      buyerId: event.buyerId,
      total: event.total,
      currency: 'EUR',
      items: event.items,
    });

    const paid = envelope('order.paid', event);
    await publish(paid);
    await publish(paid);
    await publish(envelope('order.paid', event));
    const after = await noticesFor(
      event.orderId,
      (t) => t.includes('payment.receipt') && count(t, 'shipment.ready') >= 2,
    );
    const types = after.map((e) => e.type);
    expect(count(types, 'payment.receipt')).toBe(1);
    expect(count(types, 'shipment.ready')).toBe(2);
    expect(count(types, 'order.confirmation')).toBe(0);
    expect(after.find((e) => e.type === 'payment.receipt')?.data).toMatchObject({
      orderId: event.orderId,
      buyerId: event.buyerId,
      paymentId: event.paymentId,
      total: event.total,
    });
    const shipmentNotices = after
      .filter((e) => e.type === 'shipment.ready')
      .map((e) => e.data as { companyId: string; items: { sku: string }[] });
    expect(shipmentNotices.map((n) => n.companyId).sort()).toEqual([coA, coB].sort());

    const shipments = await orderModule.store.shipments
      .find({ orderId: event.orderId }, { projection: { outbox: 0 } })
      .sort({ companyId: 1 })
      .toArray();
    expect(shipments).toHaveLength(2);
    for (const shipment of shipments) {
      const expected = event.items
        .filter((i) => i.companyId === shipment.companyId)
        .map((i) => ({ productId: i.productId, sku: i.sku, name: i.name, quantity: i.quantity }));
      expect(shipment).toMatchObject({
        _id: `${event.orderId}:${shipment.companyId}`,
        status: 'ready_to_ship',
        items: expected,
      });
    }
    expect(shipments.find((s) => s.companyId === coA)?.items).toHaveLength(2);
  });

  test('no order confirmation for an order never paid (a declined card, awaiting payment); once paid, the confirmation and then the receipt', async () => {
    const declined = await storedOrder('cancelled');
    const awaiting = await storedOrder('awaiting_payment');
    await publish(envelope('order.created', declined));
    await publish(envelope('order.created', awaiting));
    // A paid order's event after theirs: once its confirmation is out, theirs were handled.
    const paid = await storedOrder();
    await publish(envelope('order.created', paid));
    const notices = await noticesFor(
      [declined, awaiting, paid].map((o) => o.orderId),
      (t) => t.includes('order.confirmation'),
    );
    expect(notices.map((e) => [e.type, (e.data as OrderEvent).orderId])).toEqual([
      ['order.confirmation', paid.orderId],
    ]);
    for (const unpaid of [declined, awaiting]) {
      const order = await orderModule.store.orders.findOne({ _id: unpaid.orderId });
      expect(order?.confirmationQueued).toBeUndefined();
    }
    // Paid after all: the confirmation comes with the payment, before its receipt.
    const paymentId = newId('pay');
    await orderModule.store.orders.updateOne(
      { _id: awaiting.orderId },
      { $set: { status: 'paid', paymentId } },
    );
    await publish(envelope('order.paid', { ...awaiting, paymentId }));
    const later = await noticesFor(awaiting.orderId, (t) => t.includes('payment.receipt'));
    expect(later.map((e) => e.type).filter((t) => t !== 'shipment.ready')).toEqual([
      'order.confirmation',
      'payment.receipt',
    ]);
  });

  test('order.paid before order.created: the confirmation still comes first, each once', async () => {
    const event = await storedOrder();
    await publish(envelope('order.paid', event));
    const early = await noticesFor(
      event.orderId,
      (t) => t.includes('payment.receipt') && count(t, 'shipment.ready') >= 2,
    );
    await publish(envelope('order.created', event));
    await new Promise((r) => setTimeout(r, 1_000)); // the late order.created is consumed
    const late = await noticesFor(event.orderId, () => true);
    const buyerNotices = [...early, ...late]
      .map((e) => e.type)
      .filter((t) => t !== 'shipment.ready');
    expect(buyerNotices).toEqual(['order.confirmation', 'payment.receipt']);
  });

  test('60 s without the database while an order.paid is queued: then one shipment per company and one receipt', async () => {
    // A tenant of its own, whose orders service reaches the database through a cable
    // this test pulls: the other tests' service would take the event otherwise.
    const own = await TestTenant.create('orders-outage');
    const cable = await tcpCable(own.mongoUri);
    const outage = await startTestService(ordersService, own, 'orders', {
      PAYMENT_PROVIDER: 'simulated',
      MONGODB_URI: cable.url,
    });
    try {
      const ownOrders = createOrderModule(own.db, outage.deps.outbox);
      const event = await storedOrder('paid', ownOrders);
      const paid = envelope('order.paid', event);
      cable.connected(false);
      await eventually(
        { what: 'orders not ready without its database', timeoutMs: 30_000 },
        async () => {
          const answer = await client(outage.url)<{ failing?: string[] }>('GET', '/readyz');
          return answer.body.failing?.some((f) => f.startsWith('mongodb:')) ? true : undefined;
        },
      );
      await own.publish('order_exchange', 'order.paid', Buffer.from(JSON.stringify(paid)), paid.id);
      await new Promise((r) => setTimeout(r, 60_000));
      // Every try failed, and none of them counted: nothing was dead-lettered.
      expect(await own.drain('order_paid.dlq')).toEqual([]);
      cable.connected(true);

      const notices = await noticesFor(
        event.orderId,
        (t) => t.includes('payment.receipt') && count(t, 'shipment.ready') >= 2,
        { of: own, timeoutMs: 60_000 },
      );
      const types = notices.map((e) => e.type);
      expect(count(types, 'payment.receipt')).toBe(1);
      expect(count(types, 'shipment.ready')).toBe(2);
      expect(await ownOrders.store.shipments.countDocuments({ orderId: event.orderId })).toBe(2);
      expect(await own.drain('order_paid.dlq')).toEqual([]);
    } finally {
      cable.connected(true);
      await outage.close();
      await cable.close();
      await own.destroy();
    }
  }, 180_000);

  /** Messages dead-lettered into `queue`, with why the broker dead-lettered each. */
  async function deadLetters(queue: string): Promise<{ body: string; reason: unknown }[]> {
    const model = await connect(tenant.amqpUrl);
    try {
      const channel = await model.createChannel();
      const found: { body: string; reason: unknown }[] = [];
      for (;;) {
        const message = await channel.get(queue, { noAck: true });
        if (message === false) return found;
        const deaths = message.properties.headers?.['x-death'] as
          { reason?: unknown }[] | undefined;
        found.push({ body: message.content.toString('utf8'), reason: deaths?.[0]?.reason });
      }
    } finally {
      await model.close();
    }
  }

  async function deadLettered(queue: string, marker: string): Promise<{ reason: unknown }> {
    const seen: { body: string; reason: unknown }[] = [];
    return eventually({ what: `${marker} in ${queue}`, timeoutMs: 30_000 }, async () => {
      seen.push(...(await deadLetters(queue)));
      return seen.find((m) => m.body.includes(marker));
    });
  }

  test('a message that is not an event goes to order_paid.dlq at once', async () => {
    const marker = `not-json-${randomUUID()}`;
    await tenant.publish('order_exchange', 'order.paid', Buffer.from(`{${marker}`), marker);
    // Rejected by the consumer, not retried up to the queue's delivery limit.
    expect((await deadLettered('order_paid.dlq', marker)).reason).toBe('rejected');
  });

  test('an event that breaks the order event contract goes to the DLQ at once, touching nothing', async () => {
    const event = await storedOrder();
    const { companyIds: _dropped, ...withoutCompanies } = event;
    const broken = envelope('order.paid', withoutCompanies);
    await publish(broken);
    expect((await deadLettered('order_paid.dlq', broken.id)).reason).toBe('rejected');
    const noItems = envelope('order.created', { ...event, items: 'none' });
    await publish(noItems);
    expect((await deadLettered('order_created.dlq', noItems.id)).reason).toBe('rejected');
    expect(await orderModule.store.shipments.countDocuments({ orderId: event.orderId })).toBe(0);
    const order = await orderModule.store.orders.findOne({ _id: event.orderId });
    expect(order?.receiptQueued).toBeUndefined();
    expect(order?.confirmationQueued).toBeUndefined();
  });
});

test('serves its OpenAPI document, and the checked-in copy is up to date', async () => {
  await expectOpenApiUpToDate(ordersService, join(import.meta.dirname, '..'), call);
});

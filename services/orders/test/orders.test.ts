// What order writes tell the outbox port, without I/O: an in-memory orders collection
// and a recorder in place of the relay. The created and paid events are announced as
// soon as they are stored, with the outbox as written (an order made awaiting payment by
// its next move); moves that carry no event are not.
// And a move from the order as the caller holds it reads nothing first.
import type { Collection } from 'mongodb';
import type { Outbox } from '@gorten/kit';
import { createOrder, transitionOrder, type OrderModule } from '../src/orders.js';
import type { OrderDoc, ShipmentDoc } from '../src/store.js';

function opsWithRecorder(): {
  orderModule: OrderModule;
  announced: string[];
  written: (string | undefined)[][];
  reads: () => number;
} {
  const docs = new Map<string, OrderDoc>();
  let reads = 0;
  const orders = {
    namespace: 'mp.orders',
    insertOne: (doc: OrderDoc) => Promise.resolve(void docs.set(doc._id, doc)),
    findOne: (filter: { _id: string }) => {
      reads++;
      return Promise.resolve(docs.get(filter._id) ?? null);
    },
    findOneAndUpdate: (
      filter: { _id: string; version: number },
      update: { $set: Partial<OrderDoc>; $push?: { outbox: NonNullable<OrderDoc['outbox']>[0] } },
    ) => {
      const doc = docs.get(filter._id);
      if (doc?.version !== filter.version) return Promise.resolve(null);
      const outbox = [...(doc.outbox ?? []), ...(update.$push ? [update.$push.outbox] : [])];
      const after = { ...doc, ...update.$set, outbox };
      docs.set(filter._id, after);
      return Promise.resolve(after);
    },
  };
  const announced: string[] = [];
  const written: (string | undefined)[][] = [];
  const recorder: Outbox = {
    announce: (collection, id, outbox) => {
      announced.push(`${collection.namespace} ${id}`);
      written.push((outbox ?? []).map((e) => e.event.type));
    },
  };
  const orderModule: OrderModule = {
    store: {
      orders: orders as unknown as Collection<OrderDoc>,
      shipments: {} as Collection<ShipmentDoc>,
    },
    outbox: recorder,
    now: () => new Date(),
  };
  return { orderModule, announced, written, reads: () => reads };
}

const ITEM = {
  productId: 'prd_1',
  companyId: 'co_1',
  sku: 'SKU-1',
  name: 'Kettle',
  unitPrice: 2_500,
  quantity: 2,
  lineTotal: 5_000,
};

test('order.created and order.paid are announced once each, the moves between them not', async () => {
  const { orderModule, announced } = opsWithRecorder();
  const order = await createOrder(orderModule, {
    checkoutId: 'chk_1',
    buyerId: 'usr_1',
    items: [ITEM],
    currency: 'EUR',
  });
  expect(announced).toEqual([`mp.orders ${order._id}`]);
  await transitionOrder(orderModule, order._id, 'awaiting_payment');
  expect(announced).toHaveLength(1);
  await transitionOrder(orderModule, order._id, 'paid', { paymentId: 'pay_1' });
  expect(announced).toEqual([`mp.orders ${order._id}`, `mp.orders ${order._id}`]);
  await transitionOrder(orderModule, order._id, 'paid'); // already there: nothing written
  await transitionOrder(orderModule, order._id, 'fulfilled');
  expect(announced).toHaveLength(2);
});

test('an order made awaiting payment and cancelled announces its order.created with the cancel', async () => {
  const { orderModule, written } = opsWithRecorder();
  const order = await createOrder(orderModule, {
    checkoutId: 'chk_3',
    buyerId: 'usr_1',
    items: [ITEM],
    currency: 'EUR',
    awaitingPayment: true,
  });
  expect(written).toEqual([]);
  await transitionOrder(orderModule, order._id, 'cancelled', { reason: 'payment_declined' }, order);
  expect(written).toEqual([['order.created']]);
});

test('each announcement carries the outbox its write left; an order made awaiting payment and moved as held is never read', async () => {
  const { orderModule, written, reads } = opsWithRecorder();
  const order = await createOrder(orderModule, {
    checkoutId: 'chk_2',
    buyerId: 'usr_1',
    items: [ITEM],
    currency: 'EUR',
    awaitingPayment: true,
  });
  expect(order.status).toBe('awaiting_payment');
  expect(order.history.map((h) => h.to)).toEqual(['pending', 'awaiting_payment']);
  const paid = await transitionOrder(orderModule, order._id, 'paid', { paymentId: 'pay_1' }, order);
  expect(paid).toMatchObject({ status: 'paid', paymentId: 'pay_1', version: 2 });
  // Made awaiting payment, its order.created is announced with the move that follows.
  expect(written).toEqual([['order.created', 'order.paid']]);
  expect(reads()).toBe(0);
  // Held as it was before it moved: the version is stale, so the order is read.
  await transitionOrder(orderModule, order._id, 'fulfilled', {}, order);
  expect(reads()).toBe(1);
});

// What order writes tell the outbox port, without I/O: an in-memory orders collection
// and a recorder in place of the relay. The created and paid events are announced as
// soon as they are stored; moves that carry no event are not.
import type { Collection } from 'mongodb';
import type { Outbox } from '@gorten/kit';
import { createOrder, transitionOrder, type OrderModule } from '../src/orders.js';
import type { OrderDoc, ShipmentDoc } from '../src/store.js';

function opsWithRecorder(): { orderModule: OrderModule; announced: string[] } {
  const docs = new Map<string, OrderDoc>();
  const orders = {
    namespace: 'mp.orders',
    insertOne: (doc: OrderDoc) => Promise.resolve(void docs.set(doc._id, doc)),
    findOne: (filter: { _id: string }) => Promise.resolve(docs.get(filter._id) ?? null),
    updateOne: (filter: { _id: string; version: number }, update: { $set: Partial<OrderDoc> }) => {
      const doc = docs.get(filter._id);
      if (doc?.version !== filter.version) return Promise.resolve({ matchedCount: 0 });
      docs.set(filter._id, { ...doc, ...update.$set });
      return Promise.resolve({ matchedCount: 1 });
    },
  };
  const announced: string[] = [];
  const recorder: Outbox = {
    announce: (collection, id) => announced.push(`${collection.namespace} ${id}`),
  };
  const orderModule: OrderModule = {
    store: {
      orders: orders as unknown as Collection<OrderDoc>,
      shipments: {} as Collection<ShipmentDoc>,
    },
    outbox: recorder,
    now: () => new Date(),
  };
  return { orderModule, announced };
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

// The order_created and order_paid consumers: what follows an order outside checkout.
// - order.created → the buyer's order confirmation is queued (notification_exchange).
// - order.paid → one shipment hand-off per company in the order (what its seller must
//   ship, with a notice to the seller), and the buyer's payment receipt.
// Each write is conditional or keyed (a flag, a unique _id), so a redelivered event adds
// nothing; the notices ride in the outbox of the document the write creates or flags.
import { MongoServerError } from 'mongodb';
import { outboxEntry, PoisonMessage, type EventEnvelope } from '@gorten/kit';
import type { OrderEvent, OrderOps } from './orders.js';
import type { ShipmentDoc } from './store.js';

function orderEventOf(envelope: EventEnvelope): OrderEvent {
  const data = envelope.data as Partial<OrderEvent> | undefined;
  if (typeof data?.orderId !== 'string' || !Array.isArray(data.items))
    throw new PoisonMessage(`${envelope.type} ${envelope.id} has no order`);
  return data as OrderEvent;
}

const notice = (type: string, data: unknown) =>
  outboxEntry('notification_exchange', type, type, data);

export async function onOrderCreated(ops: OrderOps, envelope: EventEnvelope): Promise<void> {
  const event = orderEventOf(envelope);
  await ops.store.orders.updateOne(
    { _id: event.orderId, confirmationQueued: { $ne: true } },
    {
      $set: { confirmationQueued: true },
      $push: { outbox: notice('order.confirmation', event) },
    },
  );
}

export async function onOrderPaid(ops: OrderOps, envelope: EventEnvelope): Promise<void> {
  const event = orderEventOf(envelope);
  for (const companyId of event.companyIds) {
    const shipment: ShipmentDoc = {
      _id: `${event.orderId}:${companyId}`,
      orderId: event.orderId,
      companyId,
      items: event.items
        .filter((i) => i.companyId === companyId)
        .map((i) => ({ productId: i.productId, sku: i.sku, name: i.name, quantity: i.quantity })),
      status: 'ready_to_ship',
      createdAt: ops.now(),
    };
    shipment.outbox = [
      notice('shipment.ready', { orderId: event.orderId, companyId, items: shipment.items }),
    ];
    try {
      await ops.store.shipments.insertOne(shipment);
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 11000)) throw err; // handed off before
    }
  }
  await ops.store.orders.updateOne(
    { _id: event.orderId, receiptQueued: { $ne: true } },
    { $set: { receiptQueued: true }, $push: { outbox: notice('payment.receipt', event) } },
  );
}

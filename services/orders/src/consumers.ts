// The order_created and order_paid consumers: what follows an order outside checkout.
// The buyer is thanked only for an order that happens: one that was paid. Checkout makes
// the order before it charges, so most orders are unpaid when order.created arrives, and
// many never are paid (a declined card, a provider that did not answer, a crash undone).
// - order.created → the buyer's order confirmation is queued (notification_exchange) if
//   the order has been paid by then; otherwise nothing: order.paid brings it.
// - order.paid → one shipment hand-off per company in the order (what its seller must
//   ship, with a notice to the seller), and the buyer's payment receipt — preceded by the
//   confirmation if it has not been queued yet, so that the buyer never gets the receipt
//   of an order before its confirmation (the two queues are consumed apart).
// Each write is conditional or keyed (a flag, a unique _id), so a redelivered event adds
// nothing; the notices ride in the outbox of the document the write creates or flags.
// An event that breaks the OrderEvent contract is poison: no retry can help it.
import { isDuplicateKey, outboxEntry, PoisonMessage, type EventEnvelope } from '@gorten/kit';
import { z } from 'zod';
import type { OrderEvent, OrderModule } from './orders.js';
import { orderItem } from './schemas.js';
import type { ShipmentDoc } from './store.js';

const orderEvent = z.object({
  orderId: z.string().min(1),
  buyerId: z.string().min(1),
  companyIds: z.array(z.string().min(1)).min(1),
  items: z.array(orderItem.extend({ quantity: z.number().int().positive() })).min(1),
  total: z.number().int(),
  currency: z.string(),
  paymentId: z.string().optional(),
}) satisfies z.ZodType<OrderEvent>;

function orderEventOf(envelope: EventEnvelope): OrderEvent {
  const parsed = orderEvent.safeParse(envelope.data);
  if (!parsed.success)
    throw new PoisonMessage(
      `${envelope.type} ${envelope.id} is not an order event: ${parsed.error.message}`,
    );
  return parsed.data;
}

const notice = (type: string, data: unknown) =>
  outboxEntry('notification_exchange', type, type, data);

export async function onOrderCreated(orders: OrderModule, envelope: EventEnvelope): Promise<void> {
  const event = orderEventOf(envelope);
  // Paid: the move to paid records the payment (and a cancelled order was never paid).
  await orders.store.orders.updateOne(
    { _id: event.orderId, paymentId: { $exists: true }, confirmationQueued: { $ne: true } },
    {
      $set: { confirmationQueued: true },
      $push: { outbox: notice('order.confirmation', event) },
    },
  );
}

export async function onOrderPaid(orders: OrderModule, envelope: EventEnvelope): Promise<void> {
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
      createdAt: orders.now(),
    };
    shipment.outbox = [
      notice('shipment.ready', { orderId: event.orderId, companyId, items: shipment.items }),
    ];
    try {
      await orders.store.shipments.insertOne(shipment);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // handed off before
    }
  }
  // The confirmation first if it is still owed: both in one update, in that order.
  const both = await orders.store.orders.updateOne(
    { _id: event.orderId, receiptQueued: { $ne: true }, confirmationQueued: { $ne: true } },
    {
      $set: { confirmationQueued: true, receiptQueued: true },
      $push: {
        outbox: {
          $each: [notice('order.confirmation', event), notice('payment.receipt', event)],
        },
      },
    },
  );
  if (both.matchedCount === 1) return;
  await orders.store.orders.updateOne(
    { _id: event.orderId, receiptQueued: { $ne: true } },
    { $set: { receiptQueued: true }, $push: { outbox: notice('payment.receipt', event) } },
  );
}
